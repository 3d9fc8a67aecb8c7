"""Hands scoring jobs to workers: a Celery message when a broker is set, else a local wake-up.

A message carries a submission id, but a worker reads it as "a job is waiting" and claims the
next job in the fair order; the database row holds each job's state. The rule is "commit, then
enqueue": a worker must never receive an id it cannot see yet, and the answer to the client
is built only after both. ``commit_then_enqueue(session, ids)`` is that rule, for every
place that queues work (an upload, a rescore); ``enqueue`` alone serves ids whose rows are
already committed (the sweeper).

A send that fails (broker down) never undoes or hides a committed submission: it is logged,
and the row stays ``queued`` with ``enqueued_at`` unchanged (None when never sent), which is
how ``app.jobs.sweeper`` finds it and sends it again once the broker is back. A send that
succeeds stamps ``enqueued_at`` (with a broker only: the embedded worker reads queued rows
itself and needs no stamp).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable

from sqlalchemy import update
from sqlalchemy.orm import Session

from app.config import get_settings
from app.db import session_scope
from app.jobs.broker import TASK_NAME, celery_app, uses_broker
from app.models import Submission, utcnow

log = logging.getLogger(__name__)

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


def commit_then_enqueue(session: Session, submission_ids: Iterable[int]) -> list[int]:
    """Commit ``session`` (its error, if any, is raised: nothing was stored), then hand the
    queued ids to the workers; returns the ids sent. Nothing after the commit raises."""
    ids = list(submission_ids)
    session.commit()
    return enqueue(ids)


def enqueue(submission_ids: Iterable[int]) -> list[int]:
    """Tell workers these committed, queued submissions wait; returns the ids handed over.

    With a broker, ids the broker did not take are logged and left to the sweeper.
    """
    ids = list(submission_ids)
    if not ids:
        return []
    if not uses_broker():
        # Embedded mode: the local worker reads queued rows itself; just wake it up.
        with _listeners_lock:
            listeners = list(_local_listeners)
        for wake in listeners:
            wake()
        return ids
    sent = _send(ids)
    if sent:
        _stamp(sent)
    return sent


def _send(ids: list[int]) -> list[int]:
    app, queue_name = celery_app(), get_settings().queue_name
    sent: list[int] = []
    for submission_id in ids:
        try:
            app.send_task(TASK_NAME, args=[submission_id], queue=queue_name)
        except Exception as exc:  # kombu's and the transports' errors (broker down, timeout)
            log.warning("broker unreachable, %d submission(s) stay queued until the sweeper "
                        "sends them again (%s): %s", len(ids) - len(sent),
                        ", ".join(map(str, ids[len(sent):])), exc)
            break  # the next sends would fail the same way, each after its timeout
        sent.append(submission_id)
    return sent


def _stamp(ids: list[int]) -> None:
    """Record when these ids were sent; without it the sweeper merely sends them once more."""
    try:
        with session_scope() as session:
            session.execute(update(Submission).where(Submission.id.in_(ids))
                            .values(enqueued_at=utcnow()))
    except Exception:  # a busy database must not turn a stored submission into an error
        log.warning("could not record the sending of submission(s) %s", ids, exc_info=True)
