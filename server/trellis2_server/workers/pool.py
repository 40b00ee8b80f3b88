# SPDX-License-Identifier: MIT
"""Gateway side of the worker processes: spawn, pipe reading, restart, stop.

The pool knows nothing about jobs: it delivers each worker's messages, in order, to one
asyncio consumer (`on_message(worker, msg)`); a worker that exits shows up as the message
("exit", exitcode). One reader thread per worker does the blocking `recv`.
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import logging
import multiprocessing as mp
import os
import threading
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

from trellis2_server.workers.process import worker_main

_LOGGER = logging.getLogger(__name__)
_SPAWN = mp.get_context("spawn")


def count_gpus() -> int:
    """NVIDIA GPUs visible to the driver, found without importing torch or initialising CUDA."""
    visible = os.environ.get("CUDA_VISIBLE_DEVICES")
    if visible is not None:
        return len([d for d in visible.split(",") if d.strip() and d.strip() != "-1"])
    try:
        return len(os.listdir("/proc/driver/nvidia/gpus"))
    except OSError:
        return 0


@dataclass
class Worker:
    index: int
    name: str
    device: str
    process: Any = None
    conn: Connection | None = None
    # Shared int: the dispatch id the gateway wants canceled.
    cancel_token: Any = None
    state: str = "starting"  # starting | load_failed | idle | busy | stopped | failed
    description: dict[str, Any] = field(default_factory=dict)
    # The running job, while busy.
    dispatch: int = 0
    job_id: str = ""
    owner: str = ""
    started_at: float = 0.0
    restarts: int = 0
    load_failures: int = 0


OnMessage = Callable[[Worker, tuple[Any, ...]], Awaitable[None]]


class WorkerPool:
    def __init__(
        self,
        *,
        count: int,
        devices: list[str],
        backend_name: str,
        backend_options: dict[str, Any],
        artifacts_dir: Path,
        threads: int,
        on_message: OnMessage,
    ):
        self.workers = [Worker(i, f"worker-{i}", devices[i % len(devices)]) for i in range(count)]
        self._backend_name = backend_name
        self._backend_options = backend_options
        self._artifacts_dir = artifacts_dir
        self._threads = threads
        self._on_message = on_message
        self._loop: asyncio.AbstractEventLoop | None = None
        self._queues: dict[int, asyncio.Queue[tuple[Any, ...]]] = {}
        self._consumers: list[asyncio.Task[None]] = []

    def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        atexit.register(self._kill_all)
        for w in self.workers:
            self._queues[w.index] = asyncio.Queue()
            self._consumers.append(asyncio.create_task(self._consume(w)))
            self.spawn(w)

    def spawn(self, w: Worker) -> None:
        parent, child = _SPAWN.Pipe(duplex=True)
        w.cancel_token = _SPAWN.Value("q", 0, lock=False)
        w.process = _SPAWN.Process(
            target=worker_main,
            name=w.name,
            args=(
                child,
                w.cancel_token,
                w.name,
                self._backend_name,
                self._backend_options,
                str(self._artifacts_dir),
                w.device,
                self._threads,
                logging.getLogger().getEffectiveLevel(),  # workers log like the gateway
            ),
            # Not daemonic: backends may start their own helper processes. An atexit hook
            # (registered in start) kills workers that a crashing gateway leaves behind.
            daemon=False,
        )
        w.process.start()
        child.close()  # so the reader sees EOF when the worker dies
        w.conn, w.state, w.description = parent, "starting", {}
        _LOGGER.info("%s: started pid %s on %s", w.name, w.process.pid, w.device)
        threading.Thread(
            target=self._read, args=(w, parent, w.process), name=f"{w.name}-reader", daemon=True
        ).start()

    def _read(self, w: Worker, conn: Connection, process: Any) -> None:
        assert self._loop is not None
        queue = self._queues[w.index]
        while True:
            try:
                msg = conn.recv()
            except (EOFError, OSError):
                break
            try:
                self._loop.call_soon_threadsafe(queue.put_nowait, msg)
            except RuntimeError:
                return  # the loop is closed
        process.join(timeout=5)
        msg = ("exit", process.exitcode, process)
        with contextlib.suppress(RuntimeError):  # the loop may be closed at shutdown
            self._loop.call_soon_threadsafe(queue.put_nowait, msg)

    async def _consume(self, w: Worker) -> None:
        queue = self._queues[w.index]
        while True:
            msg = await queue.get()
            if msg[0] == "exit" and msg[2] is not w.process:
                continue  # a stale exit of a process that was already replaced
            try:
                await self._on_message(w, msg)
            except Exception:
                _LOGGER.exception("%s: error handling message %r", w.name, msg[0])

    def _kill_all(self) -> None:
        for w in self.workers:
            if w.process is not None and w.process.is_alive():
                w.process.kill()
                w.process.join(5)

    def send(self, w: Worker, msg: tuple[Any, ...]) -> bool:
        try:
            assert w.conn is not None
            w.conn.send(msg)
            return True
        except (OSError, AssertionError, ValueError):
            return False

    def kill(self, w: Worker) -> None:
        if w.process is not None and w.process.is_alive():
            w.process.kill()

    async def stop(self, timeout: float = 5.0) -> None:
        for w in self.workers:
            w.state = "stopped"
            self.send(w, ("stop",))
        loop = asyncio.get_running_loop()
        for w in self.workers:
            if w.process is not None:
                await loop.run_in_executor(None, w.process.join, timeout)
                if w.process.is_alive():
                    w.process.kill()
                    await loop.run_in_executor(None, w.process.join, 5)
            if w.conn is not None:
                w.conn.close()
        for task in self._consumers:
            task.cancel()
        await asyncio.gather(*self._consumers, return_exceptions=True)
        atexit.unregister(self._kill_all)
