# SPDX-License-Identifier: MIT
"""Runs queued jobs on the worker pool and turns worker messages into stored events.

Owns the dispatch loop (fair scheduler), leases (renewed while the worker process lives,
requeued when it dies or the lease expires), job timeouts, cancel of running jobs, and
graceful stop. Every stored event is published to the hub after its transaction commits.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import time
import uuid
from collections.abc import Callable
from typing import Any

from trellis2_server.api._gen.trellis2.v1 import asset_generation_pb2 as pb
from trellis2_server.config import ServerConfig
from trellis2_server.core import convert
from trellis2_server.jobs.hub import EventHub
from trellis2_server.jobs.scheduler import pick_next
from trellis2_server.jobs.store import AsyncJobStore
from trellis2_server.workers.pool import Worker, WorkerPool, count_gpus

_LOGGER = logging.getLogger(__name__)
_DEADLINE_EXCEEDED, _INTERNAL = 4, 13
_LOAD_RETRIES = 2


class JobRunner:
    def __init__(
        self, config: ServerConfig, store: AsyncJobStore, hub: EventHub, backend_name: str
    ):
        self.config = config
        self.store = store
        self.hub = hub
        self.backend_name = backend_name
        self.gateway_id = uuid.uuid4().hex[:12]
        gpus = count_gpus() if backend_name == "trellis2" else 0
        count = config.workers or max(gpus, 1)
        devices = [f"cuda:{i}" for i in range(gpus)] or ["cpu"]
        threads = config.worker_threads
        if threads == 0 and devices == ["cpu"]:
            import os

            threads = max(1, (os.cpu_count() or 1) // count)
        self.pool = WorkerPool(
            count=count,
            devices=devices,
            backend_name=backend_name,
            backend_options={
                "weights": str(config.weights_dir) if config.weights_dir else None,
                "random_weights": config.random_weights,
                "low_vram": {"auto": None, "resident": False, "low_vram": True}[config.gpu_memory],
                "pipeline_types": config.pipeline_type_list or None,
            }
            if backend_name == "trellis2"
            else {},
            artifacts_dir=config.artifacts_dir,
            threads=threads,
            on_message=self._on_message,
        )
        self.description: dict[str, Any] = {}
        self.ready = asyncio.Event()
        self.load_error: str | None = None
        self._on_ready: list[Callable[[], Any]] = []
        self._wake = asyncio.Event()
        self._dispatch = 0
        self._last_team: str | None = None
        self._accepting = True
        self._tasks: list[asyncio.Task[None]] = []

    def on_ready(self, callback: Callable[[], Any]) -> None:
        """Calls `callback` (once) when the first worker has loaded its backend."""
        self._on_ready.append(callback)

    async def start(self) -> None:
        # Jobs left RUNNING by a previous server (killed) have no live owner: requeue them.
        events = await self.store.call(self.store.sync.requeue_stale, [], time.time())
        for ev in events:
            _LOGGER.info("%s: requeued after restart", ev.job)
        self.hub.publish(events)
        self.pool.start()
        self._tasks = [
            asyncio.create_task(self._dispatch_loop()),
            asyncio.create_task(self._maintain_loop()),
        ]

    def kick(self) -> None:
        self._wake.set()

    @property
    def workers(self) -> list[Worker]:
        return self.pool.workers

    # -- dispatch --------------------------------------------------------------------------------

    async def _dispatch_loop(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            while self._accepting:
                idle = [w for w in self.pool.workers if w.state == "idle"]
                try:
                    if not idle or not await self._dispatch_one(idle[0]):
                        break
                except Exception:
                    # Keep the loop alive; the lease sweep requeues anything half-started.
                    _LOGGER.exception("dispatch failed; retrying shortly")
                    await asyncio.sleep(1.0)
                    self.kick()
                    break

    async def _dispatch_one(self, w: Worker) -> bool:
        s = self.store.sync
        heads = await self.store.call(s.queued_heads)
        running = await self.store.call(s.running_per_team)
        head = pick_next(heads, running, self._last_team, self.config.per_team_concurrency)
        if head is None:
            return False
        self._dispatch += 1
        dispatch = self._dispatch
        owner = f"{self.gateway_id}/{w.name}/{dispatch}"
        w.state, w.dispatch, w.job_id, w.owner = "busy", dispatch, head.job_id, owner
        w.started_at = time.monotonic()
        started = await self.store.call(
            s.start_job, head.job_id, owner, self.config.lease_duration, w.name, self.backend_name
        )
        if started is None:  # canceled in between
            w.state, w.owner, w.job_id = "idle", "", ""
            return True
        ev, attempt = started
        self._last_team = head.team
        self.hub.publish(ev)
        job = await self.store.call(s.get_job, head.job_id)
        assert job is not None
        payload = {
            "job_id": head.job_id,
            "image_digest": job.spec.image_digest,
            "params": convert.spec_to_params(job.spec, head.job_id, attempt),
        }
        _LOGGER.info("job %s: dispatched to %s (attempt %d)", head.job_id, w.name, attempt)
        if not self.pool.send(w, ("run", dispatch, payload)):
            _LOGGER.warning("job %s: %s unreachable; requeueing", head.job_id, w.name)
        return True

    def cancel_running(self, owner: str) -> None:
        for w in self.pool.workers:
            if w.state == "busy" and w.owner == owner:
                w.cancel_token.value = w.dispatch

    # -- worker messages -------------------------------------------------------------------------

    async def _on_message(self, w: Worker, msg: tuple[Any, ...]) -> None:
        kind = msg[0]
        s = self.store.sync
        if kind == "ready":
            w.state, w.description = "idle", msg[1]
            if not self.description:
                self.description = msg[1]
                _LOGGER.info("backend %s loaded in %s", msg[1]["name"], w.name)
            if not self.ready.is_set():
                self.ready.set()
                for cb in self._on_ready:
                    result = cb()
                    if inspect.isawaitable(result):
                        await result
            self.kick()
            return
        if kind == "load_failed":
            w.state = "load_failed"  # the worker exits next; the exit handler decides
            self.load_error = msg[1]
            _LOGGER.error("%s: %s", w.name, msg[1])
            return
        if kind == "exit":
            await self._on_exit(w, msg[1])
            return
        if msg[1] != w.dispatch or w.state != "busy":
            return  # a late message of a job this worker no longer runs
        job_id, owner = w.job_id, w.owner
        if kind == "progress":
            _, _, stage, step, total, fraction = msg
            elapsed = time.monotonic() - w.started_at
            eta = elapsed * (1 - fraction) / fraction if fraction > 0 else -1.0
            progress = pb.JobProgress(
                stage=stage, step=step, total=total, fraction=fraction, eta_seconds=eta
            )
            self.hub.publish(await self.store.call(s.record_progress, job_id, owner, progress))
        elif kind == "preview":
            preview = convert.preview_event(msg[2], msg[3], msg[4])
            self.hub.publish(await self.store.call(s.record_preview, job_id, owner, preview))
        elif kind == "done":
            job = await self.store.call(s.get_job, job_id)
            assert job is not None
            result = convert.completed_event(msg[2], job.spec)
            key = convert.cache_key(job.spec, self.description.get("model_revision", ""))
            ev = await self.store.call(s.complete_job, job_id, owner, result, key)
            self._finish(w, ev, "completed")
        elif kind == "canceled":
            self._finish(w, await self.store.call(s.finish_canceled, job_id, owner), "canceled")
        elif kind == "error":
            ev = await self.store.call(s.fail_job, job_id, owner, msg[2], msg[3])
            self._finish(w, ev, f"failed: {msg[3]}")

    def _finish(self, w: Worker, ev: pb.JobEvent | None, what: str) -> None:
        _LOGGER.info("job %s: %s", w.job_id, what)
        self.hub.publish(ev)
        w.state, w.owner, w.job_id, w.dispatch = "idle", "", "", 0
        self.kick()

    async def _on_exit(self, w: Worker, exitcode: int | None) -> None:
        if w.state == "stopped":
            return
        if w.owner:
            reason = f"the worker process exited unexpectedly (exit code {exitcode})"
            _LOGGER.warning("job %s: %s; requeueing", w.job_id, reason)
            ev = await self.store.call(self.store.sync.requeue, w.job_id, w.owner, reason)
            self.hub.publish(ev)
        w.owner, w.job_id, w.dispatch = "", "", 0
        if w.state in ("starting", "load_failed"):
            # Died before it was ready: retry a couple of times, then give up for good.
            w.load_failures += 1
            if w.load_failures > _LOAD_RETRIES:
                w.state = "failed"
                _LOGGER.error(
                    "%s: backend does not load; not restarting (%s)", w.name, self.load_error
                )
                return
        w.restarts += 1
        _LOGGER.warning("%s: exited (code %s); restarting", w.name, exitcode)
        self.pool.spawn(w)

    # -- leases, timeouts -----------------------------------------------------------------------

    async def _maintain_loop(self) -> None:
        period = min(self.config.lease_duration / 3, 5.0)
        while True:
            await asyncio.sleep(period)
            try:
                await self._maintain()
            except Exception:
                _LOGGER.exception("lease maintenance failed")

    async def _maintain(self) -> None:
        s = self.store.sync
        now = time.time()
        busy = [w for w in self.pool.workers if w.state == "busy"]
        live = [w.owner for w in busy if w.process is not None and w.process.is_alive()]
        await self.store.call(s.renew_leases, live, now + self.config.lease_duration)
        events = await self.store.call(s.requeue_stale, live, now)
        self.hub.publish(events)
        if events:
            self.kick()
        for w in busy:
            if time.monotonic() - w.started_at > self.config.job_timeout:
                message = (
                    f"the job ran longer than the job timeout ({self.config.job_timeout:.0f} s); "
                    "raise --job-timeout or ask for a smaller pipeline"
                )
                ev = await self.store.call(
                    s.fail_job, w.job_id, w.owner, _DEADLINE_EXCEEDED, message
                )
                self.hub.publish(ev)
                _LOGGER.warning("job %s: timed out; restarting %s", w.job_id, w.name)
                w.owner, w.job_id = "", ""
                self.pool.kill(w)  # the exit handler restarts it

    # -- stop ------------------------------------------------------------------------------------

    async def stop(self, grace: float) -> None:
        """Stops dispatching, lets running jobs finish within `grace`, requeues the rest."""
        self._accepting = False
        deadline = time.monotonic() + grace
        while any(w.state == "busy" for w in self.pool.workers) and time.monotonic() < deadline:
            await asyncio.sleep(0.1)
        for w in self.pool.workers:
            if w.state == "busy" and w.owner:
                reason = "the server shut down"
                ev = await self.store.call(self.store.sync.requeue, w.job_id, w.owner, reason)
                _LOGGER.info("job %s: requeued at shutdown", w.job_id)
                self.hub.publish(ev)
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await self.pool.stop()
