"""Scores submissions: the one job body every kind of worker runs, and its database job store.

``score_next(store)`` claims the next job in the fair order, fetches its files, scores them
with ``app.evaluation.evaluate`` and a process-wide FastScorer while a heartbeat thread renews
the lease, and reports the outcome, all through a job store (``app.jobs.store``): this
module's ``DatabaseStore`` for the embedded worker and the shared-disk Celery worker, or
``app.jobs.remote.HttpStore`` for a remote worker. Bad input found late and non-finite metrics
fail the submission with the message (no retry); any other error puts it back in the queue
until RAIM_SCORING_RETRIES attempts are spent; a lost lease stops the job quietly.

The database side, which the service's worker API also calls for remote workers:

- ``claim_next``: the fair queue. Among queued rows, the one whose team was served least
  recently (never served first; a team's last service is the newest ``started_at`` of its
  submissions), then the oldest; so each team's oldest waiting job takes turns with the other
  teams' and one team's burst cannot hold everyone back. The row moves ``queued`` ->
  ``scoring`` in one conditional UPDATE (attempts + 1, worker name, lease); a race lost to
  another worker is retried with the next candidate. On SQLite the choice and the UPDATE
  share one immediate transaction; on PostgreSQL the UPDATE's condition decides.
- ``record_progress`` renews the lease, ``store_results`` replaces the results and marks the
  row scored in one transaction (so a job run twice is still scored exactly once), ``fail``
  and ``release`` end an attempt. Each acts only while the row is ``scoring`` by this worker.

``LocalWorker`` is the embedded worker of ``raim serve`` without a broker; stuck jobs are found
by ``app.jobs.sweeper``.
"""

from __future__ import annotations

import logging
import os
import sys
import threading
import time
from collections.abc import Callable
from types import TracebackType

from sqlalchemy import case, delete, func, select, update
from sqlalchemy.orm import Session, selectinload

from app.config import Settings, get_settings
from app.db import is_sqlite, session_scope
from app.evaluation import Evaluation, build_scorer, evaluate, inventory, phase_formula
from app.jobs import presence, queue
from app.jobs.store import (
    Job,
    JobStore,
    Lease,
    LeaseLost,
    Outcome,
    StoreUnavailable,
    WorkerRefused,
)
from app.jobs.sweeper import queued_ids, sweep, worker_name
from app.jobs.warm import CacheWarmer
from app.leaderboard import results_stored
from app.models import ImageResult, Phase, Submission, utcnow
from app.storage import dataset_dir, upload_file
from metrics.engine import resolve_device
from metrics.images import InvalidInput
from metrics.pipeline import FastScorer
from metrics.registry import METRIC_NAMES, RAIM_METRICS
from metrics.weights import require
from scoring.report import NonFiniteMetric

log = logging.getLogger(__name__)

_scorers: dict[tuple[str, str], FastScorer] = {}
_scorer_lock = threading.Lock()
RETRY_DELAY_SECONDS = 10
FAIR_CANDIDATES = 8  # rows tried per look at the queue before looking again
CLAIM_ROUNDS = 10  # looks at the queue before a claim gives up (every candidate lost a race)


def scorer(settings: Settings | None = None) -> FastScorer:
    """The metric models of this process, loaded on first use and kept."""
    settings = settings or get_settings()
    key = (str(settings.weights_dir), settings.device)
    with _scorer_lock:
        if key not in _scorers:
            _scorers[key] = build_scorer(settings)
        return _scorers[key]


def cache_figures() -> dict[str, dict]:
    """This process's scorer caches as plain dicts, for heartbeats: ``features`` (the DISTS
    ground-truth feature cache's ``stats()``), when a scorer with such a cache is loaded."""
    with _scorer_lock:
        loaded = list(_scorers.values())
    for fast in loaded:
        stats = getattr(fast.gt_cache, "stats", None)
        if callable(stats):
            return {"features": dict(stats())}
    return {}


def describe_device(settings: Settings) -> str:
    """The device this process scores on, for the workers table: ``cpu`` or ``cuda:0 (name)``."""
    device = resolve_device(settings.device)
    if device.startswith("cuda"):
        import torch

        return f"{device} ({torch.cuda.get_device_name(torch.device(device))})"
    return device


def check_weights(settings: Settings) -> None:
    """Raise WeightsMissing (one line naming the file and the fix) before any job is taken."""
    for spec in RAIM_METRICS:
        require(settings.weights_dir, spec.weights)


# -- the database job store ---------------------------------------------------------------------

def fair_candidates(session: Session, limit: int = FAIR_CANDIDATES) -> list[int]:
    """Queued submission ids in the fair order (see the module notes), first ``limit``."""
    waiting_teams = select(Submission.team_id).where(Submission.status == "queued")
    served = (select(Submission.team_id, func.max(Submission.started_at).label("served"))
              .where(Submission.team_id.in_(waiting_teams), Submission.started_at.is_not(None))
              .group_by(Submission.team_id).subquery())
    query = (select(Submission.id)
             .outerjoin(served, served.c.team_id == Submission.team_id)
             .where(Submission.status == "queued")
             .order_by(case((served.c.served.is_(None), 0), else_=1), served.c.served,
                       Submission.created_at, Submission.id)
             .limit(limit))
    return list(session.scalars(query))


def claim_next(worker: str, settings: Settings) -> Job | None:
    """Take the next queued submission in the fair order for ``worker``; None when none waits."""
    for _ in range(CLAIM_ROUNDS):
        with session_scope(immediate=True) as session:
            candidates = fair_candidates(session)
            if not candidates:
                return None
            for submission_id in candidates:
                if _take(session, submission_id, worker):
                    return _job(session, submission_id, worker, settings)
                if is_sqlite(session):  # cannot happen inside BEGIN IMMEDIATE; be safe anyway
                    break
    log.warning("worker %s lost every race for a queued job %d times; trying later", worker,
                CLAIM_ROUNDS)
    return None


def claim(submission_id: int, worker: str, settings: Settings) -> Job | None:
    """Take this one queued submission for ``worker`` (out of the fair order: for organisers'
    tools and tests); None when it is not queued."""
    with session_scope(immediate=True) as session:
        if not _take(session, submission_id, worker):
            return None
        return _job(session, submission_id, worker, settings)


def _take(session: Session, submission_id: int, worker: str) -> bool:
    """The one conditional UPDATE: queued -> scoring for ``worker``; False if another won."""
    now = utcnow()
    return session.execute(
        update(Submission)
        .where(Submission.id == submission_id, Submission.status == "queued")
        .values(status="scoring", attempts=Submission.attempts + 1, worker=worker,
                started_at=now, heartbeat_at=now, progress_done=0, error=None)
    ).rowcount == 1


def _job(session: Session, submission_id: int, worker: str, settings: Settings) -> Job:
    sub = session.execute(
        select(Submission).where(Submission.id == submission_id)
        .options(selectinload(Submission.phase).selectinload(Phase.datasets),
                 selectinload(Submission.phase).selectinload(Phase.challenge))
    ).scalar_one()
    paired = sub.phase.kind == "paired"
    return Job(
        submission_id=sub.id, worker=worker,
        formula=phase_formula(sub.phase),
        paired=paired, image_count=sub.image_count,
        upload=upload_file(settings, sub.upload_path),
        ground_truth=dataset_dir(settings, sub.phase, "ground_truth") if paired else None,
    )


def _mine(lease: Lease):  # type: ignore[no-untyped-def]
    return (Submission.id == lease.submission_id, Submission.status == "scoring",
            Submission.worker == lease.worker)


def record_progress(lease: Lease, done: int | None = None) -> bool:
    """Renew the lease, storing ``done`` images when given; False when it was lost."""
    values: dict = {"heartbeat_at": utcnow()}
    if done is not None:
        values["progress_done"] = done
    with session_scope() as session:
        held = session.execute(update(Submission).where(*_mine(lease))
                               .values(**values)).rowcount == 1
        presence.beat(session, lease.worker)
        return held


def store_results(job: Lease, evaluation: Evaluation | None) -> bool:
    """Replace the submission's results and mark it scored, in one transaction."""
    with session_scope(immediate=True) as session:
        sub = session.execute(select(Submission).where(*_mine(job))
                              .with_for_update()).scalar_one_or_none()
        if sub is None:
            return False  # the lease was lost: another worker owns this submission now
        session.execute(delete(ImageResult).where(ImageResult.submission_id == sub.id))
        if evaluation is not None:
            session.add_all(ImageResult(submission_id=sub.id, **_result_columns(row))
                            for row in evaluation.report.images)
            sub.mean, sub.score = evaluation.report.mean, evaluation.report.mean["score"]
            sub.versions, sub.notes = evaluation.versions, evaluation.notes
            sub.resized = {row["name"]: row["resized_from"] for row in
                           evaluation.report.images if "resized_from" in row} or None
            sub.progress_done = len(evaluation.report.images)
        else:
            sub.notes = ["unpaired phase: no objective score; judged by people"]
        sub.status, sub.finished_at, sub.error = "scored", utcnow(), None
        results_stored(session, sub)
        return True


def _result_columns(row: dict) -> dict:
    """An ImageResult's columns from a report row: the name, each registry metric, the score."""
    return {key: row.get(key) for key in ("name", *METRIC_NAMES, "score")}


def fail(job: Lease, message: str) -> bool:
    """Mark the submission failed with ``message``; False when the lease was lost."""
    with session_scope() as session:
        return session.execute(update(Submission).where(*_mine(job))
                               .values(status="failed", error=message,
                                       finished_at=utcnow())).rowcount == 1


def release(job: Lease, reason: str, settings: Settings) -> Outcome:
    """After a transient error: back to the queue, or failed once the retries are spent."""
    with session_scope(immediate=True) as session:
        sub = session.execute(select(Submission).where(*_mine(job))
                              .with_for_update()).scalar_one_or_none()
        if sub is None:
            return Outcome.SKIPPED
        if sub.attempts >= settings.scoring_retries:
            sub.status, sub.finished_at = "failed", utcnow()
            sub.error = f"scoring failed {sub.attempts} times; last error: {reason}"
            return Outcome.FAILED
        sub.status, sub.error = "queued", None
        return Outcome.RETRY


class DatabaseStore:
    """The job store of workers that reach the database and RAIM_DATA_DIR themselves."""

    def __init__(self, settings: Settings, *, kind: str = "celery", name: str | None = None):
        self.settings = settings
        self.kind = kind
        self.name = name or worker_name()
        self.heartbeat_seconds = float(presence.heartbeat_seconds(settings))

    def hello(self, version: str, device: str) -> None:
        host, pid = presence.this_host()
        with session_scope(immediate=True) as session:
            presence.register(session, name=self.name, kind=self.kind, host=host, pid=pid,
                              version=version, device=device)

    def alive(self, caches: dict[str, dict]) -> None:
        with session_scope() as session:
            presence.beat(session, self.name, caches)

    def goodbye(self) -> None:
        with session_scope() as session:
            presence.stopped(session, self.name)

    def claim(self) -> Job | None:
        return claim_next(self.name, self.settings)

    def fetch(self, job: Job) -> Job:
        return job  # the files are on this machine's RAIM_DATA_DIR already

    def heartbeat(self, job: Job, done: int | None = None) -> bool:
        return record_progress(job, done)

    def store(self, job: Job, evaluation: Evaluation | None) -> bool:
        return store_results(job, evaluation)

    def fail(self, job: Job, message: str) -> None:
        fail(job, message)

    def release(self, job: Job, reason: str) -> Outcome:
        return release(job, reason, self.settings)

    def finish(self, job: Job) -> None:
        pass  # nothing was copied


# -- the job body ---------------------------------------------------------------------------------

class Heartbeat:
    """While a job runs: a daemon thread renewing its lease every ``store.heartbeat_seconds``
    (a single large image can take longer than that), and the progress callback of the scorer.

    Once the store says the lease is lost, ``progress`` raises LeaseLost, which stops scoring.
    """

    def __init__(self, store: JobStore, job: Job):
        self.store, self.job = store, job
        self.lost = threading.Event()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="raim-heartbeat", daemon=True)

    def __enter__(self) -> Heartbeat:
        self._thread.start()
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None,
                 traceback: TracebackType | None) -> None:
        self._stop.set()
        self._thread.join(timeout=10)

    def _loop(self) -> None:
        while not self._stop.wait(self.store.heartbeat_seconds):
            try:
                if not self.store.heartbeat(self.job):
                    self.lost.set()
                    return
            except WorkerRefused:
                self.lost.set()
                return
            except Exception:  # the service or database is briefly away: the next beat may pass
                log.warning("heartbeat for submission %s failed", self.job.submission_id,
                            exc_info=True)

    def progress(self, done: int) -> None:
        """Record ``done`` images; a store that is briefly away only costs this record (the
        heartbeat thread keeps trying), a lost lease stops the job."""
        try:
            held = not self.lost.is_set() and self.store.heartbeat(self.job, done)
        except StoreUnavailable:
            log.warning("progress of submission %s not recorded", self.job.submission_id,
                        exc_info=True)
            return
        if not held:
            self.lost.set()
            raise LeaseLost(f"submission {self.job.submission_id} is no longer held by "
                            f"{self.job.worker}")


def run_job(job: Job, settings: Settings,
            on_progress: Callable[[int], None] | None = None) -> Evaluation | None:
    """Score the fetched upload; None for unpaired phases, which people judge instead."""
    if job.upload is None:
        raise RuntimeError(f"submission {job.submission_id}: the upload was not fetched")
    if job.ground_truth is None:
        inventory(job.upload, None, max_pixels=settings.max_pixels, max_images=settings.max_images,
                  formula=job.formula)
        return None
    return evaluate(job.upload, job.ground_truth, scorer(settings), formula=job.formula,
                    max_pixels=settings.max_pixels, max_images=settings.max_images,
                    on_progress=None if on_progress is None
                    else lambda done, _total, _name: on_progress(done))


def score_job(store: JobStore, job: Job, settings: Settings) -> Outcome:
    """Fetch, score and report one claimed job through ``store``."""
    try:
        with Heartbeat(store, job) as beat:
            job = store.fetch(job)
            evaluation = run_job(job, settings, on_progress=beat.progress)
        if beat.lost.is_set():
            raise LeaseLost(f"submission {job.submission_id}: lease lost")
    except LeaseLost as exc:
        log.warning("%s; its results are left to the worker that holds it now", exc)
        store.finish(job)
        return Outcome.SKIPPED
    except (InvalidInput, NonFiniteMetric) as exc:
        store.finish(job)
        store.fail(job, str(exc))
        return Outcome.FAILED
    except WorkerRefused:
        store.finish(job)
        raise  # nothing can be reported with a refused token: the process stops
    except Exception as exc:  # transient (database, network, device memory...): retried, bounded
        log.exception("scoring submission %s failed", job.submission_id)
        store.finish(job)
        return store.release(job, f"{type(exc).__name__}: {exc}")
    try:
        stored = store.store(job, evaluation)
    except (WorkerRefused, StoreUnavailable):
        raise
    except Exception as exc:  # refused (a bug on either side) or a database error: retried
        log.exception("storing the results of submission %s failed", job.submission_id)
        return store.release(job, f"storing the results failed: {type(exc).__name__}: {exc}")
    finally:
        store.finish(job)
    return Outcome.SCORED if stored else Outcome.SKIPPED


def score_next(store: JobStore | None = None, *, settings: Settings | None = None) -> Outcome:
    """Claim the next job in the fair order and score it; IDLE when nothing waits.

    Without a store: the database store of this process (a shared-disk worker's).
    """
    settings = settings or get_settings()
    store = store or DatabaseStore(settings)
    job = store.claim()
    if job is None:
        return Outcome.IDLE
    return score_job(store, job, settings)


class Beacon:
    """A daemon thread telling the workers table every ``store.heartbeat_seconds`` that this
    worker process lives (idle or busy), with its cache figures."""

    def __init__(self, store: JobStore, figures: Callable[[], dict[str, dict]] = cache_figures):
        self.store, self.figures = store, figures
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="raim-presence", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()

    def _loop(self) -> None:
        while not self._stop.wait(self.store.heartbeat_seconds):
            try:
                self.store.alive(self.figures())
            except WorkerRefused as exc:
                log.error("%s", exc)
                return
            except Exception:  # the service or database is briefly away: the next beat may pass
                log.warning("worker heartbeat failed", exc_info=True)


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

    It runs the same job body as Celery workers, one job at a time, in the fair order;
    ``queue.enqueue`` wakes it, and it sweeps stuck rows itself. Before its first job it loads
    the metric models at normal priority, then scores at the lowest (LOCAL_WORKER_NICE), so the
    web stays fast. (Loading is mostly Python holding the GIL: a niced thread doing it on a
    busy machine stalled requests for over a second.)
    """

    def __init__(self, settings: Settings):
        self.settings = settings
        self.store = DatabaseStore(settings, kind="embedded", name=worker_name("local"))
        self.name = self.store.name
        self.beacon = Beacon(self.store)
        self._described = False
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._niced = False
        self.warmer = CacheWarmer(settings)
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
        self.beacon.stop()
        self._stop.set()
        self._wake.set()
        self._thread.join(timeout=timeout)
        idle = not self._thread.is_alive()
        if idle:
            try:
                self.store.goodbye()
            except Exception:
                log.warning("could not record the local worker's stop", exc_info=True)
        return idle

    def _register(self, device: str) -> None:
        """Join (or update) the workers table; a failure costs only the listing."""
        try:
            self.store.hello(presence.software_version(), device)
        except Exception:  # listed from its jobs only; scoring goes on
            log.warning("could not register the local worker", exc_info=True)

    def _loop(self) -> None:
        # The configured device until the first job has loaded the models (finding the actual
        # device imports torch: seconds, which a shutdown right after the start cannot wait).
        self._register(self.settings.device)
        self.beacon.start()
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

    def _models(self) -> FastScorer:
        """The scorer, its models loaded at normal priority the first time; the thread runs
        at the lowest priority from then on."""
        loaded = scorer(self.settings)
        if not self._niced:
            lower_thread_priority(LOCAL_WORKER_NICE)
            self._niced = True
        return loaded

    def _run_one(self) -> None:
        if not self._niced and queued_ids():
            self._models()
        outcome = score_next(self.store, settings=self.settings)
        if not self._described and outcome is not Outcome.IDLE:
            self._register(describe_device(self.settings))
            self._described = True
        if outcome is Outcome.IDLE:
            if self.warmer.step(self._models):
                return  # one ground-truth image cached; look for a job before the next
            self._wake.wait(timeout=1.0)
            self._wake.clear()
        elif outcome is Outcome.RETRY:
            self._stop.wait(RETRY_DELAY_SECONDS)
