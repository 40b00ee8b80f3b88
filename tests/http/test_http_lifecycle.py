# SPDX-License-Identifier: MIT
"""The HTTP listener's own behaviour: no Nagle stalls on small responses, and open streams end
with `unavailable` (so clients reconnect from their last seq) when the server stops."""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path

import httpx
import pytest
from http_helpers import (
    SERVICE,
    HttpServerProcess,
    create_job,
    envelope,
    read_envelopes,
    watch_to_end,
)

pytestmark = pytest.mark.timeout(120)


def test_small_responses_are_not_delayed_by_nagle(http_server: HttpServerProcess) -> None:
    # Headers and body go out in two writes; without TCP_NODELAY the second waits ~40 ms for
    # the client's delayed ACK. The fastest of 20 calls shows it even on a loaded machine.
    with httpx.Client(base_url=http_server.url) as client:
        samples = []
        for _ in range(20):
            started = time.perf_counter()
            client.post(SERVICE + "GetServerInfo", json={}).raise_for_status()
            samples.append(time.perf_counter() - started)
    assert min(samples) < 0.025, sorted(samples)[:5]


def test_healthz_reports_serving_once_the_backend_is_loaded(
    http_server: HttpServerProcess,
) -> None:
    response = httpx.get(http_server.url + "/healthz")
    assert (response.status_code, response.json()) == (200, {"status": "SERVING"})


def test_a_client_hanging_up_stops_its_stream_but_not_the_job(
    http_server: HttpServerProcess, apple_b64: str
) -> None:
    job = create_job(http_server.url, apple_b64, displayName="hangup", seed="61")
    before = http_server.log_path.read_text().count("WatchJob: client hung up")
    with httpx.stream(
        "POST",
        http_server.url + SERVICE + "WatchJob",
        content=envelope(json.dumps({"name": job["name"]}).encode()),
        headers={"content-type": "application/connect+json"},
    ) as response:
        next(read_envelopes(response.iter_bytes()))  # the queued event, then hang up
    deadline = time.monotonic() + 10
    while http_server.log_path.read_text().count("WatchJob: client hung up") == before:
        assert time.monotonic() < deadline, "the server did not notice the hang-up"
        time.sleep(0.05)
    events = watch_to_end(http_server.url, job["name"])
    assert "completed" in events[-1]


def test_stopping_the_server_ends_open_streams_with_unavailable(
    tmp_path: Path, apple_b64: str
) -> None:
    server = HttpServerProcess(tmp_path / "data").start()
    try:
        for seed in range(4):  # keep the one worker busy so the watched job stays queued
            create_job(server.url, apple_b64, seed=str(seed))
        job = create_job(server.url, apple_b64, seed="99")
        ends: list[dict] = []
        opened = threading.Event()

        def watch() -> None:
            with httpx.stream(
                "POST",
                server.url + SERVICE + "WatchJob",
                content=envelope(json.dumps({"name": job["name"]}).encode()),
                headers={"content-type": "application/connect+json"},
                timeout=60,
            ) as response:
                for flags, payload in read_envelopes(response.iter_bytes()):
                    opened.set()
                    if flags & 0x02:
                        ends.append(json.loads(payload))

        watcher = threading.Thread(target=watch)
        watcher.start()
        assert opened.wait(30)
        server.stop()
        watcher.join(30)
        assert ends and ends[0]["error"]["code"] == "unavailable", ends
    finally:
        server.stop()
