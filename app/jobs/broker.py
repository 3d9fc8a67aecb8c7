"""The Celery application that senders and workers share: broker URL and delivery settings only.

It registers no task: the sending side (``app.jobs.queue``) sends by task name, and only the
worker process imports ``app.jobs.tasks``, which adds the task body to this application.

Celery settings: acknowledge late (only after the result is stored), reject when the
worker process is lost (the message goes back to the queue), prefetch one message, one
job at a time per worker process, on the queue RAIM_QUEUE_NAME (``raim.scoring``). A message
names a submission, but means only "a job is waiting": the worker that takes it claims the
next job in the fair order (``app.jobs.worker.claim_next``), so duplicate and lost messages
are harmless (the sweeper re-sends for queued rows that wait unsent). Sending fails fast when
the broker is down or hangs (bounded connection and socket timeouts, one publish retry),
instead of Celery's default of retrying for a long time: the submission is stored and the
sweeper sends it again later.
``broker_problem()`` says whether the broker answers (``raim serve`` reports it at start-up).
"""

from __future__ import annotations

from functools import lru_cache

from celery import Celery
from kombu.utils.url import maybe_sanitize_url

from app.config import get_settings

TASK_NAME = "raim.score_submission"
CONNECT_TIMEOUT_SECONDS = 3
SOCKET_TIMEOUT_SECONDS = 5  # Redis reads; above the 1 s BRPOP timeout of idle workers
PUBLISH_RETRY = {"max_retries": 1, "interval_start": 0, "interval_step": 0.5, "interval_max": 0.5}


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
        task_default_queue=settings.queue_name,
        broker_connection_retry_on_startup=True,
        broker_connection_max_retries=None,  # a worker outlives any broker outage
        broker_connection_timeout=CONNECT_TIMEOUT_SECONDS,
        task_publish_retry_policy=PUBLISH_RETRY,
        worker_hijack_root_logger=False,
        broker_transport_options={
            # A message unacknowledged this long (worker died) is delivered again; the row's
            # lease and the sweeper usually re-queue it much sooner.
            "visibility_timeout": 2 * settings.stale_after_seconds,
            "socket_connect_timeout": CONNECT_TIMEOUT_SECONDS,
            "socket_timeout": SOCKET_TIMEOUT_SECONDS,
        },
    )
    return app


def broker_url_for_people() -> str:
    """RAIM_BROKER_URL with its password, if any, masked."""
    return maybe_sanitize_url(get_settings().broker_url or "")


def broker_problem() -> str | None:
    """None when the broker answers a connection now, else the reason it does not."""
    try:
        with celery_app().connection_for_write() as conn:
            conn.ensure_connection(max_retries=1, interval_start=0, interval_step=0,
                                   timeout=CONNECT_TIMEOUT_SECONDS)
    except Exception as exc:  # kombu's and the transports' errors: the reason is what counts
        return f"{type(exc).__name__}: {exc}"
    return None
