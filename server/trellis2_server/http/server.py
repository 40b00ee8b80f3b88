# SPDX-License-Identifier: MIT
"""Runs the HTTP app with uvicorn inside the gRPC server's event loop (one process, one core).

uvicorn's `Server.serve()` would install its own SIGINT/SIGTERM handlers; the gRPC server owns
signals, so this drives uvicorn's startup / main loop / shutdown steps directly instead.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from typing import Any

import uvicorn

from trellis2_server.http.app import create_http_app

_LOGGER = logging.getLogger(__name__)


@dataclass
class HttpServer:
    server: uvicorn.Server
    port: int
    _task: asyncio.Task[None]

    async def stop(self, grace: float = 5.0) -> None:
        """Stops accepting, gives open requests `grace` seconds, then cuts open streams."""
        self.server.config.timeout_graceful_shutdown = max(0, round(grace))
        self.server.should_exit = True
        await self._task
        await self.server.shutdown()


async def start_http_server(
    service: Any, *, host: str, port: int, max_upload_bytes: int
) -> HttpServer:
    """Binds `host:port` (0 = any free port) and serves until `stop()`."""
    app = create_http_app(service, max_upload_bytes=max_upload_bytes)
    config = uvicorn.Config(
        app,
        host=host,
        port=port,
        lifespan="off",
        log_config=None,
        access_log=False,
        http="h11",
        ws="none",
        server_header=False,
    )
    config.load()
    server = uvicorn.Server(config)
    await server.startup()
    if not server.started:
        raise OSError(f"could not listen for HTTP on {host}:{port}; pick another --http-port")
    bound: Any = server.servers[0].sockets[0].getsockname()[1]
    task = asyncio.create_task(server.main_loop(), name="http-main-loop")
    _LOGGER.info("Connect API, downloads and dashboard on http://%s:%d/", host, bound)
    return HttpServer(server, int(bound), task)
