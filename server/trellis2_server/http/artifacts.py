# SPDX-License-Identifier: MIT
"""`GET /v1/artifacts/{sha256}[.ext]`: content-addressed downloads that resume.

Artifacts never change once written, so the digest is a strong ETag and responses may be
cached for a year (`immutable`). One `Range: bytes=...` range is honoured (206, or 416 when it
lies past the end), `If-Range` guards a resume, `If-None-Match` answers 304. Several ranges in
one request get the whole file (allowed by RFC 9110). `?filename=x.glb` adds a
Content-Disposition so browsers save under a readable name. Clients verify the SHA-256 at the end.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import re
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, quote

from trellis2_server.core.errors import Trellis2Error
from trellis2_server.http.asgi import (
    Receive,
    Scope,
    Send,
    bearer_token,
    header,
    respond,
    until_disconnect,
)

_LOGGER = logging.getLogger(__name__)

PREFIX = "/v1/artifacts/"
_PATH = re.compile(r"^([0-9a-f]{64})(?:\.[a-z0-9]{1,8})?$")
_RANGE = re.compile(r"^bytes=(\d*)-(\d*)$")
_CHUNK = 1024 * 1024
CACHE_CONTROL = b"public, max-age=31536000, immutable"


def parse_range(value: str | None, size: int) -> tuple[int, int] | str | None:
    """One `bytes=a-b` range as (start, end inclusive); None = send everything;
    "unsatisfiable" = answer 416. Malformed or multi-range headers are ignored (RFC 9110)."""
    if value is None:
        return None
    match = _RANGE.match(value.strip().replace(" ", ""))
    if match is None:
        return None
    first, last = match.groups()
    if first == "" and last == "":
        return None
    if first == "":  # Suffix range: the last N bytes.
        length = int(last)
        if length == 0 or size == 0:
            return "unsatisfiable"
        return max(0, size - length), size - 1
    start = int(first)
    end = size - 1 if last == "" else min(int(last), size - 1)
    if last != "" and int(last) < start:
        return None  # Invalid range spec: ignore it.
    if start >= size:
        return "unsatisfiable"
    return start, end


def _etag_matches(condition: str, etag: str) -> bool:
    """Weak comparison, as If-None-Match uses it (W/"x" matches "x")."""
    tags = [t.strip().removeprefix("W/") for t in condition.split(",")]
    return "*" in tags or etag in tags


async def serve_artifact(service: Any, scope: Scope, receive: Receive, send: Send) -> None:
    match = _PATH.match(scope["path"][len(PREFIX) :])
    if scope["method"] not in ("GET", "HEAD"):
        await respond(send, 405, b"use GET or HEAD\n", "text/plain", [(b"allow", b"GET, HEAD")])
        return
    if match is None:
        await _text(send, 404, "not an artifact URL; use /v1/artifacts/<sha256 hex>[.ext]")
        return
    digest = match.group(1)
    try:
        await service.authenticate(bearer_token(scope))
        found = service.artifact_path(digest)
        path, media_type = (await found) if inspect.isawaitable(found) else found
        size = Path(path).stat().st_size
    except Trellis2Error as exc:
        status = {16: 401, 7: 403, 5: 404}.get(exc.code.value[0], 400)
        await _text(send, status, exc.message)
        return
    except FileNotFoundError:
        await _text(send, 404, f"artifact {digest} not found")
        return

    etag = f'"{digest}"'
    headers = [
        (b"etag", etag.encode()),
        (b"cache-control", CACHE_CONTROL),
        (b"accept-ranges", b"bytes"),
        (b"x-content-type-options", b"nosniff"),
    ]
    filename = parse_qs(scope.get("query_string", b"").decode("latin-1")).get("filename")
    if filename:
        headers.append((b"content-disposition", _disposition(filename[0]).encode()))

    none_match = header(scope, "if-none-match")
    if none_match is not None and _etag_matches(none_match, etag):
        await respond(send, 304, headers=headers)
        return
    wanted = parse_range(header(scope, "range"), size)
    if_range = header(scope, "if-range")
    if if_range is not None and if_range.strip() != etag:
        wanted = None  # The client's partial copy is of another file: send it whole.
    if wanted == "unsatisfiable":
        headers.append((b"content-range", f"bytes */{size}".encode()))
        await _text(send, 416, f"range is past the end of the {size}-byte artifact", headers)
        return
    status, start, end = 200, 0, size - 1
    if isinstance(wanted, tuple):
        status, (start, end) = 206, wanted
        headers.append((b"content-range", f"bytes {start}-{end}/{size}".encode()))
    length = end - start + 1 if size else 0
    headers += [
        (b"content-type", media_type.encode()),
        (b"content-length", str(length).encode()),
    ]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    if scope["method"] == "HEAD":
        await send({"type": "http.response.body", "body": b""})
        return
    await until_disconnect(_send_file(Path(path), start, length, send), receive)


async def _send_file(path: Path, start: int, length: int, send: Send) -> None:
    # Reads happen in a thread: a cold disk must not stall the event loop.
    with open(path, "rb") as f:
        await asyncio.to_thread(f.seek, start)
        left = length
        while left > 0:
            chunk = await asyncio.to_thread(f.read, min(_CHUNK, left))
            if not chunk:
                raise OSError(f"{path} shrank while being sent")
            left -= len(chunk)
            await send({"type": "http.response.body", "body": chunk, "more_body": left > 0})
    if length == 0:
        await send({"type": "http.response.body", "body": b""})


def _disposition(name: str) -> str:
    safe = re.sub(r"[^A-Za-z0-9._-]", "_", name)[:120] or "artifact"
    return f"attachment; filename=\"{safe}\"; filename*=UTF-8''{quote(name[:120])}"


async def _text(
    send: Send, status: int, message: str, headers: list[tuple[bytes, bytes]] | None = None
) -> None:
    await respond(send, status, (message + "\n").encode(), "text/plain; charset=utf-8", headers)
