# SPDX-License-Identifier: MIT
"""Helpers for the HTTP/Connect tests: a real server subprocess with both listeners on
127.0.0.1, Connect envelopes, and small request builders. (Not conftest.py, so tests can
import them by a unique module name.)"""

from __future__ import annotations

import json
import os
import struct
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
from process_utils import stop_process_group

SERVICE = "/trellis2.v1.AssetGenerationService/"
# API keys of the keyed_server fixture (teams alpha and beta).
ALPHA_KEY = "key-alpha-0123456789"
BETA_KEY = "key-beta-9876543210"
# Small outputs keep one preview job around a second on two cores.
SMALL_EXPORT = {"textureSize": 256, "decimationTarget": 2000}

# start_server + SIGTERM handling, like `trellis2 serve`, but printing both bound ports.
_RUNNER = """
import asyncio, logging, signal, sys
from trellis2_server.config import parse_sequence
from trellis2_server.server import start_server

async def main():
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    logging.getLogger("trellis2_server.api.connect").setLevel(logging.DEBUG)
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    running = await start_server(parse_sequence(sys.argv[2:]), backend_factory=sys.argv[1] or None)
    print(f"ports {running.grpc_port} {running.http_port}", flush=True)
    await stop.wait()
    await running.stop(2.0)

asyncio.run(main())
"""


class HttpServerProcess:
    """The real server (core, gRPC and HTTP listeners, worker processes) in a subprocess.

    `backend_factory` ("module:class") replaces the preview backend; None keeps preview."""

    def __init__(self, data_dir: Path, *flags: str, backend_factory: str | None = None):
        self.data_dir = data_dir
        self.flags = flags
        self.backend_factory = backend_factory
        self.log_path = data_dir.parent / f"{data_dir.name}-server.log"
        self.proc: subprocess.Popen[str] | None = None
        self.http_port = 0
        self.grpc_port = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.http_port}"

    def start(self, timeout: float = 90.0) -> HttpServerProcess:
        env = dict(os.environ, PYTHONUNBUFFERED="1", OMP_NUM_THREADS="1")
        args = [
            sys.executable, "-c", _RUNNER, self.backend_factory or "",
            "--data-dir", str(self.data_dir), "--host", "127.0.0.1", "--grpc-port", "0",
            "--http-port", "0", "--backend", "preview", "--workers", "1",
            "--worker-threads", "1", *self.flags,
        ]  # fmt: skip
        log = open(self.log_path, "a")  # noqa: SIM115 - owned by the child
        self.proc = subprocess.Popen(
            args, stdout=subprocess.PIPE, stderr=log, text=True, env=env, start_new_session=True
        )
        log.close()
        assert self.proc.stdout is not None
        deadline = time.monotonic() + timeout
        for line in self.proc.stdout:
            if line.startswith("ports "):
                self.grpc_port, self.http_port = map(int, line.split()[1:3])
                break
            if time.monotonic() > deadline:
                break
        if not self.http_port:
            self.stop()
            raise RuntimeError(f"server did not start; log:\n{self.log()}")
        return self

    def wait_ready(self, timeout: float = 90.0) -> None:
        """Waits until a worker has loaded the backend (GetServerInfo says loaded)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            info = unary(self.url, "GetServerInfo", {}).json()
            if any(b.get("loaded") for b in info.get("backends", [])):
                return
            time.sleep(0.1)
        raise TimeoutError(f"backend not loaded after {timeout} s; log:\n{self.log()}")

    def log(self) -> str:
        return self.log_path.read_text()[-4000:] if self.log_path.exists() else ""

    def stop(self) -> None:
        if self.proc is None:
            return
        stop_process_group(self.proc)


def unary(base: str, method: str, body: Any, **kwargs: Any) -> httpx.Response:
    """A Connect unary call with the JSON codec."""
    headers = {"content-type": "application/json", "connect-protocol-version": "1"}
    headers.update(kwargs.pop("headers", {}))
    return httpx.post(base + SERVICE + method, json=body, headers=headers, timeout=30, **kwargs)


def envelope(payload: bytes, flags: int = 0) -> bytes:
    return struct.pack(">BI", flags, len(payload)) + payload


def read_envelopes(chunks: Iterator[bytes]) -> Iterator[tuple[int, bytes]]:
    """Splits a Connect stream body into (flags, payload) pairs as bytes arrive."""
    buf = b""
    for chunk in chunks:
        buf += chunk
        while len(buf) >= 5:
            flags, length = struct.unpack(">BI", buf[:5])
            if len(buf) < 5 + length:
                break
            yield flags, buf[5 : 5 + length]
            buf = buf[5 + length :]
    assert buf == b"", f"stream ended inside an envelope ({len(buf)} bytes left)"


def stream_json(
    base: str,
    method: str,
    body: Any,
    *,
    timeout: float = 120,
    headers: dict[str, str] | None = None,
) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """A whole server-streaming call with the JSON codec: (messages, end-of-stream JSON)."""
    messages: list[dict[str, Any]] = []
    end: dict[str, Any] | None = None
    all_headers = {"content-type": "application/connect+json", "connect-protocol-version": "1"}
    all_headers.update(headers or {})
    with httpx.stream(
        "POST",
        base + SERVICE + method,
        content=envelope(json.dumps(body).encode()),
        headers=all_headers,
        timeout=timeout,
    ) as response:
        assert response.status_code == 200, response.read()
        assert response.headers["content-type"] == "application/connect+json"
        for flags, payload in read_envelopes(response.iter_bytes()):
            assert end is None, "a message after the end-of-stream envelope"
            if flags & 0x02:
                end = json.loads(payload)
            else:
                messages.append(json.loads(payload))
    assert end is not None, "stream ended without an end-of-stream envelope"
    return messages, end


def event_kind(event: dict[str, Any]) -> str:
    kinds = ("queued", "started", "progress", "preview", "completed", "failed", "canceled")
    return next((k for k in (*kinds, "heartbeat") if k in event), "?")


def create_job(base: str, image_b64: str, **fields: Any) -> dict[str, Any]:
    """CreateJob over Connect JSON with small export settings; returns the Job JSON."""
    body: dict[str, Any] = {
        "image": image_b64,
        "pipelineType": "PIPELINE_TYPE_512",
        "exportOptions": dict(SMALL_EXPORT),
    }
    body.update(fields)
    response = unary(base, "CreateJob", body)
    assert response.status_code == 200, response.text
    return response.json()


def watch_to_end(base: str, name: str, after_seq: int = 0) -> list[dict[str, Any]]:
    """Every non-heartbeat event of a job after `after_seq`, through its terminal event."""
    messages, end = stream_json(base, "WatchJob", {"name": name, "afterSeq": str(after_seq)})
    assert "error" not in end, end
    return [m for m in messages if "heartbeat" not in m]
