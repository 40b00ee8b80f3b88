# SPDX-License-Identifier: MIT
"""The SQLite job store and the scheduler, directly (real SQLite files, no workers)."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from trellis2_server.api._gen.trellis2.v1 import asset_generation_pb2 as pb
from trellis2_server.core.errors import ResourceExhausted
from trellis2_server.jobs.scheduler import pick_next
from trellis2_server.jobs.store import JobStore, QueuedHead


def _spec(priority: int = 0) -> pb.JobSpec:
    return pb.JobSpec(image_digest="ab" * 32, priority=priority, backend="preview")


@pytest.fixture
def store(tmp_path: Path) -> JobStore:
    s = JobStore(tmp_path / "jobs.sqlite3", max_attempts=2)
    yield s
    s.close()


def test_store_uses_write_ahead_logging(store: JobStore) -> None:
    (mode,) = store._db.execute("PRAGMA journal_mode").fetchone()
    assert mode == "wal"


def test_events_of_a_job_have_strictly_increasing_seq_from_one(store: JobStore) -> None:
    store.create_job("j1", "t", "", _spec(), 10)
    store.start_job("j1", "owner-a", 30, "w0", "preview")
    for i in range(5):
        store.record_progress("j1", "owner-a", pb.JobProgress(stage="s", step=i, total=5))
    store.complete_job("j1", "owner-a", pb.JobCompleted(), "key")
    seqs = [ev.seq for ev in store.events_after("j1", 0)]
    assert seqs == list(range(1, 9))
    assert [ev.seq for ev in store.events_after("j1", 6)] == [7, 8]
    assert store.get_job("j1").last_seq == 8


def test_repeated_request_id_returns_the_original_job(store: JobStore) -> None:
    _, _, created = store.create_job("j1", "t", "req-1", _spec(), 10)
    again, events2, created2 = store.create_job("j2", "t", "req-1", _spec(), 10)
    other_team, _, created3 = store.create_job("j3", "u", "req-1", _spec(), 10)
    assert created and not created2 and created3
    assert again.job_id == "j1" and events2 == []
    assert other_team.job_id == "j3"


def test_a_full_queue_refuses_new_jobs(store: JobStore) -> None:
    store.create_job("j1", "t", "", _spec(), 1)
    with pytest.raises(ResourceExhausted, match="queue is full"):
        store.create_job("j2", "t", "", _spec(), 1)


def test_a_worker_that_lost_its_lease_cannot_complete_the_job(store: JobStore) -> None:
    store.create_job("j1", "t", "", _spec(), 10)
    store.start_job("j1", "old-owner", 30, "w0", "preview")
    # The gateway died: on restart nobody owns the lease, the job goes back to the queue.
    requeued = store.requeue_stale([], time.time())
    assert [ev.WhichOneof("event") for ev in requeued] == ["queued"]
    assert store.complete_job("j1", "old-owner", pb.JobCompleted(), "") is None
    store.start_job("j1", "new-owner", 30, "w0", "preview")
    assert store.complete_job("j1", "new-owner", pb.JobCompleted(), "") is not None
    kinds = [ev.WhichOneof("event") for ev in store.events_after("j1", 0)]
    assert kinds == ["queued", "started", "queued", "started", "completed"]
    assert store.get_job("j1").attempt == 2


def test_an_expired_lease_is_requeued_and_a_renewed_one_is_not(store: JobStore) -> None:
    for job in ("j1", "j2"):
        store.create_job(job, "t", "", _spec(), 10)
    store.start_job("j1", "a", 0.01, "w0", "preview")
    store.start_job("j2", "b", 0.01, "w1", "preview")
    store.renew_leases(["b"], time.time() + 60)
    time.sleep(0.02)
    events = store.requeue_stale(["a", "b"], time.time())
    assert [ev.job for ev in events] == ["jobs/j1"]
    assert store.get_job("j1").state == pb.JOB_STATE_QUEUED
    assert store.get_job("j2").state == pb.JOB_STATE_RUNNING


def test_a_job_out_of_attempts_fails_instead_of_requeueing(store: JobStore) -> None:
    store.create_job("j1", "t", "", _spec(), 10)
    for owner in ("a", "b"):
        store.start_job("j1", owner, 30, "w0", "preview")
        store.requeue("j1", owner, "the worker crashed")
    job = store.get_job("j1")
    assert job.state == pb.JOB_STATE_FAILED
    assert "the worker crashed" in job.error.message and "2 attempts" in job.error.message


def test_cancel_of_a_running_job_is_only_marked_until_the_worker_stops(store: JobStore) -> None:
    store.create_job("j1", "t", "", _spec(), 10)
    store.start_job("j1", "a", 30, "w0", "preview")
    events, owner = store.cancel_job("j1")
    assert events == [] and owner == "a"
    assert store.get_job("j1").state == pb.JOB_STATE_RUNNING
    ev = store.finish_canceled("j1", "a")
    assert ev.canceled.was_running
    assert store.get_job("j1").state == pb.JOB_STATE_CANCELED


def test_queue_position_follows_priority_then_submission_order(store: JobStore) -> None:
    store.create_job("low", "t", "", _spec(0), 10)
    store.create_job("high", "t", "", _spec(5), 10)
    store.create_job("low2", "t", "", _spec(0), 10)
    positions = {j: store.get_job(j).queue_position for j in ("low", "high", "low2")}
    assert positions == {"high": 1, "low": 2, "low2": 3}


def test_list_jobs_pages_newest_first_and_filters_by_state(store: JobStore) -> None:
    for i in range(5):
        store.create_job(f"j{i}", "t", "", _spec(), 10)
    store.cancel_job("j1")
    page, cursor = store.list_jobs("t", [], 2, None)
    assert [j.job_id for j in page] == ["j4", "j3"]
    page2, cursor2 = store.list_jobs("t", [], 2, cursor)
    assert [j.job_id for j in page2] == ["j2", "j1"]
    page3, cursor3 = store.list_jobs("t", [], 2, cursor2)
    assert [j.job_id for j in page3] == ["j0"] and cursor3 is None
    canceled, _ = store.list_jobs("t", [pb.JOB_STATE_CANCELED], 10, None)
    assert [j.job_id for j in canceled] == ["j1"]
    assert store.list_jobs("other-team", [], 10, None) == ([], None)


def _head(job: str, team: str, priority: int = 0, seqno: int = 0) -> QueuedHead:
    return QueuedHead(job, team, priority, seqno)


def test_scheduler_takes_turns_across_teams_before_priority() -> None:
    heads = [_head("a1", "a", 5, 1), _head("a2", "a", 5, 2), _head("b1", "b", 0, 3)]
    assert pick_next(heads, {}, None).job_id == "a1"
    assert pick_next(heads, {}, "a").job_id == "b1"
    assert pick_next(heads, {}, "b").job_id == "a1"


def test_scheduler_respects_per_team_concurrency() -> None:
    heads = [_head("a1", "a"), _head("b1", "b")]
    assert pick_next(heads, {"a": 1}, None, per_team_limit=1).job_id == "b1"
    assert pick_next(heads, {"a": 1, "b": 1}, None, per_team_limit=1) is None
