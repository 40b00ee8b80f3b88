# SPDX-License-Identifier: MIT
"""Durability: a `trellis2 serve` killed with SIGKILL while jobs are queued and running loses
nothing on restart and completes every job exactly once; health goes NOT_SERVING → SERVING."""

from __future__ import annotations

import time
from pathlib import Path

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc
from server_helpers import ServerProcess, collect, job_request, make_png
from trellis2_server.api._gen.trellis2.v1 import asset_generation_pb2 as pb
from trellis2_server.api._gen.trellis2.v1 import asset_generation_pb2_grpc as pb_grpc


def test_health_reports_not_serving_until_the_backend_has_loaded(tmp_path: Path) -> None:
    server = ServerProcess(tmp_path / "data").start()
    try:
        with grpc.insecure_channel(server.address) as ch:
            stub = health_pb2_grpc.HealthStub(ch)
            statuses = []
            for resp in stub.Watch(health_pb2.HealthCheckRequest(service=""), timeout=60):
                statuses.append(resp.status)
                if resp.status == health_pb2.HealthCheckResponse.SERVING:
                    break
        serving = health_pb2.HealthCheckResponse.SERVING
        assert statuses[0] == health_pb2.HealthCheckResponse.NOT_SERVING
        assert statuses[-1] == serving
    finally:
        server.stop()


async def test_sigkill_with_jobs_queued_and_running_then_restart_completes_all_once(
    tmp_path: Path,
) -> None:
    data = tmp_path / "data"
    server = ServerProcess(data).start()
    server.wait_serving()
    async with grpc.aio.insecure_channel(server.address) as ch:
        stub = pb_grpc.AssetGenerationServiceStub(ch)
        # One worker: the first job runs while the other two wait in the queue.
        jobs = [await stub.CreateJob(job_request(make_png(64), seed=s)) for s in (1, 2, 3)]
        async for ev in stub.WatchJob(pb.WatchJobRequest(name=jobs[0].name)):
            if ev.WhichOneof("event") == "progress":
                break
    server.kill()
    time.sleep(0.5)
    server = ServerProcess(data).start()
    try:
        async with grpc.aio.insecure_channel(server.address) as ch:
            stub = pb_grpc.AssetGenerationServiceStub(ch)
            for i, job in enumerate(jobs):
                events = await collect(stub, job.name)
                kinds = [ev.WhichOneof("event") for ev in events]
                assert kinds.count("completed") == 1 and kinds[-1] == "completed", kinds
                assert [ev.seq for ev in events] == list(range(1, len(events) + 1))
                got = await stub.GetJob(pb.GetJobRequest(name=job.name))
                assert got.state == pb.JOB_STATE_SUCCEEDED
                # The running job was requeued (attempt 2); the queued ones ran once.
                assert got.attempt == (2 if i == 0 else 1), (i, kinds)
            listed = await stub.ListJobs(pb.ListJobsRequest())
            assert len(listed.jobs) == 3
    finally:
        server.stop()
