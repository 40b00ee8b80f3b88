# SPDX-License-Identifier: MIT
"""Runs the HTTP app with uvicorn inside the gRPC server's event loop (one process, one core).

uvicorn's `Server.serve()` would install its own SIGINT/SIGTERM handlers; the gRPC server owns
signals, so this drives uvicorn's startup / main loop / shutdown steps directly instead.
"""

from __future__ import annotations

import asyncio
import logging
import socket
from dataclasses import dataclass
from typing import Any

import uvicorn

from trellis2_server.http.app import HttpApp, create_http_app

_LOGGER = logging.getLogger(__name__)


@dataclass
class HttpServer:
    server: uvicorn.Server
    app: HttpApp
    port: int
    _task: asyncio.Task[None]

    async def stop(self, grace: float = 5.0) -> None:
        """Stops accepting, ends open streams (clients reconnect elsewhere or later), gives
        other open requests `grace` seconds."""
        self.app.close_streams()
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
    # Bind here rather than in uvicorn: its startup calls sys.exit() when the port is taken.
    try:
        sock = _listen(host, port, config.backlog)
    except OSError as exc:
        raise OSError(
            f"could not listen for HTTP on {host}:{port} ({exc.strerror}); "
            "pick another --http-port, or -1 to turn HTTP off"
        ) from exc
    server = uvicorn.Server(config)
    server.lifespan = config.lifespan_class(config)
    await server.startup(sockets=[sock])
    bound: Any = sock.getsockname()[1]
    task = asyncio.create_task(server.main_loop(), name="http-main-loop")
    _LOGGER.info("Connect API, downloads and dashboard on http://%s:%d/", host, bound)
    return HttpServer(server, app, int(bound), task)


def _listen(host: str, port: int, backlog: int) -> socket.socket:
    # proto must be IPPROTO_TCP explicitly: asyncio sets TCP_NODELAY on accepted connections
    # only then, and without it every response pays a ~40 ms Nagle / delayed-ACK stall.
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        sock.listen(backlog)
    except OSError:
        sock.close()
        raise
    return sock
