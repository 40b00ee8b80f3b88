# SPDX-License-Identifier: MIT
"""The Connect protocol adapter: every `trellis2.v1.AssetGenerationService` method over HTTP/1.1.

Routes `POST /trellis2.v1.AssetGenerationService/<Method>` to the same core service the gRPC
servicer calls, so validation, errors and events are identical on both transports. Unary
methods take `application/json` or `application/proto`; server-streaming methods take
`application/connect+json` or `application/connect+proto` (wire rules in `connect_protocol`).
Engines that cannot speak HTTP/2 (Godot's HTTPClient, Unity's Mono stack) use this.
"""

from __future__ import annotations

import asyncio
import contextlib
import gzip
import logging
import re
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from google.protobuf.message import Message
from google.rpc import error_details_pb2
from grpc import StatusCode

from trellis2_server.api._gen.trellis2.v1 import asset_generation_pb2 as pb
from trellis2_server.api.connect_protocol import (
    STREAM_TYPES,
    UNARY_TYPES,
    Codec,
    ConnectError,
    check_protocol_version,
    decompress,
    end_stream,
    envelope,
    error_detail,
    media_type,
    parse_timeout,
    read_single_envelope,
    too_large,
)
from trellis2_server.core.errors import Trellis2Error
from trellis2_server.http.asgi import (
    BodyTooLarge,
    ClientGone,
    Receive,
    Scope,
    Send,
    bearer_token,
    header,
    read_body,
    respond,
    respond_json,
    until_disconnect,
)

_LOGGER = logging.getLogger(__name__)

SERVICE = pb.DESCRIPTOR.services_by_name["AssetGenerationService"]
PREFIX = f"/{SERVICE.full_name}/"
# JSON carries bytes as base64 (4/3 larger); requests besides the image are small.
_BODY_OVERHEAD = 64 * 1024
_GZIP_MIN = 1024
# Messages larger than this are (de)serialized in a thread, off the event loop.
_OFF_LOOP_BYTES = 256 * 1024


@dataclass(frozen=True)
class Method:
    name: str
    attr: str  # AssetService method name, e.g. "create_job"
    request_type: type[Message]
    streaming: bool


def _snake(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


METHODS: dict[str, Method] = {
    m.name: Method(m.name, _snake(m.name), getattr(pb, m.input_type.name), m.server_streaming)
    for m in SERVICE.methods
}


def to_connect_error(exc: BaseException) -> ConnectError:
    """Maps core errors (and anything unexpected) to what a Connect client sees."""
    if isinstance(exc, ConnectError):
        return exc
    if isinstance(exc, Trellis2Error):
        details = []
        if exc.field:
            violation = error_details_pb2.BadRequest.FieldViolation(
                field=exc.field, description=exc.message
            )
            details.append(error_detail(error_details_pb2.BadRequest(field_violations=[violation])))
        if exc.retry_after is not None:
            info = error_details_pb2.RetryInfo()
            info.retry_delay.FromNanoseconds(int(exc.retry_after * 1e9))
            details.append(error_detail(info))
        return ConnectError(exc.code, exc.message, details=details)
    if isinstance(exc, TimeoutError):
        return ConnectError(StatusCode.DEADLINE_EXCEEDED, "connect-timeout-ms elapsed")
    _LOGGER.error("unexpected error in a Connect call", exc_info=exc)
    return ConnectError(StatusCode.INTERNAL, "internal server error; see the server log")


class ConnectApp:
    """ASGI app for the Connect routes. `max_body` bounds every request body in bytes."""

    def __init__(self, service: Any, *, max_upload_bytes: int):
        self.service = service
        self.max_body = max_upload_bytes * 4 // 3 + _BODY_OVERHEAD
        self._closing = asyncio.Event()

    def close_streams(self) -> None:
        """Ends every open stream with `unavailable` (clients reconnect from their last seq);
        called when the server stops."""
        self._closing.set()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        method = METHODS.get(scope["path"][len(PREFIX) :])
        if method is None:
            name = scope["path"]
            error = ConnectError(
                StatusCode.UNIMPLEMENTED,
                f"{name} is not a method of {SERVICE.full_name}; methods: {', '.join(METHODS)}",
                http_status=404,
            )
            await _send_unary_error(send, error)
            return
        if scope["method"] != "POST":
            error = ConnectError(
                StatusCode.UNIMPLEMENTED,
                f"{method.name} takes POST, not {scope['method']}",
                http_status=405,
                headers=[(b"allow", b"POST")],
            )
            await _send_unary_error(send, error)
            return
        types = STREAM_TYPES if method.streaming else UNARY_TYPES
        codec = types.get(media_type(header(scope, "content-type") or ""))
        if codec is None:
            accepted = ", ".join(types)
            error = ConnectError(
                StatusCode.INVALID_ARGUMENT,
                f"{method.name} takes content-type {accepted}",
                http_status=415,
                headers=[(b"accept-post", accepted.encode())],
            )
            await _send_unary_error(send, error)
            return
        if method.streaming:
            await self._stream(scope, receive, send, method, codec)
        else:
            await self._unary(scope, receive, send, method, codec)

    async def _prepare(
        self, scope: Scope, receive: Receive, method: Method, codec: Codec
    ) -> tuple[Message, Any, float | None]:
        """Checks headers, authenticates, reads and decodes the request."""
        check_protocol_version(header(scope, "connect-protocol-version"))
        timeout = parse_timeout(header(scope, "connect-timeout-ms"))
        caller = await self.service.authenticate(bearer_token(scope))
        try:
            body = await read_body(scope, receive, self.max_body)
        except BodyTooLarge:
            raise too_large(self.max_body) from None
        if method.streaming:
            data = read_single_envelope(
                body, header(scope, "connect-content-encoding"), self.max_body
            )
        else:
            data = decompress(body, header(scope, "content-encoding"), self.max_body)
        return await _decode(codec, data, method.request_type), caller, timeout

    async def _unary(
        self, scope: Scope, receive: Receive, send: Send, method: Method, codec: Codec
    ) -> None:
        call: Callable[..., Awaitable[Message]] = getattr(self.service, method.attr)
        try:
            request, caller, timeout = await self._prepare(scope, receive, method, codec)
            async with asyncio.timeout(timeout):
                response = await call(request, caller)
        except ClientGone:
            return
        except Exception as exc:
            await _send_unary_error(send, to_connect_error(exc))
            return
        content_type = "application/json" if codec.name == "json" else "application/proto"
        body = await _encode(codec, response)
        headers = []
        # Job lists compress ~10x; tiny replies are not worth it. Streams stay uncompressed:
        # they carry GLB chunks whose textures are compressed already.
        if len(body) >= _GZIP_MIN and "gzip" in (header(scope, "accept-encoding") or ""):
            body = gzip.compress(body, compresslevel=5, mtime=0)
            headers.append((b"content-encoding", b"gzip"))
        await respond(send, 200, body, content_type, headers)

    async def _stream(
        self, scope: Scope, receive: Receive, send: Send, method: Method, codec: Codec
    ) -> None:
        content_type = f"application/connect+{codec.name}"
        start = {
            "type": "http.response.start",
            "status": 200,
            "headers": [(b"content-type", content_type.encode())],
        }
        try:
            request, caller, timeout = await self._prepare(scope, receive, method, codec)
        except ClientGone:
            return
        except Exception as exc:
            error = to_connect_error(exc)
            if error.http_status == 413:  # refused before reading: a plain HTTP answer
                await _send_unary_error(send, error)
                return
            await send(start)
            await send({"type": "http.response.body", "body": end_stream(error)})
            return
        await send(start)
        events: AsyncIterator[Message] = getattr(self.service, method.attr)(request, caller)
        # A client hanging up stops the stream (and the watch); the job itself keeps running.
        pump = _pump(events, codec, send, timeout, self._closing)
        if not await until_disconnect(pump, receive):
            _LOGGER.debug("%s: client hung up; stream stopped", method.name)


async def _pump(
    events: AsyncIterator[Message],
    codec: Codec,
    send: Send,
    timeout: float | None,
    closing: asyncio.Event,
) -> None:
    """Writes every event as an envelope, then the end-of-stream envelope (with the error that
    ended the stream, if any)."""
    error: ConnectError | None = None
    forward = asyncio.ensure_future(_forward(events, codec, send, timeout))
    stop = asyncio.ensure_future(closing.wait())
    try:
        await asyncio.wait({forward, stop}, return_when=asyncio.FIRST_COMPLETED)
        if forward.done():
            forward.result()
        else:
            error = ConnectError(
                StatusCode.UNAVAILABLE, "the server is shutting down; reconnect from your last seq"
            )
    except Exception as exc:
        error = to_connect_error(exc)
    finally:
        for task in (forward, stop):
            task.cancel()
        await asyncio.gather(forward, stop, return_exceptions=True)
    await send({"type": "http.response.body", "body": end_stream(error)})


async def _forward(
    events: AsyncIterator[Message], codec: Codec, send: Send, timeout: float | None
) -> None:
    try:
        async with asyncio.timeout(timeout):
            async for event in events:
                body = envelope(await _encode(codec, event))
                await send({"type": "http.response.body", "body": body, "more_body": True})
    finally:
        aclose = getattr(events, "aclose", None)
        if aclose is not None:
            with contextlib.suppress(Exception):
                await aclose()


async def _decode(codec: Codec, data: bytes, message_type: type[Message]) -> Message:
    # A 20 MB image is ~27 MB of base64 JSON: parsing it takes long enough to stall every
    # other stream on the loop, so large bodies are parsed in a thread.
    if len(data) < _OFF_LOOP_BYTES:
        return codec.decode(data, message_type)
    return await asyncio.to_thread(codec.decode, data, message_type)


async def _encode(codec: Codec, message: Message) -> bytes:
    if message.ByteSize() < _OFF_LOOP_BYTES:
        return codec.encode(message)
    return await asyncio.to_thread(codec.encode, message)


async def _send_unary_error(send: Send, error: ConnectError) -> None:
    await respond_json(send, error.http_status, error.to_json(), error.headers)
