# SPDX-License-Identifier: MIT
"""Durable job store on SQLite (WAL): jobs, an append-only event log, idempotency, result cache.

Every state change and its event are written in one transaction, so the log and the job row
never disagree. Events get a per-job `seq` strictly increasing from 1. A running job carries a
lease (`lease_owner`, `lease_expiry`); transitions reported by a worker only apply while that
worker still holds the lease, so a requeued job can never complete twice.

All methods are blocking; the gateway calls them through `AsyncJobStore` (one dedicated thread),
never on the event loop.
"""

from __future__ import annotations

import asyncio
import sqlite3
import threading
import time
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from google.protobuf.timestamp_pb2 import Timestamp

from trellis2_server.api._gen.trellis2.v1 import asset_generation_pb2 as pb
from trellis2_server.core.errors import ResourceExhausted

T = TypeVar("T")

QUEUED, RUNNING = pb.JOB_STATE_QUEUED, pb.JOB_STATE_RUNNING
SUCCEEDED, FAILED, CANCELED = pb.JOB_STATE_SUCCEEDED, pb.JOB_STATE_FAILED, pb.JOB_STATE_CANCELED
TERMINAL = frozenset({SUCCEEDED, FAILED, CANCELED})

_SCHEMA = """
CREATE TABLE IF NOT EXISTS jobs (
  seqno INTEGER PRIMARY KEY AUTOINCREMENT,  -- submission order: FIFO and list cursor
  job_id TEXT NOT NULL UNIQUE,
  team TEXT NOT NULL,
  request_id TEXT NOT NULL DEFAULT '',
  state INTEGER NOT NULL,
  priority INTEGER NOT NULL DEFAULT 0,
  spec BLOB NOT NULL,                       -- JobSpec
  create_time REAL NOT NULL,
  start_time REAL,
  end_time REAL,
  attempt INTEGER NOT NULL DEFAULT 0,
  last_seq INTEGER NOT NULL DEFAULT 0,
  progress REAL NOT NULL DEFAULT 0,
  result BLOB,                              -- JobCompleted, when SUCCEEDED
  error_code INTEGER NOT NULL DEFAULT 0,
  error_message TEXT NOT NULL DEFAULT '',
  lease_owner TEXT,
  lease_expiry REAL,
  cancel_requested INTEGER NOT NULL DEFAULT 0
);
CREATE UNIQUE INDEX IF NOT EXISTS jobs_request ON jobs(team, request_id) WHERE request_id != '';
CREATE INDEX IF NOT EXISTS jobs_state ON jobs(state, priority, seqno);
CREATE INDEX IF NOT EXISTS jobs_team ON jobs(team, seqno);
CREATE TABLE IF NOT EXISTS events (
  job_id TEXT NOT NULL,
  seq INTEGER NOT NULL,
  data BLOB NOT NULL,                       -- JobEvent
  PRIMARY KEY (job_id, seq)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS cache (
  cache_key TEXT PRIMARY KEY,
  job_id TEXT NOT NULL,
  result BLOB NOT NULL,                     -- JobCompleted
  create_time REAL NOT NULL
);
"""


@dataclass(frozen=True)
class QueuedHead:
    """A queued job as the scheduler sees it."""

    job_id: str
    team: str
    priority: int
    seqno: int


def timestamp(seconds: float | None) -> Timestamp | None:
    if seconds is None:
        return None
    ts = Timestamp()
    ts.FromNanoseconds(int(seconds * 1e9))
    return ts


class JobStore:
    def __init__(self, path: Path, *, max_attempts: int = 3):
        path.parent.mkdir(parents=True, exist_ok=True)
        self.max_attempts = max_attempts
        self._db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        self._db.row_factory = sqlite3.Row
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.execute("PRAGMA busy_timeout=5000")
        self._db.executescript(_SCHEMA)
        self._lock = threading.Lock()

    def close(self) -> None:
        self._db.close()

    # -- transactions and events ---------------------------------------------------------------

    def _tx(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                out = fn(self._db)
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")
            return out

    def _append(self, db: sqlite3.Connection, job_id: str, **event: Any) -> pb.JobEvent:
        """Appends one event (keyword = the oneof field) and bumps the job's last_seq."""
        (last,) = db.execute("SELECT last_seq FROM jobs WHERE job_id = ?", (job_id,)).fetchone()
        ev = pb.JobEvent(job=f"jobs/{job_id}", seq=last + 1, time=timestamp(time.time()), **event)
        db.execute(
            "INSERT INTO events (job_id, seq, data) VALUES (?, ?, ?)",
            (job_id, ev.seq, ev.SerializeToString()),
        )
        db.execute("UPDATE jobs SET last_seq = ? WHERE job_id = ?", (ev.seq, job_id))
        return ev

    def _position(self, db: sqlite3.Connection, job_id: str) -> int:
        row = db.execute(
            "SELECT state, priority, seqno FROM jobs WHERE job_id = ?", (job_id,)
        ).fetchone()
        if row is None or row["state"] != QUEUED:
            return 0
        (ahead,) = db.execute(
            "SELECT COUNT(*) FROM jobs WHERE state = ? AND (priority > ? OR "
            "(priority = ? AND seqno < ?))",
            (QUEUED, row["priority"], row["priority"], row["seqno"]),
        ).fetchone()
        return int(ahead) + 1

    def _row(self, db: sqlite3.Connection, job_id: str) -> sqlite3.Row | None:
        row: sqlite3.Row | None = db.execute(
            "SELECT * FROM jobs WHERE job_id = ?", (job_id,)
        ).fetchone()
        return row

    def _existing_row(self, db: sqlite3.Connection, job_id: str) -> sqlite3.Row:
        row = self._row(db, job_id)
        assert row is not None, job_id
        return row

    def _job(self, db: sqlite3.Connection, row: sqlite3.Row) -> pb.Job:
        spec = pb.JobSpec.FromString(row["spec"])
        job = pb.Job(
            name=f"jobs/{row['job_id']}",
            job_id=row["job_id"],
            state=row["state"],
            spec=spec,
            create_time=timestamp(row["create_time"]),
            start_time=timestamp(row["start_time"]),
            end_time=timestamp(row["end_time"]),
            last_seq=row["last_seq"],
            queue_position=self._position(db, row["job_id"]),
            request_id=row["request_id"],
            attempt=row["attempt"],
            progress_fraction=row["progress"],
            team=row["team"],
        )
        if row["result"] is not None:
            done = pb.JobCompleted.FromString(row["result"])
            job.artifacts.extend(done.artifacts)
            job.stats.CopyFrom(done.stats)
        if row["state"] == FAILED:
            job.error.CopyFrom(pb.JobError(code=row["error_code"], message=row["error_message"]))
        return job

    # -- creation --------------------------------------------------------------------------------

    def create_job(
        self,
        job_id: str,
        team: str,
        request_id: str,
        spec: pb.JobSpec,
        max_queue_depth: int,
    ) -> tuple[pb.Job, list[pb.JobEvent], bool]:
        """Queues a job. A repeated (team, request_id) returns the original with created=False."""

        def tx(db: sqlite3.Connection) -> tuple[pb.Job, list[pb.JobEvent], bool]:
            if request_id:
                row = db.execute(
                    "SELECT * FROM jobs WHERE team = ? AND request_id = ?", (team, request_id)
                ).fetchone()
                if row is not None:
                    return self._job(db, row), [], False
            (depth,) = db.execute("SELECT COUNT(*) FROM jobs WHERE state = ?", (QUEUED,)).fetchone()
            if depth >= max_queue_depth:
                raise ResourceExhausted(
                    f"the queue is full ({depth} jobs); retry later or raise --max-queue-depth",
                    retry_after=30.0,
                )
            self._insert(db, job_id, team, request_id, spec, QUEUED)
            ev = self._append(db, job_id, queued=pb.JobQueued(position=self._position(db, job_id)))
            return self._job(db, self._existing_row(db, job_id)), [ev], True

        return self._tx(tx)

    def create_cached_job(
        self, job_id: str, team: str, request_id: str, spec: pb.JobSpec, result: pb.JobCompleted
    ) -> tuple[pb.Job, list[pb.JobEvent], bool]:
        """Records a job that completed at once from the result cache."""

        def tx(db: sqlite3.Connection) -> tuple[pb.Job, list[pb.JobEvent], bool]:
            if request_id:
                row = db.execute(
                    "SELECT * FROM jobs WHERE team = ? AND request_id = ?", (team, request_id)
                ).fetchone()
                if row is not None:
                    return self._job(db, row), [], False
            now = time.time()
            self._insert(db, job_id, team, request_id, spec, SUCCEEDED)
            db.execute(
                "UPDATE jobs SET start_time = ?, end_time = ?, progress = 1, result = ? "
                "WHERE job_id = ?",
                (now, now, result.SerializeToString(), job_id),
            )
            ev = self._append(db, job_id, completed=result)
            return self._job(db, self._existing_row(db, job_id)), [ev], True

        return self._tx(tx)

    def _insert(
        self,
        db: sqlite3.Connection,
        job_id: str,
        team: str,
        request_id: str,
        spec: pb.JobSpec,
        state: int,
    ) -> None:
        db.execute(
            "INSERT INTO jobs (job_id, team, request_id, state, priority, spec, create_time) "
            "VALUES (?, ?, ?, ?, ?, ?, ?)",
            (job_id, team, request_id, state, spec.priority, spec.SerializeToString(), time.time()),
        )

    def lookup_cache(self, cache_key: str) -> pb.JobCompleted | None:
        with self._lock:
            row = self._db.execute(
                "SELECT result FROM cache WHERE cache_key = ?", (cache_key,)
            ).fetchone()
        return None if row is None else pb.JobCompleted.FromString(row["result"])

    # -- reads -----------------------------------------------------------------------------------

    def get_job(self, job_id: str) -> pb.Job | None:
        with self._lock:
            row = self._row(self._db, job_id)
            return None if row is None else self._job(self._db, row)

    def job_team(self, job_id: str) -> str | None:
        with self._lock:
            row = self._db.execute("SELECT team FROM jobs WHERE job_id = ?", (job_id,)).fetchone()
        return None if row is None else str(row["team"])

    def events_after(self, job_id: str, after_seq: int) -> list[pb.JobEvent]:
        with self._lock:
            rows = self._db.execute(
                "SELECT data FROM events WHERE job_id = ? AND seq > ? ORDER BY seq",
                (job_id, after_seq),
            ).fetchall()
        return [pb.JobEvent.FromString(r["data"]) for r in rows]

    def list_jobs(
        self, team: str, states: Iterable[int], page_size: int, before_seqno: int | None
    ) -> tuple[list[pb.Job], int | None]:
        """Newest first. Returns the page and the cursor for the next page (None at the end)."""
        sql = "SELECT * FROM jobs WHERE team = ?"
        args: list[Any] = [team]
        states = list(states)
        if states:
            sql += f" AND state IN ({','.join('?' * len(states))})"
            args += states
        if before_seqno is not None:
            sql += " AND seqno < ?"
            args.append(before_seqno)
        sql += " ORDER BY seqno DESC LIMIT ?"
        args.append(page_size + 1)
        with self._lock:
            rows = self._db.execute(sql, args).fetchall()
            jobs = [self._job(self._db, r) for r in rows[:page_size]]
        cursor = int(rows[page_size - 1]["seqno"]) if len(rows) > page_size else None
        return jobs, cursor

    def queued_heads(self) -> list[QueuedHead]:
        """Queued jobs in priority-then-FIFO order (the scheduler adds fairness across teams)."""
        with self._lock:
            rows = self._db.execute(
                "SELECT job_id, team, priority, seqno FROM jobs WHERE state = ? "
                "ORDER BY priority DESC, seqno ASC",
                (QUEUED,),
            ).fetchall()
        return [QueuedHead(r["job_id"], r["team"], r["priority"], r["seqno"]) for r in rows]

    def running_per_team(self) -> dict[str, int]:
        with self._lock:
            rows = self._db.execute(
                "SELECT team, COUNT(*) AS n FROM jobs WHERE state = ? GROUP BY team", (RUNNING,)
            ).fetchall()
        return {r["team"]: int(r["n"]) for r in rows}

    def counts(self) -> tuple[int, int]:
        """(queued, running)."""
        with self._lock:
            rows = self._db.execute(
                "SELECT state, COUNT(*) AS n FROM jobs WHERE state IN (?, ?) GROUP BY state",
                (QUEUED, RUNNING),
            ).fetchall()
        by_state = {r["state"]: int(r["n"]) for r in rows}
        return by_state.get(QUEUED, 0), by_state.get(RUNNING, 0)

    def running_jobs(self) -> list[tuple[str, str | None, float | None, float | None]]:
        """(job_id, lease_owner, lease_expiry, start_time) of every running job."""
        with self._lock:
            rows = self._db.execute(
                "SELECT job_id, lease_owner, lease_expiry, start_time FROM jobs WHERE state = ?",
                (RUNNING,),
            ).fetchall()
        return [(r[0], r[1], r[2], r[3]) for r in rows]

    # -- transitions reported by workers (apply only while `owner` holds the lease) ------------

    def start_job(
        self, job_id: str, owner: str, lease_duration: float, worker: str, backend: str
    ) -> tuple[pb.JobEvent, int] | None:
        """QUEUED → RUNNING with a fresh lease. Returns the started event and the attempt."""

        def tx(db: sqlite3.Connection) -> tuple[pb.JobEvent, int] | None:
            row = self._row(db, job_id)
            if row is None or row["state"] != QUEUED:
                return None
            attempt = row["attempt"] + 1
            now = time.time()
            db.execute(
                "UPDATE jobs SET state = ?, attempt = ?, start_time = ?, lease_owner = ?, "
                "lease_expiry = ?, progress = 0 WHERE job_id = ?",
                (RUNNING, attempt, now, owner, now + lease_duration, job_id),
            )
            started = pb.JobStarted(worker=worker, attempt=attempt, backend=backend)
            return self._append(db, job_id, started=started), attempt

        return self._tx(tx)

    def _holds(self, db: sqlite3.Connection, job_id: str, owner: str) -> sqlite3.Row | None:
        row = self._row(db, job_id)
        if row is None or row["state"] != RUNNING or row["lease_owner"] != owner:
            return None
        return row

    def record_progress(
        self, job_id: str, owner: str, progress: pb.JobProgress
    ) -> pb.JobEvent | None:
        def tx(db: sqlite3.Connection) -> pb.JobEvent | None:
            if self._holds(db, job_id, owner) is None:
                return None
            db.execute("UPDATE jobs SET progress = ? WHERE job_id = ?", (progress.fraction, job_id))
            return self._append(db, job_id, progress=progress)

        return self._tx(tx)

    def record_preview(self, job_id: str, owner: str, preview: pb.JobPreview) -> pb.JobEvent | None:
        def tx(db: sqlite3.Connection) -> pb.JobEvent | None:
            if self._holds(db, job_id, owner) is None:
                return None
            return self._append(db, job_id, preview=preview)

        return self._tx(tx)

    def complete_job(
        self, job_id: str, owner: str, result: pb.JobCompleted, cache_key: str
    ) -> pb.JobEvent | None:
        """RUNNING → SUCCEEDED and remember the result under `cache_key` (if not empty)."""

        def tx(db: sqlite3.Connection) -> pb.JobEvent | None:
            if self._holds(db, job_id, owner) is None:
                return None
            blob = result.SerializeToString()
            db.execute(
                "UPDATE jobs SET state = ?, end_time = ?, progress = 1, result = ?, "
                "lease_owner = NULL, lease_expiry = NULL WHERE job_id = ?",
                (SUCCEEDED, time.time(), blob, job_id),
            )
            if cache_key:
                db.execute(
                    "INSERT OR IGNORE INTO cache (cache_key, job_id, result, create_time) "
                    "VALUES (?, ?, ?, ?)",
                    (cache_key, job_id, blob, time.time()),
                )
            return self._append(db, job_id, completed=result)

        return self._tx(tx)

    def fail_job(
        self, job_id: str, owner: str | None, code: int, message: str
    ) -> pb.JobEvent | None:
        """RUNNING (held by `owner`) or, with owner None, QUEUED/RUNNING → FAILED."""

        def tx(db: sqlite3.Connection) -> pb.JobEvent | None:
            row = self._row(db, job_id) if owner is None else self._holds(db, job_id, owner)
            if row is None or row["state"] in TERMINAL:
                return None
            return self._fail(db, job_id, code, message)

        return self._tx(tx)

    def _fail(self, db: sqlite3.Connection, job_id: str, code: int, message: str) -> pb.JobEvent:
        db.execute(
            "UPDATE jobs SET state = ?, end_time = ?, error_code = ?, error_message = ?, "
            "lease_owner = NULL, lease_expiry = NULL WHERE job_id = ?",
            (FAILED, time.time(), code, message, job_id),
        )
        return self._append(
            db, job_id, failed=pb.JobFailed(error=pb.JobError(code=code, message=message))
        )

    def finish_canceled(self, job_id: str, owner: str) -> pb.JobEvent | None:
        def tx(db: sqlite3.Connection) -> pb.JobEvent | None:
            if self._holds(db, job_id, owner) is None:
                return None
            return self._cancel(db, job_id, was_running=True)

        return self._tx(tx)

    def _cancel(self, db: sqlite3.Connection, job_id: str, *, was_running: bool) -> pb.JobEvent:
        db.execute(
            "UPDATE jobs SET state = ?, end_time = ?, lease_owner = NULL, lease_expiry = NULL "
            "WHERE job_id = ?",
            (CANCELED, time.time(), job_id),
        )
        return self._append(db, job_id, canceled=pb.JobCanceled(was_running=was_running))

    def cancel_job(self, job_id: str) -> tuple[list[pb.JobEvent], str | None]:
        """Cancels a queued job now; marks a running one. Returns events and the lease owner
        to notify when the job is running (None otherwise)."""

        def tx(db: sqlite3.Connection) -> tuple[list[pb.JobEvent], str | None]:
            row = self._row(db, job_id)
            if row is None or row["state"] in TERMINAL:
                return [], None
            if row["state"] == QUEUED:
                return [self._cancel(db, job_id, was_running=False)], None
            db.execute("UPDATE jobs SET cancel_requested = 1 WHERE job_id = ?", (job_id,))
            return [], row["lease_owner"]

        return self._tx(tx)

    # -- leases and recovery ---------------------------------------------------------------------

    def requeue(self, job_id: str, owner: str | None, reason: str) -> pb.JobEvent | None:
        """RUNNING → QUEUED (lost worker, shutdown, expired lease). A job that was asked to
        cancel is canceled instead, and one out of attempts fails."""

        def tx(db: sqlite3.Connection) -> pb.JobEvent | None:
            row = self._row(db, job_id) if owner is None else self._holds(db, job_id, owner)
            if row is None or row["state"] != RUNNING:
                return None
            return self._requeue(db, row, reason)

        return self._tx(tx)

    def _requeue(self, db: sqlite3.Connection, row: sqlite3.Row, reason: str) -> pb.JobEvent:
        job_id = row["job_id"]
        if row["cancel_requested"]:
            return self._cancel(db, job_id, was_running=True)
        if row["attempt"] >= self.max_attempts:
            message = f"{reason}; gave up after {row['attempt']} attempts"
            return self._fail(db, job_id, 13, message)
        db.execute(
            "UPDATE jobs SET state = ?, lease_owner = NULL, lease_expiry = NULL, progress = 0 "
            "WHERE job_id = ?",
            (QUEUED, job_id),
        )
        return self._append(db, job_id, queued=pb.JobQueued(position=self._position(db, job_id)))

    def requeue_stale(self, live_owners: Iterable[str], now: float) -> list[pb.JobEvent]:
        """Requeues running jobs whose lease expired or whose owner is not one of ours
        (e.g. left over from a server that was killed)."""
        live = set(live_owners)

        def tx(db: sqlite3.Connection) -> list[pb.JobEvent]:
            rows = db.execute("SELECT * FROM jobs WHERE state = ?", (RUNNING,)).fetchall()
            out = []
            for row in rows:
                expired = row["lease_expiry"] is None or row["lease_expiry"] < now
                if row["lease_owner"] not in live or expired:
                    out.append(self._requeue(db, row, "the worker running the job was lost"))
            return out

        return self._tx(tx)

    def renew_leases(self, owners: Iterable[str], expiry: float) -> None:
        owners = list(owners)
        if not owners:
            return

        def tx(db: sqlite3.Connection) -> None:
            db.execute(
                f"UPDATE jobs SET lease_expiry = ? WHERE state = ? AND lease_owner IN "
                f"({','.join('?' * len(owners))})",
                (expiry, RUNNING, *owners),
            )

        self._tx(tx)


class AsyncJobStore:
    """Runs `JobStore` calls on one dedicated thread so SQLite never blocks the event loop."""

    def __init__(self, store: JobStore):
        self.sync = store
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="jobstore")

    async def call(self, fn: Callable[..., T], *args: Any) -> T:
        return await asyncio.get_running_loop().run_in_executor(self._executor, fn, *args)

    def close(self) -> None:
        self._executor.shutdown(wait=True)
        self.sync.close()
