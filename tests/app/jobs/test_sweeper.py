"""The sweeper: stuck jobs re-queued or failed, judged by lease and by process."""

from datetime import timedelta

from sqlalchemy import select

from app.config import get_settings
from app.db import session_scope
from app.jobs import sweeper
from app.models import AuditLog, Submission, utcnow
from tests.utils.jobs import dead_worker_name, load, submit


def _scoring(sub_id: int, worker_name: str, *, heartbeat_age: float = 0.0, attempts: int = 1):
    with session_scope() as session:
        sub = session.get_one(Submission, sub_id)
        sub.status, sub.worker, sub.attempts = "scoring", worker_name, attempts
        sub.started_at = sub.heartbeat_at = utcnow() - timedelta(seconds=heartbeat_age)


def test_sweep_requeues_a_job_whose_worker_is_gone_and_leaves_live_ones(arena, tmp_path):
    gone = submit(arena, arena.samples.pred, tmp_path, "a.zip")
    alive = submit(arena, arena.samples.pred, tmp_path, "b.zip")
    _scoring(gone, dead_worker_name())
    _scoring(alive, sweeper.worker_name())
    assert sweeper.sweep(get_settings()) == [gone]
    assert load(gone).status == "queued" and load(alive).status == "scoring"
    with session_scope() as session:
        entry = session.scalars(select(AuditLog).where(AuditLog.action == "sweep")).one()
        assert entry.target == f"submission:{gone}" and "is gone" in entry.details["reason"]


def test_sweep_requeues_a_job_without_heartbeat_past_the_lease(arena, tmp_path):
    sub_id = submit(arena, arena.samples.pred, tmp_path)
    stale = get_settings().stale_after_seconds + 5
    _scoring(sub_id, "elsewhere.example:1234", heartbeat_age=stale)
    assert sweeper.sweep(get_settings()) == [sub_id]
    _scoring(sub_id, "elsewhere.example:1234", heartbeat_age=1)  # another host, fresh lease
    assert sweeper.sweep(get_settings()) == []


def test_sweep_fails_a_job_once_the_retries_are_spent(arena, tmp_path):
    sub_id = submit(arena, arena.samples.pred, tmp_path)
    _scoring(sub_id, dead_worker_name(), attempts=get_settings().scoring_retries)
    assert sweeper.sweep(get_settings()) == []
    sub = load(sub_id)
    assert sub.status == "failed"
    assert sub.error.startswith(f"scoring did not finish after {sub.attempts} attempt(s)")


def test_worker_gone_only_judges_processes_of_this_host():
    assert sweeper.worker_gone(dead_worker_name()) is True
    assert sweeper.worker_gone(sweeper.worker_name("local")) is False
    assert sweeper.worker_gone("some-other-host:1") is False
    assert sweeper.worker_gone(None) is True
