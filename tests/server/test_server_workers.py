# SPDX-License-Identifier: MIT
"""Scheduling, worker crashes, timeouts, auth and graceful stop, through real gRPC against an
in-process server with real worker processes. The backend is `SleepyBackendTestDouble`, a
test double (no real generation), because these tests are about the job machinery only."""

from __future__ import annotations

import os
from pathlib import Path

import grpc
import pytest
from server_helpers import collect, job_request, make_png
from trellis2_server.api._gen.trellis2.v1 import asset_generation_pb2 as pb
from trellis2_server.api._gen.trellis2.v1 import asset_generation_pb2_grpc as pb_grpc
from trellis2_server.config import ServerConfig
from trellis2_server.server import RunningServer, start_server

DOUBLE = "backend_test_double:SleepyBackendTestDouble"


async def _start(tmp_path: Path, **overrides: object) -> RunningServer:
    config = ServerConfig(
        data_dir=tmp_path / "data", host="127.0.0.1", grpc_port=0, http_port=-1, workers=1,
        heartbeat_interval=0.5, **overrides,
    )  # fmt: skip
    server = await start_server(config, backend_factory=DOUBLE)
    await server.service.wait_ready(60)
    return server


def _stub(channel: grpc.aio.Channel) -> pb_grpc.AssetGenerationServiceStub:
    return pb_grpc.AssetGenerationServiceStub(channel)


async def test_a_crashed_worker_is_restarted_and_its_job_runs_again(tmp_path: Path) -> None:
    server = await _start(tmp_path)
    try:
        async with grpc.aio.insecure_channel(f"127.0.0.1:{server.grpc_port}") as ch:
            stub = _stub(ch)
            job = await stub.CreateJob(job_request(make_png(), display_name="crash"))
            events = await collect(stub, job.name)
            kinds = [ev.WhichOneof("event") for ev in events]
            assert kinds[-1] == "completed"
            assert kinds.count("started") == 2 and kinds.count("queued") == 2
            assert (await stub.GetJob(pb.GetJobRequest(name=job.name))).attempt == 2
    finally:
        await server.stop(0)


async def test_a_backend_error_fails_the_job_with_its_message(tmp_path: Path) -> None:
    server = await _start(tmp_path)
    try:
        async with grpc.aio.insecure_channel(f"127.0.0.1:{server.grpc_port}") as ch:
            stub = _stub(ch)
            job = await stub.CreateJob(job_request(make_png(), display_name="fail"))
            events = await collect(stub, job.name)
            failed = events[-1].failed
            assert failed.error.code == grpc.StatusCode.INTERNAL.value[0]
            assert "the test double was told to fail" in failed.error.message
            # The worker survives a failed job and runs the next one.
            job2 = await stub.CreateJob(job_request(make_png(), display_name="ok"))
            assert (await collect(stub, job2.name))[-1].WhichOneof("event") == "completed"
    finally:
        await server.stop(0)


async def test_a_job_over_the_timeout_fails_with_deadline_exceeded(tmp_path: Path) -> None:
    server = await _start(tmp_path, job_timeout=0.6, lease_duration=1.5)
    try:
        async with grpc.aio.insecure_channel(f"127.0.0.1:{server.grpc_port}") as ch:
            stub = _stub(ch)
            job = await stub.CreateJob(job_request(make_png(), display_name="slow"))
            events = await collect(stub, job.name)
            error = events[-1].failed.error
            assert error.code == grpc.StatusCode.DEADLINE_EXCEEDED.value[0]
            assert "job timeout" in error.message
    finally:
        await server.stop(0)


async def test_teams_take_turns_and_only_see_their_own_jobs(tmp_path: Path) -> None:
    keys = tmp_path / "keys.txt"
    keys.write_text("# key team\nkey-a team-a\nkey-b team-b\n")
    server = await _start(tmp_path, api_keys_file=keys)
    md = {t: (("authorization", f"Bearer key-{t}"),) for t in "ab"}
    try:
        async with grpc.aio.insecure_channel(f"127.0.0.1:{server.grpc_port}") as ch:
            stub = _stub(ch)
            with pytest.raises(grpc.aio.AioRpcError) as err:
                await stub.GetServerInfo(pb.GetServerInfoRequest())
            assert err.value.code() == grpc.StatusCode.UNAUTHENTICATED
            with pytest.raises(grpc.aio.AioRpcError) as err:
                await stub.GetServerInfo(
                    pb.GetServerInfoRequest(), metadata=(("authorization", "Bearer nope"),)
                )
            assert err.value.code() == grpc.StatusCode.UNAUTHENTICATED
            # A slow job holds the only worker while both teams queue up.
            blocker = await stub.CreateJob(
                job_request(make_png(), display_name="slow"), metadata=md["a"]
            )
            jobs = []
            for team, n in (("a", 3), ("b", 2)):
                for i in range(n):
                    req = job_request(make_png(), display_name=f"{team}{i}", seed=i)
                    jobs.append(await stub.CreateJob(req, metadata=md[team]))
            for job in jobs:
                await collect_as(stub, job, md[job.team[-1]])
            finished = []
            for job in jobs:
                got = await stub.GetJob(pb.GetJobRequest(name=job.name), metadata=md[job.team[-1]])
                finished.append((got.start_time.ToNanoseconds(), got.spec.display_name))
            order = [name for _, name in sorted(finished)]
            assert order == ["b0", "a0", "b1", "a1", "a2"]
            with pytest.raises(grpc.aio.AioRpcError) as err:
                await stub.GetJob(pb.GetJobRequest(name=blocker.name), metadata=md["b"])
            assert err.value.code() == grpc.StatusCode.NOT_FOUND
            mine = await stub.ListJobs(pb.ListJobsRequest(), metadata=md["b"])
            assert {j.team for j in mine.jobs} == {"team-b"} and len(mine.jobs) == 2
    finally:
        await server.stop(0)


async def collect_as(stub: pb_grpc.AssetGenerationServiceStub, job: pb.Job, md: tuple) -> None:
    async for ev in stub.WatchJob(pb.WatchJobRequest(name=job.name), metadata=md):
        if ev.WhichOneof("event") in ("completed", "failed", "canceled"):
            return


async def test_graceful_stop_requeues_running_work_and_a_restart_finishes_it(
    tmp_path: Path,
) -> None:
    server = await _start(tmp_path)
    async with grpc.aio.insecure_channel(f"127.0.0.1:{server.grpc_port}") as ch:
        stub = _stub(ch)
        job = await stub.CreateJob(job_request(make_png(), display_name="slow"))
        async for ev in stub.WatchJob(pb.WatchJobRequest(name=job.name)):
            if ev.WhichOneof("event") == "progress":
                break
    await server.stop(0)
    server = await _start(tmp_path)
    try:
        async with grpc.aio.insecure_channel(f"127.0.0.1:{server.grpc_port}") as ch:
            stub = _stub(ch)
            events = await collect(stub, job.name)
            kinds = [ev.WhichOneof("event") for ev in events]
            assert kinds[0] == "queued" and kinds[-1] == "completed"
            assert kinds.count("completed") == 1 and kinds.count("started") == 2
            assert [ev.seq for ev in events] == list(range(1, len(events) + 1))
    finally:
        await server.stop(0)


async def test_a_backend_that_cannot_load_keeps_health_down_and_refuses_jobs(
    tmp_path: Path,
) -> None:
    from grpc_health.v1 import health_pb2, health_pb2_grpc
    from trellis2_server.core.errors import Unavailable

    config = ServerConfig(data_dir=tmp_path / "data", host="127.0.0.1", grpc_port=0, http_port=-1)
    server = await start_server(
        config, backend_factory="backend_test_double:BrokenBackendTestDouble"
    )
    try:
        with pytest.raises(Unavailable, match="weights not found at /nowhere"):
            await server.service.wait_ready(60)
        async with grpc.aio.insecure_channel(f"127.0.0.1:{server.grpc_port}") as ch:
            health = health_pb2_grpc.HealthStub(ch)
            resp = await health.Check(health_pb2.HealthCheckRequest(service=""))
            assert resp.status == health_pb2.HealthCheckResponse.NOT_SERVING
            with pytest.raises(grpc.aio.AioRpcError) as err:
                await _stub(ch).CreateJob(job_request(make_png()))
            assert err.value.code() == grpc.StatusCode.UNAVAILABLE
            assert "weights not found" in (err.value.details() or "")
    finally:
        await server.stop(0)


async def test_a_full_queue_answers_resource_exhausted_with_retry_info(tmp_path: Path) -> None:
    from google.rpc import error_details_pb2
    from grpc_status import rpc_status

    server = await _start(tmp_path, max_queue_depth=1)
    try:
        async with grpc.aio.insecure_channel(f"127.0.0.1:{server.grpc_port}") as ch:
            stub = _stub(ch)
            running = await stub.CreateJob(job_request(make_png(), display_name="slow"))
            async for ev in stub.WatchJob(pb.WatchJobRequest(name=running.name)):
                if ev.WhichOneof("event") == "started":
                    break
            await stub.CreateJob(job_request(make_png(), display_name="waits", seed=1))
            call = stub.CreateJob(job_request(make_png(), display_name="refused", seed=2))
            with pytest.raises(grpc.aio.AioRpcError) as err:
                await call
            assert err.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
            assert "queue is full" in (err.value.details() or "")
            status = await rpc_status.aio.from_call(call)
            retry = error_details_pb2.RetryInfo()
            assert any(d.Unpack(retry) for d in status.details)
            assert retry.retry_delay.seconds > 0
    finally:
        await server.stop(0)


async def test_many_concurrent_watchers_each_get_every_event_once(tmp_path: Path) -> None:
    import asyncio

    server = await _start(tmp_path)
    try:
        async with grpc.aio.insecure_channel(f"127.0.0.1:{server.grpc_port}") as ch:
            stub = _stub(ch)
            job = await stub.CreateJob(job_request(make_png(), display_name="fanout"))
            results = await asyncio.gather(*(collect(stub, job.name) for _ in range(40)))
            full = await collect(stub, job.name)
            assert full[-1].WhichOneof("event") == "completed"
            expected = [ev.SerializeToString() for ev in full]
            for events in results:
                assert [ev.SerializeToString() for ev in events] == expected
    finally:
        await server.stop(0)


def test_workers_keep_compiled_kernels_and_autotuning_under_the_data_dir(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from trellis2_server.workers.process import configure_gpu_runtime

    monkeypatch.delenv("TRITON_CACHE_DIR", raising=False)
    monkeypatch.delenv("TRITON_CACHE_AUTOTUNING", raising=False)
    monkeypatch.delenv("PYTORCH_CUDA_ALLOC_CONF", raising=False)
    configure_gpu_runtime(tmp_path / "data")
    assert os.environ["TRITON_CACHE_DIR"] == str(tmp_path / "data" / "triton-cache")
    assert os.environ["TRITON_CACHE_AUTOTUNING"] == "1"
    assert os.environ["PYTORCH_CUDA_ALLOC_CONF"] == "expandable_segments:True"
    # An operator's own setting wins.
    monkeypatch.setenv("TRITON_CACHE_DIR", "/srv/cache")
    configure_gpu_runtime(tmp_path / "data")
    assert os.environ["TRITON_CACHE_DIR"] == "/srv/cache"
