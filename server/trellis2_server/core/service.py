# SPDX-License-Identifier: MIT
"""`AssetService`: the transport-independent core every transport (gRPC, Connect/HTTP) calls.

Methods take and return proto messages plus a `Caller`, and raise `Trellis2Error` subclasses.
Nothing here imports grpc (beyond the status codes in `errors`) or torch.

Lifecycle: `service = AssetService(config)`, `await service.start()` (opens the store,
requeues jobs a killed server left running, spawns workers), `await service.stop(grace)`,
`service.close()`.
"""

from __future__ import annotations

import asyncio
import base64
import logging
import time
import uuid
from collections.abc import AsyncIterator, Callable
from importlib import metadata
from pathlib import Path
from typing import Any

from trellis2_server import __version__
from trellis2_server.api._gen.trellis2.v1 import asset_generation_pb2 as pb
from trellis2_server.artifacts.store import ArtifactStore, is_digest
from trellis2_server.config import ServerConfig
from trellis2_server.core import convert
from trellis2_server.core.auth import ANONYMOUS, ApiKeys, Caller
from trellis2_server.core.errors import (
    FailedPrecondition,
    InvalidArgument,
    NotFound,
    Unavailable,
)
from trellis2_server.core.runner import JobRunner
from trellis2_server.core.validation import check_image, parse_job_name, resolve_spec
from trellis2_server.jobs.hub import EventHub
from trellis2_server.jobs.store import TERMINAL, AsyncJobStore, JobStore, timestamp
from trellis2_server.workers.pool import count_gpus

_LOGGER = logging.getLogger(__name__)
BACKENDS = ("preview", "trellis2")
_TERMINAL_EVENTS = ("completed", "failed", "canceled")


def resolve_backend(config: ServerConfig) -> tuple[str, str]:
    """The backend to load and why. `auto` picks trellis2 only with a GPU and weights."""
    if config.backend != "auto":
        return config.backend, f"--backend {config.backend}"
    gpus = count_gpus()
    weights = config.weights_dir
    has_weights = weights is not None and weights.is_dir() and any(weights.iterdir())
    if gpus and has_weights:
        return "trellis2", f"{gpus} GPU(s) and weights at {weights}"
    if gpus and config.random_weights:
        return "trellis2", f"{gpus} GPU(s) and --random-weights (benchmark only: outputs are noise)"
    missing = []
    if not gpus:
        missing.append("no CUDA GPU found")
    if not has_weights:
        missing.append(
            "no weights (pass --weights-dir or set TRELLIS2_WEIGHTS_DIR)"
            if weights is None
            else f"no weights in {weights}"
        )
    return "preview", "preview backend (no learned weights) because " + " and ".join(missing)


def is_terminal(ev: pb.JobEvent) -> bool:
    return ev.WhichOneof("event") in _TERMINAL_EVENTS


class AssetService:
    def __init__(self, config: ServerConfig, *, backend_factory: str | None = None):
        """`backend_factory` ("module:class") replaces the configured backend; tests use it
        for test doubles of scheduling behaviour, never for end-to-end runs."""
        self.config = config
        self.backend_name, self.backend_reason = resolve_backend(config)
        if backend_factory is not None:
            self.backend_name, self.backend_reason = backend_factory, "backend_factory argument"
        self.api_keys = ApiKeys.load(config.api_keys_file) if config.api_keys_file else None
        self.artifacts = ArtifactStore(config.artifacts_dir)
        self.store = AsyncJobStore(JobStore(config.db_path, max_attempts=config.max_attempts))
        self.hub = EventHub()
        self.runner = JobRunner(config, self.store, self.hub, self.backend_name)
        self.closing = False

    @property
    def ready(self) -> bool:
        return self.runner.ready.is_set()

    def on_ready(self, callback: Callable[[], Any]) -> None:
        """Calls `callback` once a worker has loaded the backend (health SERVING)."""
        self.runner.on_ready(callback)

    async def wait_ready(self, timeout: float) -> None:
        """Waits until a worker has loaded the backend; Unavailable if none can."""
        deadline = time.monotonic() + timeout
        while not self.ready:
            if self.runner.workers and all(w.state == "failed" for w in self.runner.workers):
                raise Unavailable(f"no worker could load the backend: {self.runner.load_error}")
            if time.monotonic() > deadline:
                raise Unavailable(f"the backend did not load within {timeout:.0f} s")
            await asyncio.sleep(0.05)

    async def start(self) -> None:
        _LOGGER.info("backend: %s (%s)", self.backend_name, self.backend_reason)
        await self.runner.start()

    async def stop(self, grace: float) -> None:
        """Refuses new jobs, lets running ones finish within `grace`, requeues the rest and
        stops the workers. Reads (watch, get, fetch) keep working until `close()`."""
        self.closing = True
        await self.runner.stop(grace)

    def close(self) -> None:
        self.store.close()

    # -- identity -------------------------------------------------------------------------------

    async def authenticate(self, api_key: str | None) -> Caller:
        if self.api_keys is None:
            return ANONYMOUS
        return self.api_keys.authenticate(api_key)

    async def _owned_job(self, name: str, caller: Caller) -> str:
        job_id = parse_job_name(name)
        team = await self.store.call(self.store.sync.job_team, job_id)
        if team is None or team != caller.team:
            raise NotFound(f"job {name} not found; list your jobs with ListJobs")
        return job_id

    # -- jobs ------------------------------------------------------------------------------------

    async def create_job(self, req: pb.CreateJobRequest, caller: Caller) -> pb.Job:
        if self.closing:
            raise Unavailable("the server is shutting down; retry shortly", retry_after=5.0)
        workers = self.runner.workers
        if workers and all(w.state == "failed" for w in workers):
            raise Unavailable(
                f"no worker could load the {self.backend_name} backend "
                f"({self.runner.load_error}); see the server log"
            )
        backend = self._check_backend(req.backend)
        image = await asyncio.to_thread(check_image, req.image, self.config)
        spec = resolve_spec(req, image, self.config, backend)
        self._check_pipeline_type(convert.PIPELINE_NAMES[spec.pipeline_type])
        await asyncio.to_thread(self.artifacts.put, req.image, f"image/{image.format}")
        s = self.store.sync
        job_id = uuid.uuid4().hex
        cached = None
        revision = self.runner.description.get("model_revision")
        if revision is not None:
            cached = await self.store.call(s.lookup_cache, convert.cache_key(spec, revision))
        if cached is not None:
            cached.stats.cache_hit = True
            job, events, created = await self.store.call(
                s.create_cached_job, job_id, caller.team, req.request_id, spec, cached
            )
        else:
            job, events, created = await self.store.call(
                s.create_job, job_id, caller.team, req.request_id, spec, self.config.max_queue_depth
            )
        if created:
            _LOGGER.info(
                "job %s: created for team %s%s",
                job.job_id,
                caller.team,
                " (cache hit)" * bool(cached),
            )
        self.hub.publish(events)
        self.runner.kick()
        return job

    def _check_pipeline_type(self, name: str) -> None:
        loaded = self.runner.description.get("pipeline_types")  # known once a worker is ready
        if loaded and name not in loaded:
            raise FailedPrecondition(
                f"this server loaded networks only for pipeline types {', '.join(loaded)}, not "
                f"{name}; ask for one of those, or restart the server with --pipeline-types "
                "including it (empty = all)",
                field="pipeline_type",
            )

    def _check_backend(self, name: str) -> str:
        if not name or name == self.backend_name:
            return self.backend_name
        if name in BACKENDS:
            raise FailedPrecondition(
                f"backend {name!r} is not loaded on this server (it runs {self.backend_name!r}); "
                "leave backend empty or restart the server with --backend " + name,
                field="backend",
            )
        raise InvalidArgument(
            f"unknown backend {name!r}; use one of {', '.join(BACKENDS)} or leave it empty",
            field="backend",
        )

    async def watch_job(
        self, req: pb.WatchJobRequest, caller: Caller
    ) -> AsyncIterator[pb.JobEvent]:
        """Replays events with seq > after_seq, then follows live; heartbeats while idle."""
        job_id = await self._owned_job(req.name, caller)
        if req.after_seq < 0:
            raise InvalidArgument("after_seq must be >= 0", field="after_seq")
        async for ev in self._follow(job_id, req.after_seq):
            yield ev

    async def _follow(self, job_id: str, after_seq: int) -> AsyncIterator[pb.JobEvent]:
        s = self.store.sync
        queue = self.hub.subscribe(job_id)  # before reading the log: no gap
        try:
            job = await self.store.call(s.get_job, job_id)
            assert job is not None
            last = after_seq
            for ev in await self.store.call(s.events_after, job_id, last):
                yield ev
                last = ev.seq
                if is_terminal(ev):
                    return
            if job.state in TERMINAL:
                return  # the client has already seen the terminal event
            while True:
                try:
                    ev = await asyncio.wait_for(queue.get(), self.config.heartbeat_interval)
                except TimeoutError:
                    yield pb.JobEvent(
                        job=f"jobs/{job_id}",
                        seq=last,
                        time=timestamp(time.time()),
                        heartbeat=pb.Heartbeat(),
                    )
                    continue
                if ev.seq <= last:
                    continue  # already replayed
                batch = [ev]
                if ev.seq > last + 1:  # should not happen; read the gap from the log
                    batch = await self.store.call(s.events_after, job_id, last)
                for e in batch:
                    yield e
                    last = e.seq
                    if is_terminal(e):
                        return
        finally:
            self.hub.unsubscribe(job_id, queue)

    async def generate_asset(
        self, req: pb.GenerateAssetRequest, caller: Caller
    ) -> AsyncIterator[pb.JobEvent]:
        job = await self.create_job(req.job, caller)
        async for ev in self._follow(job.job_id, 0):
            yield ev

    async def cancel_job(self, req: pb.CancelJobRequest, caller: Caller) -> pb.Job:
        job_id = await self._owned_job(req.name, caller)
        s = self.store.sync
        events, owner = await self.store.call(s.cancel_job, job_id)
        self.hub.publish(events)
        if owner:
            _LOGGER.info("job %s: cancel requested while running", job_id)
            self.runner.cancel_running(owner)
        elif events:
            _LOGGER.info("job %s: canceled while queued", job_id)
        job = await self.store.call(s.get_job, job_id)
        assert job is not None
        return job

    async def get_job(self, req: pb.GetJobRequest, caller: Caller) -> pb.Job:
        job_id = await self._owned_job(req.name, caller)
        job = await self.store.call(self.store.sync.get_job, job_id)
        assert job is not None
        return job

    async def list_jobs(self, req: pb.ListJobsRequest, caller: Caller) -> pb.ListJobsResponse:
        if req.page_size < 0:
            raise InvalidArgument("page_size must be >= 0", field="page_size")
        page_size = min(req.page_size or 50, 500)
        for state in req.states:
            if state not in pb.JobState.values() or state == pb.JOB_STATE_UNSPECIFIED:
                raise InvalidArgument(f"unknown job state {state}", field="states")
        cursor = _decode_page_token(req.page_token) if req.page_token else None
        jobs, next_cursor = await self.store.call(
            self.store.sync.list_jobs, caller.team, list(req.states), page_size, cursor
        )
        token = "" if next_cursor is None else _encode_page_token(next_cursor)
        return pb.ListJobsResponse(jobs=jobs, next_page_token=token)

    # -- artifacts -------------------------------------------------------------------------------

    def artifact_path(self, digest: str) -> tuple[Path, str]:
        """Where an artifact's bytes are, for HTTP downloads (Range, ETag = digest)."""
        if not is_digest(digest):
            raise InvalidArgument(
                f"malformed digest {digest!r}; expected 64 lowercase hex characters", field="digest"
            )
        info = self.artifacts.info(digest)
        if info is None:
            raise NotFound(f"artifact {digest} not found")
        return self.artifacts.path(digest), info.media_type

    async def fetch_artifact(
        self, req: pb.FetchArtifactRequest, caller: Caller
    ) -> AsyncIterator[pb.FetchArtifactResponse]:
        path, media_type = self.artifact_path(req.digest)
        total = path.stat().st_size
        if not 0 <= req.offset <= total:
            raise InvalidArgument(
                f"offset {req.offset} is outside the artifact (0..{total} bytes)", field="offset"
            )
        if req.chunk_size < 0:
            raise InvalidArgument("chunk_size must be >= 0", field="chunk_size")
        chunk = min(req.chunk_size or self.config.chunk_size, self.config.chunk_size)
        offset = req.offset
        first = True
        with open(path, "rb") as f:
            while first or offset < total:
                f.seek(offset)
                data = await asyncio.to_thread(f.read, chunk)
                yield pb.FetchArtifactResponse(
                    data=data,
                    offset=offset,
                    total_size=total,
                    media_type=media_type if first else "",
                )
                first = False
                offset += len(data)
                if not data:
                    break

    # -- server info -----------------------------------------------------------------------------

    async def get_server_info(self, req: pb.GetServerInfoRequest, caller: Caller) -> pb.ServerInfo:
        queued, running = await self.store.call(self.store.sync.counts)
        c = self.config
        d = self.runner.description
        pipelines = {v: k for k, v in convert.PIPELINE_NAMES.items()}
        backend = pb.BackendInfo(
            name=self.backend_name,
            loaded=self.ready,
            models=d.get("models", []),
            model_revision=d.get("model_revision", ""),
            random_weights=d.get("random_weights", False),
            pipeline_types=[pipelines[p] for p in d.get("pipeline_types", []) if p in pipelines],
        )
        gpus = [
            pb.GpuInfo(index=g["index"], name=g["name"], memory_total_bytes=g["memory"])
            for g in d.get("gpus", [])
        ]
        return pb.ServerInfo(
            version=_version(),
            default_backend=self.backend_name,
            backends=[backend],
            limits=pb.ServerLimits(
                max_upload_bytes=c.max_upload_bytes,
                max_image_pixels=c.max_image_pixels,
                max_queue_depth=c.max_queue_depth,
                chunk_size_bytes=c.chunk_size,
                max_texture_size=c.max_texture_size,
                max_decimation_target=c.max_decimation_target,
                job_timeout_seconds=c.job_timeout,
            ),
            queue_depth=queued,
            running_jobs=running,
            workers=sum(w.state in ("idle", "busy") for w in self.runner.workers),
            gpus=gpus,
            auth_required=self.api_keys is not None,
        )


def _version() -> str:
    try:
        return metadata.version("trellis2-server")
    except metadata.PackageNotFoundError:
        return __version__


def _encode_page_token(cursor: int) -> str:
    return base64.urlsafe_b64encode(f"v1:{cursor}".encode()).decode().rstrip("=")


def _decode_page_token(token: str) -> int:
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)).decode()
        prefix, _, value = raw.partition(":")
        if prefix != "v1":
            raise ValueError(raw)
        return int(value)
    except (ValueError, UnicodeDecodeError):
        raise InvalidArgument(
            "invalid page_token; pass next_page_token from the previous ListJobs response",
            field="page_token",
        ) from None
