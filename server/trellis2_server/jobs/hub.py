# SPDX-License-Identifier: MIT
"""Live fan-out of stored events to watchers, inside the gateway's event loop.

Each watcher gets its own unbounded queue; a slow watcher only grows its own queue (events of
one job are few: progress events are throttled by the worker). Publishing happens after the
event is committed, so a watcher that subscribes before reading the log sees every event at
least once and drops the duplicates by seq.
"""

from __future__ import annotations

import asyncio
from collections import defaultdict

from trellis2_server.api._gen.trellis2.v1 import asset_generation_pb2 as pb


class EventHub:
    def __init__(self) -> None:
        self._subs: defaultdict[str, set[asyncio.Queue[pb.JobEvent]]] = defaultdict(set)

    def subscribe(self, job_id: str) -> asyncio.Queue[pb.JobEvent]:
        queue: asyncio.Queue[pb.JobEvent] = asyncio.Queue()
        self._subs[job_id].add(queue)
        return queue

    def unsubscribe(self, job_id: str, queue: asyncio.Queue[pb.JobEvent]) -> None:
        subs = self._subs.get(job_id)
        if subs is None:
            return
        subs.discard(queue)
        if not subs:
            del self._subs[job_id]

    def publish(self, events: list[pb.JobEvent] | pb.JobEvent | None) -> None:
        if events is None:
            return
        for ev in [events] if isinstance(events, pb.JobEvent) else events:
            job_id = ev.job.removeprefix("jobs/")
            for queue in self._subs.get(job_id, ()):
                queue.put_nowait(ev)

    def watchers(self) -> int:
        return sum(len(s) for s in self._subs.values())
