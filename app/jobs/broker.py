"""The Celery application that senders and workers share: broker URL and delivery settings only.

It registers no task: the sending side (``app.jobs.queue``) sends by task name, and only the
worker process imports ``app.jobs.tasks``, which adds the task body to this application.

Celery settings: acknowledge late (only after the result is stored), reject when the
worker process is lost (the message goes back to the queue), prefetch one message, one
job at a time per worker process.
"""

from __future__ import annotations

from functools import lru_cache

from celery import Celery

from app.config import get_settings

TASK_NAME = "raim.score_submission"
QUEUE_NAME = "raim.scoring"


class NoBroker(RuntimeError):
    """RAIM_BROKER_URL is not set where a Celery broker is required."""


def uses_broker() -> bool:
    return bool(get_settings().broker_url)


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
    return app
