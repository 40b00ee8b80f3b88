# SPDX-License-Identifier: MIT
"""A small asyncio client over the generated stub: resumable watch and verified downloads."""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import AsyncIterator
from pathlib import Path

import grpc

from trellis2_server.api._gen.trellis2.v1 import asset_generation_pb2 as pb
from trellis2_server.api._gen.trellis2.v1 import asset_generation_pb2_grpc as pb_grpc
from trellis2_server.config import MIB

_RETRYABLE = (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.INTERNAL, grpc.StatusCode.UNKNOWN)


class Client:
    def __init__(self, target: str, api_key: str | None = None, max_upload_bytes: int = 20 * MIB):
        self.target = target
        self.channel = grpc.aio.insecure_channel(
            target, options=[("grpc.max_send_message_length", max_upload_bytes + MIB)]
        )
        self.stub = pb_grpc.AssetGenerationServiceStub(self.channel)
        self.metadata = (("authorization", f"Bearer {api_key}"),) if api_key else None

    async def close(self) -> None:
        await self.channel.close()

    async def create_job(self, req: pb.CreateJobRequest) -> pb.Job:
        job: pb.Job = await self.stub.CreateJob(req, metadata=self.metadata, timeout=120)
        return job

    async def watch(
        self, name: str, after_seq: int = 0, retries: int = 30
    ) -> AsyncIterator[pb.JobEvent]:
        """Follows a job to its terminal event, reconnecting with after_seq when the stream
        breaks (server restart, network blip); heartbeats are skipped."""
        last, failures = after_seq, 0
        while True:
            try:
                call = self.stub.WatchJob(
                    pb.WatchJobRequest(name=name, after_seq=last), metadata=self.metadata
                )
                async for ev in call:
                    failures = 0
                    if ev.WhichOneof("event") == "heartbeat":
                        continue
                    last = ev.seq
                    yield ev
                    if ev.WhichOneof("event") in ("completed", "failed", "canceled"):
                        return
                return
            except grpc.aio.AioRpcError as err:
                failures += 1
                if err.code() not in _RETRYABLE or failures > retries:
                    raise
                await asyncio.sleep(min(0.2 * 2**failures, 5.0))

    async def download(self, artifact: pb.Artifact, path: Path) -> None:
        """Streams an artifact to `path` (resuming a partial `.part` file) and checks its digest."""
        part = path.with_name(path.name + ".part")
        offset = part.stat().st_size if part.exists() else 0
        with open(part, "ab") as f:
            call = self.stub.FetchArtifact(
                pb.FetchArtifactRequest(digest=artifact.digest, offset=offset),
                metadata=self.metadata,
            )
            async for chunk in call:
                f.write(chunk.data)
        h = hashlib.sha256()
        with open(part, "rb") as f:
            for block in iter(lambda: f.read(MIB), b""):
                h.update(block)
        if h.hexdigest() != artifact.digest:
            part.unlink()
            raise OSError(f"download of {artifact.filename} is corrupt (digest mismatch); retry")
        part.replace(path)
