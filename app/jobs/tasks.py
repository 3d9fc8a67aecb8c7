"""The Celery task body, added to the shared Celery app; imported by the worker process only.

Senders never import this module: they send the task by name (``app.jobs.queue``), so the
web service loads neither the scorer nor the task to queue a job.
"""

from __future__ import annotations

from functools import lru_cache

from celery import Celery, Task

from app.jobs.broker import TASK_NAME, celery_app
from app.jobs.worker import RETRY_DELAY_SECONDS, Outcome, score_submission


def score_task(task: Task, submission_id: int) -> str:
    """Score one submission; transient failures come back later."""
    outcome = score_submission(submission_id)
    if outcome is Outcome.RETRY:
        raise task.retry(countdown=RETRY_DELAY_SECONDS, max_retries=None)
    return outcome.value


@lru_cache
def worker_app() -> Celery:
    """The shared Celery app with the scoring task registered: what `raim worker` runs."""
    app = celery_app()
    app.task(name=TASK_NAME, bind=True, acks_late=True, reject_on_worker_lost=True)(score_task)
    return app
