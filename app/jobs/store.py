"""The job-store interface that the one job body (``app.jobs.worker.score_job``) is written against.

A job store is where a worker claims jobs, finds their files, renews its lease and reports the
outcome. Two implementations: ``app.jobs.worker.DatabaseStore`` (the embedded worker and the
shared-disk Celery worker: the database and RAIM_DATA_DIR directly) and
``app.jobs.remote.HttpStore`` (a remote worker: the service's worker API, files downloaded and
checked by sha256). Every rule that decides a job's state (the fair claim, the lease, the one
transaction that stores results, the bounded retries) runs in the service's database code
either way; an HTTP store only asks for it.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from scoring.formula import Formula

if TYPE_CHECKING:
    from app.evaluation import Evaluation


class Outcome(enum.Enum):
    SCORED = "scored"
    FAILED = "failed"
    RETRY = "retry"  # put back in the queue after a transient error
    SKIPPED = "skipped"  # the lease was lost: another worker owns the submission now
    IDLE = "idle"  # nothing was waiting


class LeaseLost(RuntimeError):
    """This worker no longer holds the job (swept after a silence, or rescored): stop scoring."""


class StoreUnavailable(RuntimeError):
    """The job store cannot be reached now (the service is away): try the job again later."""


class WorkerRefused(RuntimeError):
    """The service refuses this worker's credentials (a revoked or wrong token): nothing can be
    reported any more, so the worker process stops; its job is swept once its lease runs out."""


@dataclass(frozen=True)
class Lease:
    """A claimed submission and the worker holding it: what every state change names."""

    submission_id: int
    worker: str


@dataclass(frozen=True)
class Job(Lease):
    """What a claimed submission needs for scoring.

    ``upload`` and ``ground_truth`` are paths on this machine: known at once from a database
    store, filled in by ``JobStore.fetch`` for a remote one (``sources`` says what to download).
    ``ground_truth`` is None for unpaired phases, which people judge.
    """

    formula: Formula = field(compare=False)
    paired: bool = True
    image_count: int = 0
    upload: Path | None = None
    ground_truth: Path | None = None
    sources: Mapping[str, Any] = field(default_factory=dict, compare=False)


class JobStore(Protocol):
    """Where one worker process takes its jobs and reports on them (see the module notes)."""

    name: str  # the worker's name, as Submission.worker holds it while it scores
    kind: str  # app.models.WORKER_KINDS
    heartbeat_seconds: float  # how often a job's lease and the worker's presence are renewed

    def hello(self, version: str, device: str) -> None:
        """Register this worker process (the workers table), once at start."""

    def alive(self, caches: dict[str, dict]) -> None:
        """An idle heartbeat, with the worker's cache figures."""

    def goodbye(self) -> None:
        """The process stops: no more heartbeats are coming."""

    def claim(self) -> Job | None:
        """The next job in the fair order, now held by this worker; None when none waits."""

    def fetch(self, job: Job) -> Job:
        """``job`` with its files on this machine (downloaded and checked when remote)."""

    def heartbeat(self, job: Job, done: int | None = None) -> bool:
        """Renew the lease (and record ``done`` images); False once the lease is lost."""

    def store(self, job: Job, evaluation: Evaluation | None) -> bool:
        """Store the results in one transaction; False when the lease was lost."""

    def fail(self, job: Job, message: str) -> None:
        """The submission cannot be scored (bad input found late): failed, not retried."""

    def release(self, job: Job, reason: str) -> Outcome:
        """After a transient error: back to the queue (RETRY), or FAILED once retries are spent."""

    def finish(self, job: Job) -> None:
        """The job is over: drop what ``fetch`` put on this machine for it alone."""
