# SPDX-License-Identifier: MIT
"""Fixtures for the server tests: real `trellis2 serve` subprocesses on 127.0.0.1, real
SQLite, real worker processes running the preview backend."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import grpc
import pytest
from server_helpers import ServerProcess, make_png
from trellis2_server.api._gen.trellis2.v1 import asset_generation_pb2_grpc as pb_grpc


@pytest.fixture(scope="session")
def preview_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    """One shared server with the preview backend, for tests that don't restart it."""
    data = tmp_path_factory.mktemp("server") / "data"
    server = ServerProcess(
        data,
        *("--heartbeat-interval", "0.5"),
        # Small limits so the "too large" inputs of the bad-input tests stay small.
        *("--max-upload-bytes", "1000000", "--max-image-pixels", "4000000"),
    ).start()
    try:
        server.wait_serving()
        yield server
    finally:
        server.stop()


@pytest.fixture
async def stub(preview_server: ServerProcess) -> AsyncIterator[pb_grpc.AssetGenerationServiceStub]:
    async with grpc.aio.insecure_channel(preview_server.address) as channel:
        yield pb_grpc.AssetGenerationServiceStub(channel)


@pytest.fixture(scope="session")
def small_png() -> bytes:
    return make_png()
