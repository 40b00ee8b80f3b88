# SPDX-License-Identifier: MIT
"""Bad input gets INVALID_ARGUMENT naming the problem, quickly and before queueing; unknown jobs
and artifacts get NOT_FOUND. The server never answers INTERNAL for them and keeps serving."""

from __future__ import annotations

import io
import struct
import time
import zlib

import grpc
import pytest
from PIL import Image
from server_helpers import job_request, make_png
from trellis2_server.api._gen.trellis2.v1 import asset_generation_pb2 as pb


def _png_header_only(width: int, height: int) -> bytes:
    """A PNG whose header claims `width`x`height` (a decompression bomb's shape)."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        crc = zlib.crc32(kind + body) & 0xFFFFFFFF
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", crc)

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    idat = zlib.compress(b"\0" * 64)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")


def _encoded(fmt: str, size: tuple[int, int] = (32, 32)) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", size, "red").save(buf, fmt)
    return buf.getvalue()


PNG = make_png(48)

BAD_IMAGES = {
    "empty": (b"", "empty"),
    "not_an_image": (b"hello, this is text", "not a PNG, JPEG or WebP"),
    "gif": (_encoded("GIF"), "not a PNG, JPEG or WebP"),
    "bmp": (_encoded("BMP"), "not a PNG, JPEG or WebP"),
    "truncated_png": (PNG[: len(PNG) // 2], "truncated or corrupt"),
    "truncated_jpeg": (_encoded("JPEG", (256, 256))[:300], "truncated or corrupt"),
    "too_many_pixels": (_encoded("PNG", (2100, 2000)), "too many pixels"),
    "decompression_bomb": (_png_header_only(60000, 60000), "too many pixels"),
    "too_many_bytes": (PNG + b"\0" * 1_000_000, "too large"),
}

BAD_PARAMS = {
    "steps_zero": ({"sparse_structure_sampler": pb.SamplerParams(steps=0)}, "steps"),
    "steps_high": ({"shape_slat_sampler": pb.SamplerParams(steps=101)}, "steps"),
    "guidance": ({"tex_slat_sampler": pb.SamplerParams(guidance_strength=25)}, "guidance"),
    "rescale_t": ({"tex_slat_sampler": pb.SamplerParams(rescale_t=0.5)}, "rescale_t"),
    "interval_order": (
        {
            "shape_slat_sampler": pb.SamplerParams(
                guidance_interval_start=0.9, guidance_interval_end=0.1
            )
        },
        "guidance_interval_start",
    ),
    "texture_not_pow2": ({"export": {"texture_size": 300}}, "texture_size"),
    "texture_small": ({"export": {"texture_size": 128}}, "texture_size"),
    "texture_large": ({"export": {"texture_size": 16384}}, "texture_size"),
    "decimation_low": ({"export": {"decimation_target": 10}}, "decimation_target"),
    "decimation_high": ({"export": {"decimation_target": 50_000_000}}, "decimation_target"),
    "webp_for_unity": (
        {"export": {"texture_format": pb.TEXTURE_FORMAT_WEBP, "profile": pb.OUTPUT_PROFILE_UNITY}},
        "unity",
    ),
    "unknown_format_enum": ({"export": {"texture_format": 42}}, "texture_format"),
    "unknown_pipeline": ({"pipeline_type": 9}, "pipeline_type"),
    "priority": ({"priority": 11}, "priority"),
    "negative_seed": ({"seed": -1}, "seed"),
    "request_id_long": ({"request_id": "x" * 129}, "request_id"),
    "request_id_space": ({"request_id": "a b"}, "request_id"),
    "unknown_backend": ({"backend": "magic"}, "backend"),
}


async def _expect(call, code: grpc.StatusCode, words: str) -> None:  # type: ignore[no-untyped-def]
    t0 = time.monotonic()
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await call
    assert err.value.code() == code, err.value.details()
    assert words.lower() in (err.value.details() or "").lower()
    assert time.monotonic() - t0 < 3.0, "bad input must be refused quickly"


@pytest.mark.parametrize("case", sorted(BAD_IMAGES))
async def test_a_bad_image_is_refused_with_invalid_argument(stub, case: str) -> None:
    data, words = BAD_IMAGES[case]
    before = await stub.GetServerInfo(pb.GetServerInfoRequest())
    await _expect(stub.CreateJob(job_request(data)), grpc.StatusCode.INVALID_ARGUMENT, words)
    after = await stub.GetServerInfo(pb.GetServerInfoRequest())
    assert after.queue_depth <= before.queue_depth  # nothing was queued


@pytest.mark.parametrize("case", sorted(BAD_PARAMS))
async def test_an_out_of_range_parameter_is_refused_naming_it(stub, case: str) -> None:
    fields, words = BAD_PARAMS[case]
    await _expect(
        stub.CreateJob(job_request(PNG, **dict(fields))), grpc.StatusCode.INVALID_ARGUMENT, words
    )


async def test_a_backend_that_is_not_loaded_is_a_failed_precondition(stub) -> None:
    await _expect(
        stub.CreateJob(job_request(PNG, backend="trellis2")),
        grpc.StatusCode.FAILED_PRECONDITION,
        "not loaded",
    )


async def test_invalid_argument_carries_a_bad_request_detail(stub) -> None:
    from google.rpc import error_details_pb2
    from grpc_status import rpc_status

    call = stub.CreateJob(job_request(PNG, export={"texture_size": 300}))
    with pytest.raises(grpc.aio.AioRpcError):
        await call
    status = await rpc_status.aio.from_call(call)
    bad = error_details_pb2.BadRequest()
    assert status.details[0].Unpack(bad)
    assert bad.field_violations[0].field == "export_options.texture_size"


async def test_unknown_jobs_are_not_found_and_malformed_names_invalid(stub) -> None:
    missing = "jobs/0123456789abcdef0123456789abcdef"
    for call in (
        stub.GetJob(pb.GetJobRequest(name=missing)),
        stub.CancelJob(pb.CancelJobRequest(name=missing)),
        stub.WatchJob(pb.WatchJobRequest(name=missing)).read(),
    ):
        await _expect(call, grpc.StatusCode.NOT_FOUND, "not found")
    for name in ("", "job/abc", "jobs/../etc", "jobs/UPPER", "jobs/" + "a" * 70):
        await _expect(
            stub.GetJob(pb.GetJobRequest(name=name)), grpc.StatusCode.INVALID_ARGUMENT, "job name"
        )


async def test_bad_artifact_and_list_requests_are_refused(stub) -> None:
    fetch = stub.FetchArtifact(pb.FetchArtifactRequest(digest="nothex")).read()
    await _expect(fetch, grpc.StatusCode.INVALID_ARGUMENT, "digest")
    fetch = stub.FetchArtifact(pb.FetchArtifactRequest(digest="0" * 64)).read()
    await _expect(fetch, grpc.StatusCode.NOT_FOUND, "not found")
    await _expect(
        stub.ListJobs(pb.ListJobsRequest(page_token="garbage!")),
        grpc.StatusCode.INVALID_ARGUMENT,
        "page_token",
    )
    await _expect(
        stub.ListJobs(pb.ListJobsRequest(page_size=-1)),
        grpc.StatusCode.INVALID_ARGUMENT,
        "page_size",
    )


async def test_display_names_are_sanitised(stub) -> None:
    job = await stub.CreateJob(job_request(PNG, display_name="../../etc/pass wd\n<x>"))
    await stub.CancelJob(pb.CancelJobRequest(name=job.name))
    name = job.spec.display_name
    assert "/" not in name and "\n" not in name and "<" not in name and name


async def test_the_server_still_serves_after_all_the_bad_input(stub) -> None:
    info = await stub.GetServerInfo(pb.GetServerInfoRequest())
    assert info.backends[0].loaded
