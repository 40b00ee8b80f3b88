# SPDX-License-Identifier: MIT
"""Bad input over HTTP gets the right Connect error, quickly, and the server keeps serving."""

from __future__ import annotations

import base64
import io
import json
import socket
import time

import httpx
import numpy as np
import pytest
from http_helpers import SERVICE, HttpServerProcess, envelope, stream_json, unary
from PIL import Image

pytestmark = pytest.mark.timeout(120)


def _assert_error(response: httpx.Response, status: int, code: str) -> dict:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/json"
    body = response.json()
    assert body["code"] == code, body
    assert body["message"]
    return body


def test_malformed_json_is_invalid_argument(http_server: HttpServerProcess) -> None:
    response = httpx.post(
        http_server.url + SERVICE + "GetJob",
        content=b'{"name": "jobs/x",',
        headers={"content-type": "application/json"},
    )
    body = _assert_error(response, 400, "invalid_argument")
    assert "not valid JSON" in body["message"]


def test_json_of_the_wrong_shape_is_invalid_argument(http_server: HttpServerProcess) -> None:
    response = unary(http_server.url, "ListJobs", {"pageSize": "many"})
    _assert_error(response, 400, "invalid_argument")


def test_malformed_protobuf_is_invalid_argument(http_server: HttpServerProcess) -> None:
    response = httpx.post(
        http_server.url + SERVICE + "GetJob",
        content=b"\x0a\xff\xff\xff",  # field 1, length far past the end
        headers={"content-type": "application/proto"},
    )
    _assert_error(response, 400, "invalid_argument")


def test_wrong_content_type_is_415_with_accepted_types(http_server: HttpServerProcess) -> None:
    response = httpx.post(
        http_server.url + SERVICE + "GetServerInfo",
        content=b"{}",
        headers={"content-type": "text/plain"},
    )
    assert response.status_code == 415
    assert "application/json" in response.headers["accept-post"]
    # A streaming content type on a unary method is just as wrong.
    response = httpx.post(
        http_server.url + SERVICE + "GetServerInfo",
        content=envelope(b"{}"),
        headers={"content-type": "application/connect+json"},
    )
    assert response.status_code == 415


def test_unknown_method_is_404_unimplemented(http_server: HttpServerProcess) -> None:
    response = unary(http_server.url, "DeleteEverything", {})
    body = _assert_error(response, 404, "unimplemented")
    assert "GetServerInfo" in body["message"]  # says what exists


def test_get_on_a_method_is_405(http_server: HttpServerProcess) -> None:
    response = httpx.get(http_server.url + SERVICE + "GetServerInfo")
    assert response.status_code == 405
    assert response.headers["allow"] == "POST"


def test_declared_oversized_body_is_refused_before_it_is_read(
    http_server: HttpServerProcess,
) -> None:
    # Only the headers go out: the server must answer from Content-Length alone.
    with socket.create_connection(("127.0.0.1", http_server.http_port), timeout=10) as sock:
        started = time.monotonic()
        sock.sendall(
            (
                f"POST {SERVICE}CreateJob HTTP/1.1\r\nHost: x\r\n"
                "Content-Type: application/json\r\nContent-Length: 900000000\r\n\r\n"
            ).encode()
        )
        reply = b""
        while b"resource_exhausted" not in reply:  # headers and body may arrive apart
            chunk = sock.recv(65536)
            if not chunk:
                break
            reply += chunk
        elapsed = time.monotonic() - started
    text = reply.decode("latin-1")
    assert text.startswith("HTTP/1.1 413"), text
    assert '"code":"resource_exhausted"' in text
    assert elapsed < 2.0


def test_oversized_body_without_length_is_refused(http_server: HttpServerProcess) -> None:
    def chunks():  # chunked transfer encoding: no Content-Length to look at
        for _ in range(8):
            yield b"A" * (512 * 1024)

    started = time.monotonic()
    response = httpx.post(
        http_server.url + SERVICE + "CreateJob",
        content=chunks(),
        headers={"content-type": "application/json"},
        timeout=30,
    )
    _assert_error(response, 413, "resource_exhausted")
    assert time.monotonic() - started < 5.0


def test_oversized_image_in_a_stream_call_is_refused(http_server: HttpServerProcess) -> None:
    image = base64.b64encode(b"\x89PNG" + b"\0" * (3 * 1024 * 1024)).decode()
    response = httpx.post(
        http_server.url + SERVICE + "GenerateAsset",
        content=envelope(json.dumps({"job": {"image": image}}).encode()),
        headers={"content-type": "application/connect+json"},
        timeout=30,
    )
    _assert_error(response, 413, "resource_exhausted")


def test_not_an_image_is_invalid_argument_with_field_details(
    http_server: HttpServerProcess,
) -> None:
    not_png = base64.b64encode(b"this is text, not pixels").decode()
    body = _assert_error(
        unary(http_server.url, "CreateJob", {"image": not_png}), 400, "invalid_argument"
    )
    assert any(d["type"] == "google.rpc.BadRequest" for d in body.get("details", []))


def test_unknown_job_is_not_found_in_unary_and_stream(http_server: HttpServerProcess) -> None:
    _assert_error(unary(http_server.url, "GetJob", {"name": "jobs/nope"}), 404, "not_found")
    messages, end = stream_json(http_server.url, "WatchJob", {"name": "jobs/nope"})
    assert messages == []
    assert end["error"]["code"] == "not_found"


def test_broken_stream_envelope_ends_the_stream_with_invalid_argument(
    http_server: HttpServerProcess,
) -> None:
    response = httpx.post(
        http_server.url + SERVICE + "WatchJob",
        content=b"\x00\x00\x00\x00\x40{}",  # says 64 bytes, carries 2
        headers={"content-type": "application/connect+json"},
    )
    assert response.status_code == 200
    flags, length = response.content[0], int.from_bytes(response.content[1:5], "big")
    assert flags == 0x02
    assert json.loads(response.content[5 : 5 + length])["error"]["code"] == "invalid_argument"


def test_bad_protocol_headers_are_invalid_argument(http_server: HttpServerProcess) -> None:
    bad_version = unary(
        http_server.url, "GetServerInfo", {}, headers={"connect-protocol-version": "2"}
    )
    _assert_error(bad_version, 400, "invalid_argument")
    bad_timeout = unary(http_server.url, "GetServerInfo", {}, headers={"connect-timeout-ms": "-5"})
    _assert_error(bad_timeout, 400, "invalid_argument")


def test_server_keeps_serving_after_bad_input(http_server: HttpServerProcess) -> None:
    for payload in (b"{", b"[]", b"\xff\xfe", b"null", b'{"pageSize": 1e999}'):
        response = httpx.post(
            http_server.url + SERVICE + "ListJobs",
            content=payload,
            headers={"content-type": "application/json"},
        )
        assert response.status_code == 400, (payload, response.text)
    info = unary(http_server.url, "GetServerInfo", {})
    assert info.status_code == 200
    assert info.json()["limits"]["maxUploadBytes"] == str(2 * 1024 * 1024)  # int64 as string


def test_an_image_just_under_the_upload_limit_is_accepted_over_json(
    http_server: HttpServerProcess,
) -> None:
    # Base64 makes JSON bodies 4/3 larger than the image: the HTTP limit must allow for that.
    noise = np.random.default_rng(0).integers(0, 256, (820, 820, 3), dtype=np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(noise).save(buffer, "PNG", compress_level=0)
    image = buffer.getvalue()
    assert 1.9 * 1024 * 1024 < len(image) < 2 * 1024 * 1024
    created = unary(http_server.url, "CreateJob", {"image": base64.b64encode(image).decode()})
    assert created.status_code == 200, created.text
    unary(http_server.url, "CancelJob", {"name": created.json()["name"]})
