# SPDX-License-Identifier: MIT
"""End to end through a real `trellis2 serve` with the preview backend: the CLI, streamed
events, resume, cancel, cache, idempotency, downloads, and peers that are not ours."""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import grpc
import pytest
from server_helpers import TERMINAL, collect, job_request, make_png
from trellis2_server.api._gen.trellis2.v1 import asset_generation_pb2 as pb

IMAGES = ("*.png", "*.jpg")


def _shared_images(shared_dir: Path) -> list[Path]:
    images = sorted(p for pattern in IMAGES for p in (shared_dir / "images").glob(pattern))
    assert images, "no images in shared/images"
    return images


@pytest.fixture(scope="module")
def cli_outputs(preview_server, shared_dir: Path, tmp_path_factory) -> tuple[Path, str]:
    out = tmp_path_factory.mktemp("cli-out")
    result = subprocess.run(
        [
            sys.executable, "-m", "trellis2_server.cli", "generate",
            *map(str, _shared_images(shared_dir)), "-o", str(out),
            "--server", preview_server.address, "--resolution", "512",
            "--texture-size", "256", "--decimation", "3000",
        ],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    return out, result.stdout + result.stderr


def test_cli_generate_writes_one_glb_per_shared_image(cli_outputs, shared_dir: Path) -> None:
    out, log = cli_outputs
    for image in _shared_images(shared_dir):
        glb = out / f"{image.stem}.glb"
        assert glb.is_file(), log
        assert glb.read_bytes()[:4] == b"glTF"
    # Without a TTY the progress is plain lines with stage and ETA.
    assert "eta" in log and "wrote" in log


@pytest.mark.npm
def test_every_cli_glb_passes_the_khronos_gltf_validator(cli_outputs, repo_dir: Path) -> None:
    out, _ = cli_outputs
    files = sorted(out.glob("*.glb"))
    reports = _node(repo_dir, "validate_gltf.cjs", *map(str, files))
    assert len(reports) == len(files)
    for report in reports:
        assert report["errors"] == 0, report


def _node(repo_dir: Path, script: str, *args: str) -> list[dict]:
    env = dict(os.environ, NODE_PATH=str(repo_dir / "tools/node/node_modules"))
    result = subprocess.run(
        ["node", str(Path(__file__).parent / script), *args],
        capture_output=True, text=True, env=env, timeout=120,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    return [json.loads(line) for line in result.stdout.splitlines() if line.strip()]


def test_cli_exits_non_zero_with_a_clear_message_on_bad_input(preview_server, tmp_path) -> None:
    bad = tmp_path / "notes.png"
    bad.write_text("not an image")
    result = subprocess.run(
        [sys.executable, "-m", "trellis2_server.cli", "generate", str(bad), "-o", str(tmp_path),
         "--server", preview_server.address],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert result.returncode == 1
    assert "INVALID_ARGUMENT" in result.stderr and "not a PNG, JPEG or WebP" in result.stderr


async def test_events_arrive_with_strictly_increasing_seq(stub, small_png) -> None:
    job = await stub.CreateJob(job_request(small_png, seed=101))
    events = await collect(stub, job.name)
    seqs = [ev.seq for ev in events]
    assert seqs == list(range(1, len(seqs) + 1))
    kinds = [ev.WhichOneof("event") for ev in events]
    assert kinds[0] == "queued" and kinds[-1] == "completed" and "started" in kinds
    progress = [ev.progress for ev in events if ev.WhichOneof("event") == "progress"]
    assert progress and all(0 <= p.fraction <= 1 for p in progress)
    assert [p.fraction for p in progress] == sorted(p.fraction for p in progress)
    done = events[-1].completed
    assert done.artifacts[0].media_type == "model/gltf-binary"
    assert done.stats.triangle_count > 0
    # Previews (coarse voxels, untextured mesh) arrive before completion, as fetchable GLBs.
    previews = [ev.preview for ev in events if ev.WhichOneof("event") == "preview"]
    assert {p.kind for p in previews} == {pb.PREVIEW_KIND_VOXELS, pb.PREVIEW_KIND_MESH}
    for p in previews:
        req = pb.FetchArtifactRequest(digest=p.artifact.digest)
        data = b"".join([c.data async for c in stub.FetchArtifact(req)])
        assert data[:4] == b"glTF" and len(data) == p.artifact.size_bytes


async def test_a_watcher_that_reconnects_with_after_seq_misses_nothing(stub, small_png) -> None:
    job = await stub.CreateJob(job_request(small_png, seed=102))
    first = []
    call = stub.WatchJob(pb.WatchJobRequest(name=job.name))
    async for ev in call:
        if ev.WhichOneof("event") != "heartbeat":
            first.append(ev)
        if len(first) == 3:
            break
    call.cancel()  # the client hangs up mid-stream; the job goes on
    rest = await collect(stub, job.name, after_seq=first[-1].seq)
    full = await collect(stub, job.name)
    assert [e.SerializeToString() for e in first + rest] == [e.SerializeToString() for e in full]


async def test_cancel_while_queued_emits_canceled_and_heartbeats_keep_idle_watches_alive(
    stub, small_png
) -> None:
    running = await stub.CreateJob(
        job_request(
            make_png(160), seed=103, export={"texture_size": 1024, "decimation_target": 20000}
        )
    )
    queued = await stub.CreateJob(job_request(small_png, seed=104))
    assert queued.state == pb.JOB_STATE_QUEUED
    call = stub.WatchJob(pb.WatchJobRequest(name=queued.name))
    kinds = []
    async for ev in call:
        kinds.append(ev.WhichOneof("event"))
        if kinds[-1] == "heartbeat":
            break
    assert kinds == ["queued", "heartbeat"]
    canceled = await stub.CancelJob(pb.CancelJobRequest(name=queued.name))
    assert canceled.state == pb.JOB_STATE_CANCELED
    events = await collect(stub, queued.name)
    assert [e.WhichOneof("event") for e in events] == ["queued", "canceled"]
    assert not events[-1].canceled.was_running
    again = await stub.CancelJob(pb.CancelJobRequest(name=queued.name))  # a no-op now
    assert again.state == pb.JOB_STATE_CANCELED and again.last_seq == 2
    await stub.CancelJob(pb.CancelJobRequest(name=running.name))
    await collect(stub, running.name)


async def test_cancel_while_running_stops_at_the_next_step(stub) -> None:
    big = make_png(200, "teal")
    job = await stub.CreateJob(
        job_request(big, seed=105, export={"texture_size": 2048, "decimation_target": 50000})
    )
    async for ev in stub.WatchJob(pb.WatchJobRequest(name=job.name)):
        if ev.WhichOneof("event") == "progress":
            break
    await stub.CancelJob(pb.CancelJobRequest(name=job.name))
    events = await collect(stub, job.name)
    assert events[-1].WhichOneof("event") == "canceled", events[-1]
    assert events[-1].canceled.was_running
    got = await stub.GetJob(pb.GetJobRequest(name=job.name))
    assert got.state == pb.JOB_STATE_CANCELED


async def test_an_identical_request_completes_from_the_cache_at_once(stub, small_png) -> None:
    req = job_request(small_png, seed=106)
    first = await stub.CreateJob(req)
    done = (await collect(stub, first.name))[-1].completed
    again = await stub.CreateJob(req)
    assert again.name != first.name
    assert again.state == pb.JOB_STATE_SUCCEEDED  # already finished when CreateJob returns
    assert again.artifacts[0].digest == done.artifacts[0].digest
    assert again.stats.cache_hit and not done.stats.cache_hit
    events = await collect(stub, again.name)
    assert [e.WhichOneof("event") for e in events] == ["completed"]


async def test_a_repeated_request_id_returns_the_original_job(stub, small_png) -> None:
    req = job_request(small_png, seed=107, request_id="client-key-107")
    first = await stub.CreateJob(req)
    again = await stub.CreateJob(req)
    assert again.name == first.name
    await collect(stub, first.name)
    listed = await stub.ListJobs(pb.ListJobsRequest(page_size=500))
    assert sum(j.request_id == "client-key-107" for j in listed.jobs) == 1


async def test_fetch_artifact_streams_capped_chunks_and_resumes_from_an_offset(
    stub, small_png
) -> None:
    job = await stub.CreateJob(job_request(small_png, seed=108))
    art = (await collect(stub, job.name))[-1].completed.artifacts[0]
    whole = b"".join(
        [c.data async for c in stub.FetchArtifact(pb.FetchArtifactRequest(digest=art.digest))]
    )
    assert len(whole) == art.size_bytes and hashlib.sha256(whole).hexdigest() == art.digest
    half = art.size_bytes // 2
    chunks = [
        c async for c in stub.FetchArtifact(
            pb.FetchArtifactRequest(digest=art.digest, offset=half, chunk_size=4096)
        )
    ]  # fmt: skip
    assert all(len(c.data) <= 4096 for c in chunks) and chunks[0].media_type == art.media_type
    assert chunks[0].offset == half and all(c.total_size == art.size_bytes for c in chunks)
    assert b"".join(c.data for c in chunks) == whole[half:]


async def test_server_info_reports_backend_limits_and_queue(stub) -> None:
    info = await stub.GetServerInfo(pb.GetServerInfoRequest())
    assert info.default_backend == "preview" and info.backends[0].loaded
    assert info.limits.chunk_size_bytes < 4 * 1024 * 1024
    assert info.limits.max_upload_bytes == 1_000_000  # the flag given to this server
    assert info.workers == 1 and not info.auth_required


async def test_generate_asset_submits_and_streams_in_one_call(stub, small_png) -> None:
    req = pb.GenerateAssetRequest(job=job_request(small_png, seed=109))
    kinds = [ev.WhichOneof("event") async for ev in stub.GenerateAsset(req)]
    assert kinds[0] == "queued" and kinds[-1] == "completed"


@pytest.mark.npm
def test_a_grpc_js_peer_reads_server_info_and_watches_a_job(preview_server, repo_dir, tmp_path):
    image = tmp_path / "peer.png"
    image.write_bytes(make_png(64, "purple"))
    (out,) = _node(
        repo_dir, "peer_client.cjs", preview_server.address, str(repo_dir / "proto"), str(image)
    )
    assert out["info"]["default_backend"] == "preview"
    seqs = [e["seq"] for e in out["events"] if e["kind"] != "heartbeat"]
    assert seqs == list(range(1, len(seqs) + 1))
    assert out["events"][-1]["kind"] == "completed"


def test_the_gateway_process_never_loads_torch(preview_server, cli_outputs) -> None:
    maps = Path(f"/proc/{preview_server.proc.pid}/maps").read_text()
    assert "libtorch" not in maps and "libcuda" not in maps
    code = (
        "import sys, trellis2_server.cli, trellis2_server.server, trellis2_server.core.service;"
        "bad = [m for m in sys.modules if m == 'torch' or m.startswith(('torch.', 'trellis2.'))];"
        "print(bad); sys.exit(1 if bad else 0)"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


async def test_watch_streams_end_only_for_the_client_that_hangs_up(stub, small_png) -> None:
    job = await stub.CreateJob(job_request(small_png, seed=110))
    quitter = stub.WatchJob(pb.WatchJobRequest(name=job.name))
    stayer = asyncio.ensure_future(collect(stub, job.name))
    await quitter.read()
    quitter.cancel()
    events = await stayer
    assert events[-1].WhichOneof("event") in TERMINAL
    assert events[-1].WhichOneof("event") == "completed"


async def test_an_unreachable_server_is_a_clear_cli_error(tmp_path) -> None:
    image = tmp_path / "a.png"
    image.write_bytes(make_png())
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "trellis2_server.cli", "jobs", "list", "--server", "127.0.0.1:1",
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    _, err = await proc.communicate()
    assert proc.returncode == 1 and b"cannot reach the server" in err


def test_reflection_lists_the_generation_and_health_services(preview_server) -> None:
    from grpc_reflection.v1alpha.proto_reflection_descriptor_database import (
        ProtoReflectionDescriptorDatabase,
    )

    with grpc.insecure_channel(preview_server.address) as ch:
        services = set(ProtoReflectionDescriptorDatabase(ch).get_services())
    assert {"trellis2.v1.AssetGenerationService", "grpc.health.v1.Health"} <= services


def test_auto_backend_without_weights_is_the_preview_backend_and_says_why(tmp_path) -> None:
    from trellis2_server.config import ServerConfig
    from trellis2_server.core.service import resolve_backend

    name, reason = resolve_backend(ServerConfig(backend="auto", weights_dir=None))
    assert name == "preview" and "weights" in reason
    (tmp_path / "w").mkdir()
    name, reason = resolve_backend(ServerConfig(backend="auto", weights_dir=tmp_path / "w"))
    assert name == "preview" and "no weights in" in reason


@pytest.mark.npm
def test_cli_writes_a_valid_gltf_container_with_its_companion_files(
    preview_server, repo_dir: Path, tmp_path: Path
) -> None:
    image = tmp_path / "gltf_disc.png"
    image.write_bytes(make_png(72, "navy"))
    result = subprocess.run(
        [
            sys.executable, "-m", "trellis2_server.cli", "generate", str(image), "-o",
            str(tmp_path / "out"), "--server", preview_server.address, "--resolution", "512",
            "--texture-size", "256", "--decimation", "2000", "--container", "gltf",
            "--texture-format", "jpeg", "--profile", "godot", "--extra-texture", "orm",
        ],
        capture_output=True, text=True, timeout=180,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    folder = tmp_path / "out" / "gltf_disc"
    gltf = json.loads((folder / "gltf_disc.gltf").read_text())
    uris = [b["uri"] for b in gltf["buffers"]] + [i["uri"] for i in gltf.get("images", [])]
    assert uris and all((folder / uri).is_file() for uri in uris)
    assert any("orm" in p.name for p in folder.iterdir())
    (report,) = _node(repo_dir, "validate_gltf.cjs", str(folder / "gltf_disc.gltf"))
    assert report["errors"] == 0, report
