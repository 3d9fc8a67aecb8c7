"""The scoring task: claim, score exactly once, failures, bounded retries, and the sweeper."""

import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select

from app import worker
from app.config import get_settings
from app.db import session_scope
from app.models import AuditLog, ImageResult, Submission, TeamMember, utcnow
from app.submissions import accept
from metrics.samples import write_sample_set
from tests.utils.arena import Arena, as_upload, build_arena, zip_folder


@pytest.fixture
def arena(db_url: str, tmp_path: Path) -> Arena:
    return build_arena(write_sample_set(tmp_path / "scorable", count=3, size=128))


def submit(arena: Arena, folder: Path, tmp_path: Path, name: str = "r.zip",
           phase: str | None = None) -> int:
    """Accept an upload the way POST /score does (validation, quota, storage)."""
    upload = as_upload(zip_folder(folder, tmp_path / name))
    with session_scope() as session:
        user_id = session.scalar(select(TeamMember.user_id)
                                 .where(TeamMember.team_id == arena.team_ids["alpha"]))
    return accept(user_id, upload, phase, get_settings()).id


def load(sub_id: int) -> Submission:
    with session_scope() as session:
        return session.get_one(Submission, sub_id)


def result_count(sub_id: int) -> int:
    with session_scope() as session:
        return session.scalar(select(func.count(ImageResult.id))
                              .where(ImageResult.submission_id == sub_id)) or 0


def dead_worker_name() -> str:
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    process.wait()
    return worker.worker_name().rsplit(":", 1)[0] + f":{process.pid}"


@pytest.mark.slow
def test_score_submission_scores_once_and_a_second_run_is_a_no_op(arena, tmp_path, weights_dir):
    sub_id = submit(arena, arena.samples.pred, tmp_path)
    assert worker.score_submission(sub_id) is worker.Outcome.SCORED
    assert worker.score_submission(sub_id) is worker.Outcome.SKIPPED
    sub = load(sub_id)
    assert sub.status == "scored" and sub.attempts == 1 and sub.progress_done == 3
    assert sub.score == pytest.approx(sub.mean["score"]) and result_count(sub_id) == 3
    assert set(sub.versions) == {"psnr", "ssim", "lpips", "dists", "niqe"}


@pytest.mark.slow
def test_score_submission_after_a_lost_lease_stores_results_exactly_once(arena, tmp_path,
                                                                         weights_dir):
    sub_id = submit(arena, arena.samples.pred, tmp_path)
    settings = get_settings()
    first = worker.claim(sub_id, dead_worker_name(), settings)  # a worker that then died
    assert first is not None
    assert worker.sweep(settings) == [sub_id]
    assert worker.score_submission(sub_id) is worker.Outcome.SCORED
    late = worker.run_job(first, settings)  # the first worker's late result is refused
    assert worker.store_results(first, late) is False
    sub = load(sub_id)
    assert sub.status == "scored" and sub.attempts == 2 and result_count(sub_id) == 3


def test_score_submission_invalid_input_found_late_fails_without_retry(arena, tmp_path):
    sub_id = submit(arena, arena.samples.pred, tmp_path)
    (get_settings().datasets_dir / "raim-test/validation/ground_truth/002.png").unlink()
    assert worker.score_submission(sub_id) is worker.Outcome.FAILED
    sub = load(sub_id)
    assert sub.status == "failed" and sub.attempts == 1
    assert "002.png" in sub.error and result_count(sub_id) == 0


def test_score_submission_unexpected_errors_retry_then_fail_with_the_reason(
        arena, tmp_path, monkeypatch, weights_dir):
    # A worker whose GPU is not there: an environment error, not the team's fault.
    sub_id = submit(arena, arena.samples.pred, tmp_path)
    monkeypatch.setenv("RAIM_SCORING_RETRIES", "2")
    monkeypatch.setenv("RAIM_DEVICE", "cuda:99")
    get_settings.cache_clear()
    assert worker.score_submission(sub_id) is worker.Outcome.RETRY
    assert load(sub_id).status == "queued"
    assert worker.score_submission(sub_id) is worker.Outcome.FAILED
    sub = load(sub_id)
    assert sub.status == "failed" and sub.attempts == 2
    assert sub.error.startswith("scoring failed 2 times; last error: RuntimeError")


def _scoring(sub_id: int, worker_name: str, *, heartbeat_age: float = 0.0, attempts: int = 1):
    with session_scope() as session:
        sub = session.get_one(Submission, sub_id)
        sub.status, sub.worker, sub.attempts = "scoring", worker_name, attempts
        sub.started_at = sub.heartbeat_at = utcnow() - timedelta(seconds=heartbeat_age)


def test_sweep_requeues_a_job_whose_worker_is_gone_and_leaves_live_ones(arena, tmp_path):
    gone = submit(arena, arena.samples.pred, tmp_path, "a.zip")
    alive = submit(arena, arena.samples.pred, tmp_path, "b.zip")
    _scoring(gone, dead_worker_name())
    _scoring(alive, worker.worker_name())
    assert worker.sweep(get_settings()) == [gone]
    assert load(gone).status == "queued" and load(alive).status == "scoring"
    with session_scope() as session:
        entry = session.scalars(select(AuditLog).where(AuditLog.action == "sweep")).one()
        assert entry.target == f"submission:{gone}" and "is gone" in entry.details["reason"]


def test_sweep_requeues_a_job_without_heartbeat_past_the_lease(arena, tmp_path):
    sub_id = submit(arena, arena.samples.pred, tmp_path)
    stale = get_settings().stale_after_seconds + 5
    _scoring(sub_id, "elsewhere.example:1234", heartbeat_age=stale)
    assert worker.sweep(get_settings()) == [sub_id]
    _scoring(sub_id, "elsewhere.example:1234", heartbeat_age=1)  # another host, fresh lease
    assert worker.sweep(get_settings()) == []


def test_sweep_fails_a_job_once_the_retries_are_spent(arena, tmp_path):
    sub_id = submit(arena, arena.samples.pred, tmp_path)
    _scoring(sub_id, dead_worker_name(), attempts=get_settings().scoring_retries)
    assert worker.sweep(get_settings()) == []
    sub = load(sub_id)
    assert sub.status == "failed"
    assert sub.error.startswith(f"scoring did not finish after {sub.attempts} attempt(s)")


def test_worker_gone_only_judges_processes_of_this_host():
    assert worker.worker_gone(dead_worker_name()) is True
    assert worker.worker_gone(worker.worker_name("local")) is False
    assert worker.worker_gone("some-other-host:1") is False
    assert worker.worker_gone(None) is True



def test_score_submission_unpaired_phase_is_checked_and_left_to_the_judges(arena, tmp_path):
    from app.models import Challenge
    from tests.utils.arena import add_phase

    with session_scope() as session:
        challenge_id = session.scalar(select(Challenge.id))
    add_phase(challenge_id, "final", None, kind="unpaired", position=1)
    sub_id = submit(arena, arena.samples.lq, tmp_path, "final.zip", phase="final")
    assert worker.score_submission(sub_id) is worker.Outcome.SCORED
    sub = load(sub_id)
    assert sub.score is None and result_count(sub_id) == 0
    assert sub.notes == ["unpaired phase: no objective score; judged by people"]
