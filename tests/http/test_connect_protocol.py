# SPDX-License-Identifier: MIT
"""The Connect wire rules and ASGI plumbing, without a server: envelopes, codes, codecs,
timeouts, bounded gzip, disconnect handling and the not-built dashboard page."""

from __future__ import annotations

import asyncio
import gzip
import json

import pytest
from grpc import StatusCode
from trellis2_server.api._gen.trellis2.v1 import asset_generation_pb2 as pb
from trellis2_server.api.connect import METHODS, to_connect_error
from trellis2_server.api.connect_protocol import (
    CODES,
    JSON,
    PROTO,
    ConnectError,
    decompress,
    end_stream,
    envelope,
    parse_timeout,
    read_single_envelope,
)
from trellis2_server.core.errors import InvalidArgument, Unavailable
from trellis2_server.http.artifacts import parse_range
from trellis2_server.http.asgi import until_disconnect
from trellis2_server.http.dashboard import Dashboard


def test_every_service_method_is_routed_with_its_streaming_kind() -> None:
    assert set(METHODS) == {
        "CreateJob", "WatchJob", "GenerateAsset", "CancelJob", "GetJob", "ListJobs",
        "FetchArtifact", "GetServerInfo",
    }  # fmt: skip
    streaming = {name for name, m in METHODS.items() if m.streaming}
    assert streaming == {"WatchJob", "GenerateAsset", "FetchArtifact"}
    assert METHODS["GetServerInfo"].attr == "get_server_info"


def test_every_grpc_code_has_a_connect_name_and_the_spec_http_status() -> None:
    assert len(CODES) == 16  # every code but OK
    assert CODES[StatusCode.CANCELLED] == ("canceled", 499)
    assert CODES[StatusCode.DEADLINE_EXCEEDED] == ("deadline_exceeded", 504)
    assert CODES[StatusCode.FAILED_PRECONDITION] == ("failed_precondition", 400)
    assert CODES[StatusCode.UNIMPLEMENTED] == ("unimplemented", 501)
    assert CODES[StatusCode.RESOURCE_EXHAUSTED] == ("resource_exhausted", 429)


def test_envelopes_round_trip_and_end_stream_is_json_with_flag_2() -> None:
    payload = PROTO.encode(pb.WatchJobRequest(name="jobs/a", after_seq=3))
    assert read_single_envelope(envelope(payload), None, 1024) == payload
    end = end_stream(ConnectError(StatusCode.NOT_FOUND, "gone"))
    assert end[0] == 0x02
    assert json.loads(end[5:]) == {"error": {"code": "not_found", "message": "gone"}}
    assert json.loads(end_stream()[5:]) == {}


def test_compressed_envelopes_need_an_encoding_and_stay_bounded() -> None:
    payload = b'{"name": "jobs/a"}'
    packed = envelope(gzip.compress(payload), flags=0x01)
    assert read_single_envelope(packed, "gzip", 1024) == payload
    with pytest.raises(ConnectError) as missing:
        read_single_envelope(packed, None, 1024)
    assert missing.value.code == StatusCode.INVALID_ARGUMENT
    bomb = gzip.compress(b"\0" * 10_000_000)  # ~10 KB that inflates to 10 MB
    with pytest.raises(ConnectError) as too_big:
        decompress(bomb, "gzip", 1024 * 1024)
    assert too_big.value.http_status == 413
    with pytest.raises(ConnectError) as unknown:
        decompress(b"x", "br", 1024)
    assert unknown.value.code == StatusCode.UNIMPLEMENTED


def test_json_codec_uses_the_canonical_mapping() -> None:
    job = pb.Job(name="jobs/a", state=pb.JOB_STATE_RUNNING, last_seq=2**40)
    encoded = json.loads(JSON.encode(job))
    assert encoded == {"name": "jobs/a", "state": "JOB_STATE_RUNNING", "lastSeq": str(2**40)}
    decoded = JSON.decode(
        b'{"afterSeq": "5", "name": "jobs/a", "futureField": 1}', pb.WatchJobRequest
    )
    assert decoded == pb.WatchJobRequest(name="jobs/a", after_seq=5)
    assert JSON.decode(b"", pb.GetServerInfoRequest) == pb.GetServerInfoRequest()
    for bad in (b"[]", b"null", b'"x"', b"{", b'{"afterSeq": "five"}'):
        with pytest.raises(ConnectError):
            JSON.decode(bad, pb.WatchJobRequest)


def test_timeout_header_is_milliseconds_of_at_most_ten_digits() -> None:
    assert parse_timeout(None) is None
    assert parse_timeout("1500") == 1.5
    for bad in ("-1", "1.5", "12345678901", "soon"):
        with pytest.raises(ConnectError):
            parse_timeout(bad)


def test_core_errors_keep_their_code_and_carry_details() -> None:
    error = to_connect_error(InvalidArgument("image is empty", field="image"))
    body = error.to_json()
    assert (body["code"], error.http_status) == ("invalid_argument", 400)
    assert body["details"][0]["type"] == "google.rpc.BadRequest"
    retry = to_connect_error(Unavailable("shutting down", retry_after=5.0)).to_json()
    assert retry["details"][0]["type"] == "google.rpc.RetryInfo"
    hidden = to_connect_error(RuntimeError("secret path /x"))
    assert hidden.to_json() == {
        "code": "internal",
        "message": "internal server error; see the server log",
    }


def test_range_header_parsing() -> None:
    assert parse_range(None, 100) is None
    assert parse_range("bytes=0-9", 100) == (0, 9)
    assert parse_range("bytes=90-", 100) == (90, 99)
    assert parse_range("bytes=-10", 100) == (90, 99)
    assert parse_range("bytes=50-1000", 100) == (50, 99)
    assert parse_range("bytes=100-", 100) == "unsatisfiable"
    assert parse_range("bytes=-0", 100) == "unsatisfiable"
    assert parse_range("bytes=9-2", 100) is None  # invalid: ignored
    assert parse_range("bytes=0-1,5-6", 100) is None  # several ranges: whole file
    assert parse_range("items=0-1", 100) is None


async def test_a_hangup_cancels_the_response_writer() -> None:
    started, cancelled = asyncio.Event(), asyncio.Event()

    async def writer() -> None:
        started.set()
        try:
            await asyncio.sleep(3600)
        except asyncio.CancelledError:
            cancelled.set()
            raise

    async def receive() -> dict:
        await started.wait()
        return {"type": "http.disconnect"}

    finished = await asyncio.wait_for(until_disconnect(writer(), receive), 5)
    assert finished is False
    assert cancelled.is_set()


async def test_dashboard_without_a_build_explains_how_to_build_it(tmp_path) -> None:
    sent: list[dict] = []

    async def send(message: dict) -> None:
        sent.append(message)

    async def receive() -> dict:
        return {"type": "http.request", "body": b""}

    scope = {"type": "http", "method": "GET", "path": "/", "headers": []}
    await Dashboard(tmp_path)(scope, receive, send)
    assert sent[0]["status"] == 503
    assert b"scripts/build-dashboard.sh" in sent[1]["body"]
