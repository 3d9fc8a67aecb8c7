"""The Celery task body, added to the shared Celery app; imported by the worker process only.

Senders never import this module: they send the task by name (``app.jobs.queue``), so the
web service loads neither the scorer nor the task to queue a job. A message means "a job is
waiting": the task claims the next job in the fair order through the worker's job store
(``app.jobs.worker.score_next``), whatever id the message names.
"""

from __future__ import annotations

import logging

from celery import Celery, Task
from celery.exceptions import WorkerShutdown

from app.config import get_settings
from app.jobs.broker import TASK_NAME, celery_app
from app.jobs.store import JobStore, StoreUnavailable, WorkerRefused
from app.jobs.worker import RETRY_DELAY_SECONDS, Outcome, score_next

log = logging.getLogger(__name__)


def score_task(task: Task, store: JobStore, submission_id: int | None = None) -> str:
    """Score the next waiting job; transient failures come back later."""
    try:
        outcome = score_next(store, settings=get_settings())
    except StoreUnavailable as exc:
        log.warning("the job store is unavailable (%s); this message comes back in %d s",
                    exc, RETRY_DELAY_SECONDS)
        raise task.retry(countdown=RETRY_DELAY_SECONDS, max_retries=None) from exc
    except WorkerRefused as exc:
        log.error("%s; this worker stops", exc)
        raise WorkerShutdown(str(exc)) from exc
    if outcome is Outcome.RETRY:
        raise task.retry(countdown=RETRY_DELAY_SECONDS, max_retries=None)
    return outcome.value


def worker_app(store: JobStore) -> Celery:
    """The shared Celery app with the scoring task registered for ``store``: what
    `raim worker` runs (once per process)."""
    app = celery_app()

    def task_body(task: Task, submission_id: int | None = None) -> str:
        return score_task(task, store, submission_id)

    app.task(name=TASK_NAME, bind=True, acks_late=True, reject_on_worker_lost=True)(task_body)
    return app
