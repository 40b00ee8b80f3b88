# SPDX-License-Identifier: MIT
"""The wire rules of the Connect protocol (https://connectrpc.com/docs/protocol), free of I/O.

Unary calls are a POST whose body is one message (`application/json` or `application/proto`);
errors come back as a JSON body `{"code", "message"}` with an HTTP status from `CODES`.
Server streams use `application/connect+json|proto`: every message is an envelope
(1 flag byte, 4-byte big-endian length, payload); the last envelope has flag `END_STREAM` and a
JSON payload `{"error": ..., "metadata": ...}`, whatever the codec, and the HTTP status stays 200.
"""

from __future__ import annotations

import base64
import json
import re
import struct
import zlib
from dataclasses import dataclass
from typing import Any

from google.protobuf import json_format
from google.protobuf.message import DecodeError, Message
from grpc import StatusCode

FLAG_COMPRESSED = 0x01
FLAG_END_STREAM = 0x02
_HEADER = struct.Struct(">BI")

# gRPC status -> (Connect code name, HTTP status for unary errors), from the protocol spec.
CODES: dict[StatusCode, tuple[str, int]] = {
    StatusCode.CANCELLED: ("canceled", 499),
    StatusCode.UNKNOWN: ("unknown", 500),
    StatusCode.INVALID_ARGUMENT: ("invalid_argument", 400),
    StatusCode.DEADLINE_EXCEEDED: ("deadline_exceeded", 504),
    StatusCode.NOT_FOUND: ("not_found", 404),
    StatusCode.ALREADY_EXISTS: ("already_exists", 409),
    StatusCode.PERMISSION_DENIED: ("permission_denied", 403),
    StatusCode.RESOURCE_EXHAUSTED: ("resource_exhausted", 429),
    StatusCode.FAILED_PRECONDITION: ("failed_precondition", 400),
    StatusCode.ABORTED: ("aborted", 409),
    StatusCode.OUT_OF_RANGE: ("out_of_range", 400),
    StatusCode.UNIMPLEMENTED: ("unimplemented", 501),
    StatusCode.INTERNAL: ("internal", 500),
    StatusCode.UNAVAILABLE: ("unavailable", 503),
    StatusCode.DATA_LOSS: ("data_loss", 500),
    StatusCode.UNAUTHENTICATED: ("unauthenticated", 401),
}

# connect-timeout-ms: at most 10 digits (spec).
_TIMEOUT = re.compile(r"^[0-9]{1,10}$")


class ConnectError(Exception):
    """An error to send to a Connect client. `http_status` overrides the table (413, 415)."""

    def __init__(
        self,
        code: StatusCode,
        message: str,
        *,
        http_status: int | None = None,
        details: list[dict[str, Any]] | None = None,
        headers: list[tuple[bytes, bytes]] | None = None,
    ):
        super().__init__(message)
        self.code = code
        self.message = message
        self.http_status = http_status if http_status is not None else CODES[code][1]
        self.details = details or []
        self.headers = headers or []

    def to_json(self) -> dict[str, Any]:
        body: dict[str, Any] = {"code": CODES[self.code][0], "message": self.message}
        if self.details:
            body["details"] = self.details
        return body


def error_detail(message: Message) -> dict[str, Any]:
    """A `google.protobuf.Any`-style error detail: type name plus unpadded base64 bytes."""
    value = base64.b64encode(message.SerializeToString()).decode().rstrip("=")
    return {"type": message.DESCRIPTOR.full_name, "value": value}


@dataclass(frozen=True)
class Codec:
    """How messages are written: `json` (canonical proto3 JSON mapping) or `proto` (binary)."""

    name: str

    def decode(self, data: bytes, message_type: type[Message]) -> Message:
        message = message_type()
        if self.name == "proto":
            try:
                message.ParseFromString(data)
            except DecodeError as exc:
                raise ConnectError(
                    StatusCode.INVALID_ARGUMENT, f"request is not a valid protobuf message: {exc}"
                ) from None
            return message
        if not data.strip():
            return message
        name = message.DESCRIPTOR.full_name
        try:
            value = json.loads(data)
            if not isinstance(value, dict):
                raise ValueError(f"expected a JSON object, got {type(value).__name__}")
            json_format.ParseDict(value, message, ignore_unknown_fields=True)
        except (ValueError, json_format.ParseError, RecursionError) as exc:
            raise ConnectError(
                StatusCode.INVALID_ARGUMENT, f"request is not valid JSON for {name}: {exc}"
            ) from None
        return message

    def encode(self, message: Message) -> bytes:
        if self.name == "proto":
            return message.SerializeToString()
        return json.dumps(json_format.MessageToDict(message), separators=(",", ":")).encode()


JSON = Codec("json")
PROTO = Codec("proto")

UNARY_TYPES = {"application/json": JSON, "application/proto": PROTO}
STREAM_TYPES = {"application/connect+json": JSON, "application/connect+proto": PROTO}


def media_type(content_type: str) -> str:
    """`application/json; charset=utf-8` -> `application/json`."""
    return content_type.split(";", 1)[0].strip().lower()


def parse_timeout(value: str | None) -> float | None:
    """Seconds from a `connect-timeout-ms` header, or None when absent."""
    if value is None:
        return None
    if not _TIMEOUT.match(value.strip()):
        raise ConnectError(
            StatusCode.INVALID_ARGUMENT,
            f"connect-timeout-ms must be a positive integer of at most 10 digits, got {value!r}",
        )
    return int(value) / 1000.0


def check_protocol_version(value: str | None) -> None:
    """Connect clients send `connect-protocol-version: 1`; other values are refused."""
    if value is not None and value.strip() != "1":
        raise ConnectError(
            StatusCode.INVALID_ARGUMENT,
            f"connect-protocol-version must be 1, got {value!r}",
        )


def decompress(data: bytes, encoding: str | None, limit: int) -> bytes:
    """Undoes `gzip` (the one compression every Connect implementation has)."""
    if encoding in (None, "", "identity"):
        return data
    if encoding != "gzip":
        raise ConnectError(
            StatusCode.UNIMPLEMENTED,
            f"compression {encoding!r} is not supported; use gzip or identity",
        )
    try:
        # Bounded inflate: a small gzip bomb must not become a huge buffer.
        inflater = zlib.decompressobj(wbits=16 + zlib.MAX_WBITS)
        out = inflater.decompress(data, limit + 1)
    except zlib.error as exc:
        raise ConnectError(StatusCode.INVALID_ARGUMENT, f"bad gzip data: {exc}") from None
    if len(out) > limit:
        raise too_large(limit)
    return out


def too_large(limit: int) -> ConnectError:
    return ConnectError(
        StatusCode.RESOURCE_EXHAUSTED,
        f"request body is larger than the server's limit of {limit} bytes; "
        "send a smaller image or raise --max-upload-bytes on the server",
        http_status=413,
    )


def envelope(payload: bytes, flags: int = 0) -> bytes:
    return _HEADER.pack(flags, len(payload)) + payload


def end_stream(error: ConnectError | None = None) -> bytes:
    """The final envelope of a stream; always JSON."""
    body: dict[str, Any] = {}
    if error is not None:
        body["error"] = error.to_json()
    return envelope(json.dumps(body, separators=(",", ":")).encode(), FLAG_END_STREAM)


def read_single_envelope(data: bytes, encoding: str | None, limit: int) -> bytes:
    """The payload of the one request envelope a server-streaming call carries."""
    if len(data) < _HEADER.size:
        raise ConnectError(
            StatusCode.INVALID_ARGUMENT,
            "streaming request must be one 5-byte-prefixed envelope (flags, big-endian length)",
        )
    flags, length = _HEADER.unpack_from(data)
    payload = data[_HEADER.size : _HEADER.size + length]
    if len(payload) != length or len(data) != _HEADER.size + length:
        raise ConnectError(
            StatusCode.INVALID_ARGUMENT,
            f"envelope says {length} bytes but the body holds {len(data) - _HEADER.size}; "
            "a server-streaming call takes exactly one request message",
        )
    if flags & FLAG_END_STREAM or flags & ~FLAG_COMPRESSED:
        raise ConnectError(StatusCode.INVALID_ARGUMENT, f"unexpected envelope flags {flags:#04x}")
    if flags & FLAG_COMPRESSED:
        if encoding in (None, "", "identity"):
            raise ConnectError(
                StatusCode.INVALID_ARGUMENT,
                "envelope is flagged compressed but connect-content-encoding names no compression",
            )
        return decompress(payload, encoding, limit)
    return payload
