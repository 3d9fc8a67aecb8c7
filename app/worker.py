"""Scores submissions: the one task body that Celery workers and the embedded local worker both run.

The submission row is the source of truth. ``score_submission(id)`` claims the row
(``queued`` -> ``scoring`` in one conditional UPDATE, attempts + 1, worker name, lease),
scores the stored upload with ``app.evaluation.evaluate`` and a process-wide FastScorer,
then stores every image result, the means and the score in one transaction that
replaces any earlier results, so a job run twice is still scored exactly once. Bad input
found late and non-finite metrics fail the submission with the message (no retry); any
other error puts it back in the queue until RAIM_SCORING_RETRIES attempts are spent.

``sweep()`` finds submissions stuck in ``scoring`` (no heartbeat for
RAIM_STALE_AFTER_SECONDS, or their worker process is gone) and re-queues or fails them.
"""

from __future__ import annotations

import enum
import logging
import os
import socket
import threading
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

import psutil
from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session, selectinload

from app import queue
from app.config import Settings, get_settings
from app.db import session_scope
from app.evaluation import Evaluation, build_scorer, evaluate, inventory
from app.models import AuditLog, ImageResult, Phase, Submission, utcnow
from metrics.images import InvalidInput
from metrics.pipeline import FastScorer
from metrics.registry import RAIM_METRICS
from metrics.weights import require
from scoring.formula import Formula, formula_from_config
from scoring.report import NonFiniteMetric

log = logging.getLogger(__name__)

_scorers: dict[tuple[str, str], FastScorer] = {}
_scorer_lock = threading.Lock()
HOLD_POLL_SECONDS = 0.05


class Outcome(enum.Enum):
    SCORED = "scored"
    FAILED = "failed"
    RETRY = "retry"
    SKIPPED = "skipped"  # not queued any more (already scored, or taken by another worker)


def worker_name(suffix: str = "") -> str:
    """``host:pid`` (plus a suffix for the embedded worker): lets a sweeper tell if it died."""
    name = f"{socket.gethostname()}:{os.getpid()}"
    return f"{name}:{suffix}" if suffix else name


def scorer(settings: Settings | None = None) -> FastScorer:
    """The metric models of this process, loaded on first use and kept."""
    settings = settings or get_settings()
    key = (str(settings.weights_dir), settings.device)
    with _scorer_lock:
        if key not in _scorers:
            _scorers[key] = build_scorer(settings)
        return _scorers[key]


def check_weights(settings: Settings) -> None:
    """Raise WeightsMissing (one line naming the file and the fix) before any job is taken."""
    for spec in RAIM_METRICS:
        require(settings.weights_dir, spec.weights)


@dataclass(frozen=True)
class Job:
    """What a claimed submission needs for scoring, read while claiming it."""

    submission_id: int
    upload: Path
    ground_truth: Path | None
    formula: Formula
    worker: str


def upload_file(settings: Settings, upload_path: str) -> Path:
    """Stored upload paths are relative to RAIM_DATA_DIR (shared by every machine)."""
    return settings.data_dir / upload_path


def dataset_dir(settings: Settings, phase: Phase, role: str) -> Path | None:
    dataset = phase.dataset(role)
    return settings.datasets_dir / dataset.path if dataset is not None else None


def claim(submission_id: int, worker: str, settings: Settings) -> Job | None:
    """Move a queued row to ``scoring`` for this worker; None when it is not queued."""
    now = utcnow()
    with session_scope() as session:
        claimed = session.execute(
            update(Submission)
            .where(Submission.id == submission_id, Submission.status == "queued")
            .values(status="scoring", attempts=Submission.attempts + 1, worker=worker,
                    started_at=now, heartbeat_at=now, progress_done=0, error=None)
        ).rowcount
        if claimed != 1:
            return None
        sub = session.execute(
            select(Submission).where(Submission.id == submission_id)
            .options(selectinload(Submission.phase).selectinload(Phase.datasets),
                     selectinload(Submission.phase).selectinload(Phase.challenge))
        ).scalar_one()
        return Job(
            submission_id=sub.id,
            upload=upload_file(settings, sub.upload_path),
            ground_truth=dataset_dir(settings, sub.phase, "ground_truth")
            if sub.phase.kind == "paired" else None,
            formula=formula_from_config(sub.phase.challenge.formula or None),
            worker=worker,
        )


def _mine(submission_id: int, worker: str):  # type: ignore[no-untyped-def]
    return (Submission.id == submission_id, Submission.status == "scoring",
            Submission.worker == worker)


def record_progress(job: Job, done: int) -> None:
    """Store images done and renew the lease."""
    with session_scope() as session:
        session.execute(update(Submission).where(*_mine(job.submission_id, job.worker))
                        .values(progress_done=done, heartbeat_at=utcnow()))


def hold_if_asked(settings: Settings) -> None:
    """Test-only pause: wait while RAIM_HOLD_SCORING_FILE exists (makes 'mid-job' deterministic)."""
    hold = settings.hold_scoring_file
    while hold is not None and hold.exists():
        time.sleep(HOLD_POLL_SECONDS)


def run_job(job: Job, settings: Settings) -> Evaluation | None:
    """Score the upload; None for unpaired phases, which people judge instead."""
    if job.ground_truth is None:
        inventory(job.upload, None, max_pixels=settings.max_pixels, max_images=settings.max_images)
        return None
    return evaluate(job.upload, job.ground_truth, scorer(settings), formula=job.formula,
                    max_pixels=settings.max_pixels, max_images=settings.max_images,
                    on_progress=lambda done, _total, _name: record_progress(job, done))


def store_results(job: Job, evaluation: Evaluation | None) -> bool:
    """Replace the submission's results and mark it scored, in one transaction."""
    with session_scope(immediate=True) as session:
        sub = session.execute(select(Submission).where(*_mine(job.submission_id, job.worker))
                              .with_for_update()).scalar_one_or_none()
        if sub is None:
            return False  # the lease was lost: another worker owns this submission now
        session.execute(delete(ImageResult).where(ImageResult.submission_id == sub.id))
        if evaluation is not None:
            session.add_all(ImageResult(submission_id=sub.id, **_result_columns(row))
                            for row in evaluation.report.images)
            sub.mean, sub.score = evaluation.report.mean, evaluation.report.mean["score"]
            sub.versions, sub.notes = evaluation.versions, evaluation.notes
            sub.progress_done = len(evaluation.report.images)
        else:
            sub.notes = ["unpaired phase: no objective score; judged by people"]
        sub.status, sub.finished_at, sub.error = "scored", utcnow(), None
        return True


def _result_columns(row: dict) -> dict:
    keys = ("name", "psnr", "ssim", "lpips", "dists", "niqe", "score")
    return {key: row.get(key) for key in keys}


def fail(job: Job, message: str) -> None:
    with session_scope() as session:
        session.execute(update(Submission).where(*_mine(job.submission_id, job.worker))
                        .values(status="failed", error=message, finished_at=utcnow()))


def release(job: Job, reason: str, settings: Settings) -> Outcome:
    """After a transient error: back to the queue, or failed once the retries are spent."""
    with session_scope(immediate=True) as session:
        sub = session.execute(select(Submission).where(*_mine(job.submission_id, job.worker))
                              .with_for_update()).scalar_one_or_none()
        if sub is None:
            return Outcome.SKIPPED
        if sub.attempts >= settings.scoring_retries:
            sub.status, sub.finished_at = "failed", utcnow()
            sub.error = f"scoring failed {sub.attempts} times; last error: {reason}"
            return Outcome.FAILED
        sub.status, sub.error = "queued", None
        return Outcome.RETRY


def score_submission(submission_id: int, *, worker: str | None = None,
                     settings: Settings | None = None) -> Outcome:
    """Claim, score and store one submission; safe to call any number of times."""
    settings = settings or get_settings()
    job = claim(submission_id, worker or worker_name(), settings)
    if job is None:
        return Outcome.SKIPPED
    hold_if_asked(settings)
    try:
        evaluation = run_job(job, settings)
    except (InvalidInput, NonFiniteMetric) as exc:
        fail(job, str(exc))
        return Outcome.FAILED
    except Exception as exc:  # transient (database, device memory...): retried, bounded
        log.exception("scoring submission %s failed", submission_id)
        return release(job, f"{type(exc).__name__}: {exc}", settings)
    return Outcome.SCORED if store_results(job, evaluation) else Outcome.SKIPPED


# -- stuck submissions ------------------------------------------------------------------


def worker_gone(worker: str | None) -> bool:
    """True when ``worker`` names a process on this host that no longer runs."""
    if not worker:
        return True
    host, _, rest = worker.partition(":")
    pid_text = rest.split(":", 1)[0]
    if host != socket.gethostname() or not pid_text.isdigit():
        return False  # another machine: only the lease can tell
    pid = int(pid_text)
    if pid == os.getpid():
        return False
    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


def stuck_reason(sub: Submission, now: datetime, settings: Settings) -> str | None:
    last = sub.heartbeat_at or sub.started_at
    if last is not None and now - last > timedelta(seconds=settings.stale_after_seconds):
        return f"no progress from worker {sub.worker} for {int((now - last).total_seconds())} s"
    if worker_gone(sub.worker):
        return f"worker {sub.worker} is gone"
    return None


def _requeue_stuck(session: Session, now: datetime, settings: Settings) -> list[int]:
    requeued = []
    rows = session.execute(select(Submission).where(Submission.status == "scoring")
                           .with_for_update(skip_locked=True)).scalars()
    for sub in rows:
        reason = stuck_reason(sub, now, settings)
        if reason is None:
            continue
        if sub.attempts >= settings.scoring_retries:
            sub.status, sub.finished_at = "failed", now
            sub.error = f"scoring did not finish after {sub.attempts} attempt(s); last: {reason}"
        else:
            sub.status = "queued"
            requeued.append(sub.id)
        session.add(AuditLog(action="sweep", target=f"submission:{sub.id}",
                             details={"reason": reason, "attempts": sub.attempts,
                                      "status": sub.status}))
    return requeued


def sweep(settings: Settings | None = None, *, now: datetime | None = None) -> list[int]:
    """Re-queue (or fail, past the retry bound) stuck submissions; returns re-queued ids."""
    settings = settings or get_settings()
    with session_scope(immediate=True) as session:
        requeued = _requeue_stuck(session, now or utcnow(), settings)
    queue.enqueue(requeued)
    return requeued


def queued_ids(limit: int | None = None) -> list[int]:
    """Queued submissions, oldest first."""
    with session_scope() as session:
        query = (select(Submission.id).where(Submission.status == "queued")
                 .order_by(Submission.created_at, Submission.id).limit(limit))
        return list(session.execute(query).scalars())


def resume_queued() -> list[int]:
    """At start-up: hand every queued submission to the workers again (duplicates are no-ops)."""
    ids = queued_ids()
    queue.enqueue(ids)
    return ids


class Sweeper:
    """A daemon thread that runs ``sweep()`` every RAIM_SWEEP_INTERVAL_SECONDS."""

    def __init__(self, settings: Settings):
        self.settings = settings
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="raim-sweeper", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=10)

    def _loop(self) -> None:
        while not self._stop.wait(self.settings.sweep_interval_seconds):
            try:
                sweep(self.settings)
            except Exception:  # the database may be briefly away: try again next round
                log.exception("sweep failed")


class LocalWorker:
    """The embedded worker of ``raim serve`` without a broker: a thread scoring queued rows.

    It runs the same ``score_submission`` as Celery workers, one job at a time, taking
    the oldest queued row; ``queue.enqueue`` wakes it, and it sweeps stuck rows itself.
    """

    def __init__(self, settings: Settings):
        self.settings = settings
        self.name = worker_name("local")
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="raim-local-worker", daemon=True)

    def start(self) -> None:
        queue.add_local_listener(self._wake.set)
        self._thread.start()

    def stop(self) -> None:
        queue.remove_local_listener(self._wake.set)
        self._stop.set()
        self._wake.set()
        self._thread.join(timeout=60)

    def _loop(self) -> None:
        next_sweep = 0.0
        while not self._stop.is_set():
            try:
                if time.monotonic() >= next_sweep:
                    sweep(self.settings)
                    next_sweep = time.monotonic() + self.settings.sweep_interval_seconds
                self._run_one()
            except Exception:  # keep the service's worker alive; the row keeps the state
                log.exception("local worker round failed")
                self._stop.wait(1.0)

    def _run_one(self) -> None:
        ids = queued_ids(limit=1)
        if not ids:
            self._wake.wait(timeout=1.0)
            self._wake.clear()
            return
        if score_submission(ids[0], worker=self.name, settings=self.settings) is Outcome.RETRY:
            self._stop.wait(queue.RETRY_DELAY_SECONDS)
