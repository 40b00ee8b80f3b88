# SPDX-License-Identifier: MIT
"""Serves the built web dashboard (`http/static/`, produced by scripts/build-dashboard.sh).

`/` is `index.html`; `/assets/<file>` are the bundled script and stylesheet. Files are small
and few, so they are read once into memory with their ETag (and a gzip twin when the build made
one). Without a build, `/` explains how to make one; the API does not need it.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from pathlib import Path

from trellis2_server.http.asgi import Receive, Scope, Send, header, respond

STATIC_DIR = Path(__file__).resolve().parent / "static"
_NAME = re.compile(r"^[A-Za-z0-9_.-]+$")
_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".svg": "image/svg+xml",
    ".png": "image/png",
    ".map": "application/json",
}
# Revalidate every time (cheap 304s): the file names carry no content hash.
_CACHE = b"no-cache"
# Scripts loaded by the page come only from this server (no CDN); fetch() may reach it too;
# blob: URLs hold downloaded models for the viewer.
_CSP = (
    b"default-src 'self'; img-src 'self' blob: data:; connect-src 'self' blob: data:; "
    b"style-src 'self'; script-src 'self'; worker-src 'self' blob:; object-src 'none'"
)

_NOT_BUILT = """<!doctype html><meta charset="utf-8"><title>TRELLIS.2 server</title>
<body style="font:16px system-ui;max-width:40em;margin:3em auto">
<h1>Dashboard not built</h1>
<p>This server works: engines and scripts use the Connect API at
<code>/trellis2.v1.AssetGenerationService/*</code> and downloads at <code>/v1/artifacts/*</code>.
<p>To get the web dashboard, install Node.js 18+ and run <code>scripts/build-dashboard.sh</code>
(or <code>scripts/serve.sh</code>, which builds it), then reload this page.
"""


@dataclass(frozen=True)
class _File:
    body: bytes
    gzipped: bytes | None
    etag: str
    content_type: str


class Dashboard:
    def __init__(self, root: Path = STATIC_DIR):
        self.root = root
        self._cache: dict[str, tuple[float, _File]] = {}

    def _load(self, name: str) -> _File | None:
        path = self.root / name
        try:
            mtime = path.stat().st_mtime
        except (FileNotFoundError, NotADirectoryError):
            return None
        cached = self._cache.get(name)
        if cached is not None and cached[0] == mtime:
            return cached[1]
        body = path.read_bytes()
        gz = path.with_name(path.name + ".gz")
        gzipped = gz.read_bytes() if gz.is_file() else None
        etag = '"' + hashlib.sha256(body).hexdigest()[:32] + '"'
        content_type = _TYPES.get(path.suffix, "application/octet-stream")
        loaded = _File(body, gzipped, etag, content_type)
        self._cache[name] = (mtime, loaded)
        return loaded

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope["path"]
        if path in ("/", "/index.html"):
            name = "index.html"
        elif path.startswith("/assets/") and _NAME.match(path[len("/assets/") :]):
            name = path[1:]
        else:
            await respond(send, 404, b"not found\n", "text/plain")
            return
        if scope["method"] not in ("GET", "HEAD"):
            await respond(send, 405, b"use GET\n", "text/plain", [(b"allow", b"GET, HEAD")])
            return
        found = self._load(name)
        if found is None:
            if name == "index.html":
                await respond(send, 503, _NOT_BUILT.encode(), "text/html; charset=utf-8")
            else:
                await respond(send, 404, b"not found\n", "text/plain")
            return
        headers = [
            (b"etag", found.etag.encode()),
            (b"cache-control", _CACHE),
            (b"vary", b"accept-encoding"),
            (b"x-content-type-options", b"nosniff"),
        ]
        if name == "index.html":
            headers.append((b"content-security-policy", _CSP))
        if header(scope, "if-none-match") == found.etag:
            await respond(send, 304, headers=headers)
            return
        body = found.body
        if found.gzipped is not None and "gzip" in (header(scope, "accept-encoding") or ""):
            body = found.gzipped
            headers.append((b"content-encoding", b"gzip"))
        await respond(send, 200, body, found.content_type, headers)
