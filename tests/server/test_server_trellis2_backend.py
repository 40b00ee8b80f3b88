# SPDX-License-Identifier: MIT
"""The server running the real trellis2 backend (networks + sampler + decoders + export) on CPU,
with a tiny random checkpoint in the official layout: the integration a GPU server uses, at a
size two cores can run."""

from __future__ import annotations

from pathlib import Path

import grpc
import pytest
from server_helpers import ServerProcess, collect, job_request, make_png
from trellis2_server.api._gen.trellis2.v1 import asset_generation_pb2 as pb
from trellis2_server.api._gen.trellis2.v1 import asset_generation_pb2_grpc as pb_grpc


async def test_a_trellis2_backend_job_streams_its_stages_and_completes(tmp_path: Path) -> None:
    from trellis2.pipelines.tiny import write_tiny_checkpoint

    weights = write_tiny_checkpoint(tmp_path / "tiny", ss_target_voxels=16)
    server = ServerProcess(
        tmp_path / "data", "--backend", "trellis2", "--weights-dir", str(weights),
        "--pipeline-types", "512",
    ).start()  # fmt: skip
    try:
        server.wait_serving(timeout=120)
        async with grpc.aio.insecure_channel(server.address) as ch:
            stub = pb_grpc.AssetGenerationServiceStub(ch)
            info = await stub.GetServerInfo(pb.GetServerInfoRequest())
            assert info.default_backend == "trellis2" and info.backends[0].models
            assert list(info.backends[0].pipeline_types) == [pb.PIPELINE_TYPE_512]
            # A type whose networks this server did not load is refused at once, saying why.
            with pytest.raises(grpc.aio.AioRpcError) as refused:
                await stub.CreateJob(
                    job_request(make_png(96), pipeline_type=pb.PIPELINE_TYPE_1024_CASCADE)
                )
            assert refused.value.code() == grpc.StatusCode.FAILED_PRECONDITION
            assert "--pipeline-types" in (refused.value.details() or "")
            few = pb.SamplerParams(steps=2)
            job = await stub.CreateJob(
                job_request(
                    make_png(96), seed=3, sparse_structure_sampler=few,
                    shape_slat_sampler=few, tex_slat_sampler=few,
                )
            )  # fmt: skip
            assert job.spec.backend == "trellis2"
            events = await collect(stub, job.name)
        kinds = [ev.WhichOneof("event") for ev in events]
        assert kinds[-1] == "completed", events[-1]
        stages = {ev.progress.stage for ev in events if ev.WhichOneof("event") == "progress"}
        assert {"sparse_structure", "shape_slat", "tex_slat", "export"} <= stages
        assert kinds.count("preview") == 2
        done = events[-1].completed
        assert done.artifacts[0].media_type == "model/gltf-binary"
        assert done.stats.triangle_count > 0
        path = Path(server.data_dir / "artifacts" / done.artifacts[0].digest[:2])
        assert (path / done.artifacts[0].digest).read_bytes()[:4] == b"glTF"
    finally:
        server.stop()
