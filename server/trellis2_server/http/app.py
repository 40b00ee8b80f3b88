# SPDX-License-Identifier: MIT
"""The ASGI app behind the HTTP port: one router over small handlers.

- `POST /trellis2.v1.AssetGenerationService/<Method>`: Connect protocol (api/connect.py)
- `GET /v1/artifacts/<sha256>[.ext]`: resumable downloads (artifacts.py)
- `GET /v1/jobs/<job id>/files.zip`: a finished job's files in one zip (bundles.py)
- `GET /healthz`: 200 SERVING once a backend is loaded, else 503
- `GET /`, `/assets/*`: the web dashboard (dashboard.py)
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from trellis2_server.api import connect
from trellis2_server.http import artifacts, bundles
from trellis2_server.http.asgi import Receive, Scope, Send, respond_json
from trellis2_server.http.dashboard import STATIC_DIR, Dashboard


class HttpApp:
    """`service` is the core `AssetService` the gRPC servicer also uses."""

    def __init__(self, service: Any, *, max_upload_bytes: int, static_dir: Path = STATIC_DIR):
        self.service = service
        self.connect = connect.ConnectApp(service, max_upload_bytes=max_upload_bytes)
        self.dashboard = Dashboard(static_dir)

    def close_streams(self) -> None:
        self.connect.close_streams()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await _lifespan(receive, send)
            return
        if scope["type"] != "http":
            return
        path = scope["path"]
        if path.startswith(connect.PREFIX):
            await self.connect(scope, receive, send)
        elif path.startswith(artifacts.PREFIX):
            await artifacts.serve_artifact(self.service, scope, receive, send)
        elif path.startswith(bundles.PREFIX):
            await bundles.serve_bundle(self.service, scope, receive, send)
        elif path == "/healthz":
            await self._health(send)
        else:
            await self.dashboard(scope, receive, send)

    async def _health(self, send: Send) -> None:
        """For load balancers and `curl -f` health checks: 200 once a worker has loaded the
        backend, 503 before that and while stopping (like gRPC health's SERVING)."""
        serving = bool(self.service.ready) and not getattr(self.service, "closing", False)
        status = "SERVING" if serving else "NOT_SERVING"
        await respond_json(send, 200 if serving else 503, {"status": status})


def create_http_app(
    service: Any, *, max_upload_bytes: int, static_dir: Path = STATIC_DIR
) -> HttpApp:
    return HttpApp(service, max_upload_bytes=max_upload_bytes, static_dir=static_dir)


async def _lifespan(receive: Receive, send: Send) -> None:
    # Nothing to set up: the core is owned (started and stopped) by the server, not this app.
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await send({"type": "lifespan.shutdown.complete"})
            return
