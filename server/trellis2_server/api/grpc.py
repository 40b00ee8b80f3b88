# SPDX-License-Identifier: MIT
"""The grpc.aio servicer: metadata → Caller, then one call into the core per method."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import TypeAlias

import grpc

from trellis2_server.api._gen.trellis2.v1 import asset_generation_pb2 as pb
from trellis2_server.api._gen.trellis2.v1 import asset_generation_pb2_grpc as pb_grpc
from trellis2_server.api.errors import abort
from trellis2_server.core.auth import Caller, bearer_token
from trellis2_server.core.service import AssetService

Ctx: TypeAlias = grpc.aio.ServicerContext


class AssetGenerationServicer(pb_grpc.AssetGenerationServiceServicer):
    def __init__(self, service: AssetService):
        self._svc = service

    async def _caller(self, context: Ctx) -> Caller:
        md = dict(context.invocation_metadata() or ())
        return await self._svc.authenticate(bearer_token(md.get("authorization")))

    async def CreateJob(self, request: pb.CreateJobRequest, context: Ctx) -> pb.Job:
        try:
            return await self._svc.create_job(request, await self._caller(context))
        except Exception as exc:
            await abort(context, exc)
            raise

    async def GetJob(self, request: pb.GetJobRequest, context: Ctx) -> pb.Job:
        try:
            return await self._svc.get_job(request, await self._caller(context))
        except Exception as exc:
            await abort(context, exc)
            raise

    async def CancelJob(self, request: pb.CancelJobRequest, context: Ctx) -> pb.Job:
        try:
            return await self._svc.cancel_job(request, await self._caller(context))
        except Exception as exc:
            await abort(context, exc)
            raise

    async def ListJobs(self, request: pb.ListJobsRequest, context: Ctx) -> pb.ListJobsResponse:
        try:
            return await self._svc.list_jobs(request, await self._caller(context))
        except Exception as exc:
            await abort(context, exc)
            raise

    async def GetServerInfo(self, request: pb.GetServerInfoRequest, context: Ctx) -> pb.ServerInfo:
        try:
            return await self._svc.get_server_info(request, await self._caller(context))
        except Exception as exc:
            await abort(context, exc)
            raise

    async def WatchJob(
        self, request: pb.WatchJobRequest, context: Ctx
    ) -> AsyncIterator[pb.JobEvent]:
        try:
            async for ev in self._svc.watch_job(request, await self._caller(context)):
                yield ev
        except Exception as exc:
            await abort(context, exc)

    async def GenerateAsset(
        self, request: pb.GenerateAssetRequest, context: Ctx
    ) -> AsyncIterator[pb.JobEvent]:
        try:
            async for ev in self._svc.generate_asset(request, await self._caller(context)):
                yield ev
        except Exception as exc:
            await abort(context, exc)

    async def FetchArtifact(
        self, request: pb.FetchArtifactRequest, context: Ctx
    ) -> AsyncIterator[pb.FetchArtifactResponse]:
        try:
            async for chunk in self._svc.fetch_artifact(request, await self._caller(context)):
                yield chunk
        except Exception as exc:
            await abort(context, exc)
