# SPDX-License-Identifier: MIT
"""The ASGI app behind the HTTP port: one router over three small handlers.

POST /trellis2.v1.AssetGenerationService/<Method>   Connect protocol (api/connect.py)
GET  /v1/artifacts/<sha256>[.ext]                   resumable downloads (artifacts.py)
GET  /, /assets/*                                   web dashboard (dashboard.py)
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from trellis2_server.api import connect
from trellis2_server.http import artifacts
from trellis2_server.http.asgi import ASGIApp, Receive, Scope, Send
from trellis2_server.http.dashboard import STATIC_DIR, Dashboard


def create_http_app(
    service: Any, *, max_upload_bytes: int, static_dir: Path = STATIC_DIR
) -> ASGIApp:
    """`service` is the core `AssetService` the gRPC servicer also uses."""
    connect_app = connect.ConnectApp(service, max_upload_bytes=max_upload_bytes)
    dashboard = Dashboard(static_dir)

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await _lifespan(receive, send)
            return
        if scope["type"] != "http":
            return
        path = scope["path"]
        if path.startswith(connect.PREFIX):
            await connect_app(scope, receive, send)
        elif path.startswith(artifacts.PREFIX):
            await artifacts.serve_artifact(service, scope, receive, send)
        else:
            await dashboard(scope, receive, send)

    return app


async def _lifespan(receive: Receive, send: Send) -> None:
    # Nothing to set up: the core is owned (started and stopped) by the server, not this app.
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await send({"type": "lifespan.shutdown.complete"})
            return
