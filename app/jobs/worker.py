"""Scores submissions: the one job body that Celery workers and the embedded local worker both run.

The submission row is the source of truth. ``score_submission(id)`` claims the row
(``queued`` -> ``scoring`` in one conditional UPDATE, attempts + 1, worker name, lease),
scores the stored upload with ``app.evaluation.evaluate`` and a process-wide FastScorer,
then stores every image result, the means and the score in one transaction that
replaces any earlier results, so a job run twice is still scored exactly once. Bad input
found late and non-finite metrics fail the submission with the message (no retry); any
other error puts it back in the queue until RAIM_SCORING_RETRIES attempts are spent.

``LocalWorker`` is the embedded worker of ``raim serve`` without a broker; stuck jobs are
found by ``app.jobs.sweeper``.
"""

from __future__ import annotations

import enum
import logging
import os
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import delete, select, update
from sqlalchemy.orm import selectinload

from app.config import Settings, get_settings
from app.db import session_scope
from app.evaluation import Evaluation, build_scorer, evaluate, inventory
from app.jobs import queue
from app.jobs.sweeper import queued_ids, sweep, worker_name
from app.leaderboard import results_stored
from app.models import ImageResult, Phase, Submission, utcnow
from app.storage import dataset_dir, upload_file
from metrics.images import InvalidInput
from metrics.pipeline import FastScorer
from metrics.registry import METRIC_NAMES, RAIM_METRICS
from metrics.weights import require
from scoring.formula import Formula, formula_from_config
from scoring.report import NonFiniteMetric

log = logging.getLogger(__name__)

_scorers: dict[tuple[str, str], FastScorer] = {}
_scorer_lock = threading.Lock()
RETRY_DELAY_SECONDS = 10


class Outcome(enum.Enum):
    SCORED = "scored"
    FAILED = "failed"
    RETRY = "retry"
    SKIPPED = "skipped"  # not queued any more (already scored, or taken by another worker)


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
        results_stored(session, sub)
        return True


def _result_columns(row: dict) -> dict:
    """An ImageResult's columns from a report row: the name, each registry metric, the score."""
    return {key: row.get(key) for key in ("name", *METRIC_NAMES, "score")}


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
    try:
        evaluation = run_job(job, settings)
    except (InvalidInput, NonFiniteMetric) as exc:
        fail(job, str(exc))
        return Outcome.FAILED
    except Exception as exc:  # transient (database, device memory...): retried, bounded
        log.exception("scoring submission %s failed", submission_id)
        return release(job, f"{type(exc).__name__}: {exc}", settings)
    return Outcome.SCORED if store_results(job, evaluation) else Outcome.SKIPPED


# The embedded worker shares the web process's cores: once its models are loaded, its thread,
# and every thread it starts (torch's intra-op threads, the scorer's pool), run at this nice
# value, so that requests run first and scoring takes the CPU they leave (bench/RESULTS.md).
LOCAL_WORKER_NICE = 19


def lower_thread_priority(nice: int) -> None:
    """Give the calling thread (and the threads it will start) this nice value (Linux)."""
    if not sys.platform.startswith("linux"):
        return
    try:
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), nice)
    except OSError as exc:  # a container may forbid it: scoring still works, just not niced
        log.warning("could not lower the local worker's priority: %s", exc)


class LocalWorker:
    """The embedded worker of ``raim serve`` without a broker: a thread scoring queued rows.

    It runs the same ``score_submission`` as Celery workers, one job at a time, taking
    the oldest queued row; ``queue.enqueue`` wakes it, and it sweeps stuck rows itself.
    Before its first job it loads the metric models at normal priority, then scores at the
    lowest (LOCAL_WORKER_NICE), so the web stays fast. (Loading is mostly Python holding the
    GIL: a niced thread doing it on a busy machine stalled requests for over a second.)
    """

    def __init__(self, settings: Settings):
        self.settings = settings
        self.name = worker_name("local")
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._niced = False
        self._thread = threading.Thread(target=self._loop, name="raim-local-worker", daemon=True)

    def start(self) -> None:
        queue.add_local_listener(self._wake.set)
        self._thread.start()

    def stop(self, timeout: float = 60) -> bool:
        """Take no new job and wait up to ``timeout`` s for the thread; False if still busy.

        A job still running then stays ``scoring`` in the database; once this process is
        gone, the sweeper re-queues it (``sweeper.worker_gone``).
        """
        queue.remove_local_listener(self._wake.set)
        self._stop.set()
        self._wake.set()
        self._thread.join(timeout=timeout)
        return not self._thread.is_alive()

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
        if not self._niced:
            scorer(self.settings)
            lower_thread_priority(LOCAL_WORKER_NICE)
            self._niced = True
        if score_submission(ids[0], worker=self.name, settings=self.settings) is Outcome.RETRY:
            self._stop.wait(RETRY_DELAY_SECONDS)
