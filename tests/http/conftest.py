# SPDX-License-Identifier: MIT
"""Fixtures for the HTTP/Connect tests: one shared real server (preview backend) with both
listeners on 127.0.0.1, real SQLite and real worker processes."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from pathlib import Path

import pytest
from http_helpers import (
    ALPHA_KEY,
    BETA_KEY,
    HttpServerProcess,
    create_job,
    unary,
    watch_to_end,
)


@pytest.fixture(scope="session")
def http_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[HttpServerProcess]:
    data = tmp_path_factory.mktemp("http-server") / "data"
    # A 2 MiB upload limit makes the oversized-body tests cheap.
    server = HttpServerProcess(
        data, "--heartbeat-interval", "0.5", "--max-upload-bytes", str(2 * 1024 * 1024)
    ).start()
    try:
        server.wait_ready()
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def apple_png(shared_dir: Path) -> bytes:
    return (shared_dir / "images" / "apple.png").read_bytes()


@pytest.fixture(scope="session")
def apple_b64(apple_png: bytes) -> str:
    return base64.b64encode(apple_png).decode()


@pytest.fixture(scope="session")
def finished_job(http_server: HttpServerProcess, apple_b64: str) -> dict:
    """A job on the apple image that ran to completion (the Job JSON after it finished)."""
    job = create_job(http_server.url, apple_b64, displayName="apple", seed="7")
    events = watch_to_end(http_server.url, job["name"])
    assert "completed" in events[-1], events[-1]
    response = unary(http_server.url, "GetJob", {"name": job["name"]})
    return response.json()


@pytest.fixture(scope="session")
def keyed_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[HttpServerProcess]:
    """A second server that requires API keys (teams alpha and beta)."""
    root = tmp_path_factory.mktemp("keyed")
    keys = root / "keys.txt"
    keys.write_text(f"{ALPHA_KEY} alpha\n{BETA_KEY} beta\n")
    server = HttpServerProcess(root / "data", "--api-keys-file", str(keys)).start()
    try:
        yield server
    finally:
        server.stop()
