"""Hands scoring jobs to workers: a Celery message when a broker is set, else a local wake-up.

A job is only a submission id; the database row holds its state. ``enqueue`` must be
called after the transaction that made the row ``queued`` has committed, so that a
worker never receives an id it cannot see yet.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable

from app.jobs.broker import QUEUE_NAME, TASK_NAME, celery_app, uses_broker

_local_listeners: list[Callable[[], None]] = []
_listeners_lock = threading.Lock()


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
