"""Hands scoring jobs to workers: the Celery app when a broker is set, else the local worker.

A job is only a submission id; the database row holds its state. ``enqueue`` must be
called after the transaction that made the row ``queued`` has committed, so that a
worker never receives an id it cannot see yet.

Celery settings: acknowledge late (only after the result is stored), reject when the
worker process is lost (the message goes back to the queue), prefetch one message, one
job at a time per worker process.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable
from functools import lru_cache

from celery import Celery, Task

from app.config import get_settings

log = logging.getLogger(__name__)

TASK_NAME = "raim.score_submission"
QUEUE_NAME = "raim.scoring"
RETRY_DELAY_SECONDS = 10

_local_listeners: list[Callable[[], None]] = []
_listeners_lock = threading.Lock()


class NoBroker(RuntimeError):
    """RAIM_BROKER_URL is not set where a Celery broker is required."""


def uses_broker() -> bool:
    return bool(get_settings().broker_url)


def _score_task(task: Task, submission_id: int) -> str:
    """The Celery task: score one submission; transient failures come back later."""
    from app.worker import Outcome, score_submission

    outcome = score_submission(submission_id)
    if outcome is Outcome.RETRY:
        raise task.retry(countdown=RETRY_DELAY_SECONDS, max_retries=None)
    return outcome.value


@lru_cache
def celery_app() -> Celery:
    """The process's Celery application, configured from settings."""
    settings = get_settings()
    if not settings.broker_url:
        raise NoBroker("RAIM_BROKER_URL is not set: `raim worker` needs a Redis or RabbitMQ URL "
                       "(e.g. redis://127.0.0.1:6379/0); without one, `raim serve` scores locally")
    app = Celery("raim", broker=settings.broker_url, set_as_current=False)
    app.conf.update(
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        worker_prefetch_multiplier=1,
        worker_concurrency=1,
        task_ignore_result=True,
        task_default_queue=QUEUE_NAME,
        broker_connection_retry_on_startup=True,
        worker_hijack_root_logger=False,
        # A message unacknowledged this long (worker died) is delivered again; the row's
        # lease and the sweeper usually re-queue it much sooner.
        broker_transport_options={"visibility_timeout": 2 * settings.stale_after_seconds},
    )
    app.task(name=TASK_NAME, bind=True, acks_late=True, reject_on_worker_lost=True)(_score_task)
    return app


def add_local_listener(wake: Callable[[], None]) -> None:
    """Register the embedded worker's wake-up call (no-broker mode)."""
    with _listeners_lock:
        _local_listeners.append(wake)


def remove_local_listener(wake: Callable[[], None]) -> None:
    with _listeners_lock:
        if wake in _local_listeners:
            _local_listeners.remove(wake)


def enqueue(submission_ids: Iterable[int]) -> None:
    """Tell workers these (committed, queued) submissions are waiting."""
    ids = list(submission_ids)
    if not ids:
        return
    if uses_broker():
        app = celery_app()
        for submission_id in ids:
            app.send_task(TASK_NAME, args=[submission_id], queue=QUEUE_NAME)
        return
    # Embedded mode: the local worker reads queued rows itself; just wake it up.
    with _listeners_lock:
        listeners = list(_local_listeners)
    for wake in listeners:
        wake()
