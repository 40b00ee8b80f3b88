# SPDX-License-Identifier: MIT
"""Small ASGI helpers: header lookup, bounded body reads, plain responses, disconnect watching.

The Connect and download handlers speak raw ASGI (not a framework's Request/Response) because
they need exact control over body limits, streaming and client disconnects.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

# After an oversized body is refused, the rest is read and dropped (not kept) for at most this
# long / this many bytes, so the client sees the error response instead of a reset connection.
_DRAIN_SECONDS = 3.0
_DRAIN_BYTES = 64 * 1024 * 1024


class BodyTooLarge(Exception):
    def __init__(self, limit: int):
        super().__init__(f"request body exceeds {limit} bytes")
        self.limit = limit


class ClientGone(Exception):
    """The client closed the connection before the request body arrived."""


def header(scope: Scope, name: str) -> str | None:
    """The first value of a request header (`name` in lowercase), decoded as latin-1."""
    key = name.encode()
    for k, v in scope["headers"]:
        if k == key:
            return bytes(v).decode("latin-1")
    return None


def bearer_token(scope: Scope) -> str | None:
    """The key from `Authorization: Bearer <key>`: None when absent, "" when malformed (so the
    core refuses it as unauthenticated rather than treating the call as anonymous)."""
    value = header(scope, "authorization")
    if value is None:
        return None
    scheme, _, key = value.strip().partition(" ")
    return key.strip() if scheme.lower() == "bearer" else ""


async def read_body(scope: Scope, receive: Receive, limit: int) -> bytes:
    """Reads the whole request body, refusing (BodyTooLarge) as soon as it passes `limit`.

    Nothing past the limit is kept. A declared Content-Length over the limit is refused at
    once; the rest of the body is dropped unread when it is huge, or read and discarded (a
    few seconds at most) so an HTTP/1.1 client gets the error instead of a reset.
    """
    declared = header(scope, "content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        await _drain(receive, int(declared))
        raise BodyTooLarge(limit)
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise ClientGone()
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            await _drain(receive, None)
            raise BodyTooLarge(limit)
        chunks.append(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks)


async def _drain(receive: Receive, declared: int | None) -> None:
    if declared is not None and declared > _DRAIN_BYTES:
        return  # Too big to be worth reading: the connection will be closed instead.
    deadline = time.monotonic() + _DRAIN_SECONDS
    dropped = 0
    while dropped < _DRAIN_BYTES:
        left = deadline - time.monotonic()
        if left <= 0:
            return
        try:
            message = await asyncio.wait_for(receive(), left)
        except TimeoutError:
            return
        if message["type"] != "http.request":
            return
        dropped += len(message.get("body", b""))
        if not message.get("more_body", False):
            return


async def respond(
    send: Send,
    status: int,
    body: bytes = b"",
    content_type: str | None = None,
    headers: list[tuple[bytes, bytes]] | None = None,
) -> None:
    out = list(headers or [])
    if content_type is not None:
        out.append((b"content-type", content_type.encode()))
    out.append((b"content-length", str(len(body)).encode()))
    await send({"type": "http.response.start", "status": status, "headers": out})
    await send({"type": "http.response.body", "body": body})


async def respond_json(
    send: Send, status: int, data: Any, headers: list[tuple[bytes, bytes]] | None = None
) -> None:
    body = json.dumps(data, separators=(",", ":")).encode()
    await respond(send, status, body, "application/json", headers)


async def wait_for_disconnect(receive: Receive) -> None:
    """Returns when the client hangs up (call only after the request body has been read)."""
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return


async def until_disconnect(work: Awaitable[None], receive: Receive) -> bool:
    """Runs `work` (a response writer) but cancels it when the client hangs up.

    ASGI servers drop writes to a closed connection silently, so without this a stream would
    follow a job, or read a file, for nobody. Returns False when the client left first.
    """
    task = asyncio.ensure_future(work)
    hangup = asyncio.ensure_future(wait_for_disconnect(receive))
    done, _ = await asyncio.wait({task, hangup}, return_when=asyncio.FIRST_COMPLETED)
    if task in done:
        hangup.cancel()
        await asyncio.gather(hangup, return_exceptions=True)
        task.result()
        return True
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
    return False
