"""Stuck jobs: submissions left in ``scoring`` by a dead worker, or ``queued`` but never taken.

``sweep()`` re-queues ``scoring`` rows whose worker died or stopped heart-beating (or fails
them once RAIM_SCORING_RETRIES attempts are spent), writing each decision to the audit log.
A worker on this machine is judged by its process too; a remote worker (``name@host:pid``),
which may run anywhere, by its lease alone: no heartbeat for RAIM_STALE_AFTER_SECONDS. Workers
heart-beat every sixth of that (``app.jobs.presence``), also in the middle of an image.
``resend_waiting()`` hands ``queued`` rows to the broker again when no send succeeded
(``enqueued_at`` None: the broker was down when they were accepted) or the last one is
RAIM_RESEND_AFTER_SECONDS old (a broker that lost its messages); a duplicate message is a
no-op, since a worker claims a row only while it is queued. ``Sweeper`` runs both every
RAIM_SWEEP_INTERVAL_SECONDS beside a broker's workers, and ``resume_queued`` hands every
queued row to the workers again at start-up.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
from datetime import datetime, timedelta

import psutil
from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from app.config import Settings, get_settings
from app.db import session_scope
from app.jobs import presence, queue
from app.models import AuditLog, Submission, utcnow

log = logging.getLogger(__name__)


def worker_name(suffix: str = "") -> str:
    """``host:pid`` (plus a suffix for the embedded worker): lets a sweeper tell if it died."""
    name = f"{socket.gethostname()}:{os.getpid()}"
    return f"{name}:{suffix}" if suffix else name


def is_remote(worker: str) -> bool:
    """Whether ``worker`` names a remote worker (``token-name@host:pid``)."""
    return "@" in worker


def worker_gone(worker: str | None) -> bool:
    """True when ``worker`` names a process on this host that no longer runs (never for a
    remote worker: only its lease can tell)."""
    if not worker:
        return True
    if is_remote(worker):
        return False
    host, _, rest = worker.partition(":")
    pid_text = rest.split(":", 1)[0]
    if host != socket.gethostname() or not pid_text.isdigit():
        return False  # another machine: only the lease can tell
    pid = int(pid_text)
    if pid == os.getpid():
        return False
    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


def stuck_reason(sub: Submission, now: datetime, settings: Settings) -> str | None:
    last = sub.heartbeat_at or sub.started_at
    if last is not None and now - last > timedelta(seconds=settings.stale_after_seconds):
        return f"no progress from worker {sub.worker} for {int((now - last).total_seconds())} s"
    if worker_gone(sub.worker):
        return f"worker {sub.worker} is gone"
    return None


def _requeue_stuck(session: Session, now: datetime, settings: Settings) -> list[int]:
    requeued = []
    rows = session.execute(select(Submission).where(Submission.status == "scoring")
                           .with_for_update(skip_locked=True)).scalars()
    for sub in rows:
        reason = stuck_reason(sub, now, settings)
        if reason is None:
            continue
        if sub.attempts >= settings.scoring_retries:
            sub.status, sub.finished_at = "failed", now
            sub.error = f"scoring did not finish after {sub.attempts} attempt(s); last: {reason}"
        else:
            sub.status = "queued"
            requeued.append(sub.id)
        session.add(AuditLog(action="sweep", target=f"submission:{sub.id}",
                             details={"reason": reason, "attempts": sub.attempts,
                                      "status": sub.status}))
    return requeued


def sweep(settings: Settings | None = None, *, now: datetime | None = None) -> list[int]:
    """Re-queue (or fail, past the retry bound) stuck submissions; returns re-queued ids."""
    settings = settings or get_settings()
    with session_scope(immediate=True) as session:
        requeued = _requeue_stuck(session, now or utcnow(), settings)
        presence.forget_old(session, now)
    queue.enqueue(requeued)
    return requeued


def queued_ids() -> list[int]:
    """Queued submissions, oldest first."""
    with session_scope() as session:
        query = (select(Submission.id).where(Submission.status == "queued")
                 .order_by(Submission.created_at, Submission.id))
        return list(session.execute(query).scalars())


def waiting_ids(now: datetime, settings: Settings) -> list[int]:
    """Queued submissions never handed to the broker, or last handed over too long ago."""
    cutoff = now - timedelta(seconds=settings.resend_after_seconds)
    with session_scope() as session:
        query = (select(Submission.id)
                 .where(Submission.status == "queued",
                        or_(Submission.enqueued_at.is_(None), Submission.enqueued_at < cutoff))
                 .order_by(Submission.created_at, Submission.id))
        return list(session.execute(query).scalars())


def resend_waiting(settings: Settings | None = None, *,
                   now: datetime | None = None) -> list[int]:
    """Send the waiting queued submissions again (broker mode); returns the ids sent."""
    settings = settings or get_settings()
    ids = waiting_ids(now or utcnow(), settings)
    sent = queue.enqueue(ids)
    if sent:
        log.info("sent %d waiting submission(s) to the workers again: %s", len(sent), sent)
    return sent


def resume_queued() -> list[int]:
    """At start-up: hand every queued submission to the workers again (duplicates are no-ops)."""
    ids = queued_ids()
    queue.enqueue(ids)
    return ids


class Sweeper:
    """A daemon thread that runs ``sweep()`` and ``resend_waiting()`` every
    RAIM_SWEEP_INTERVAL_SECONDS (broker mode)."""

    def __init__(self, settings: Settings):
        self.settings = settings
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="raim-sweeper", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self, timeout: float = 10) -> bool:
        """Stop sweeping; waits up to ``timeout`` s for a sweep in progress. False if still busy."""
        self._stop.set()
        self._thread.join(timeout=timeout)
        return not self._thread.is_alive()

    def _loop(self) -> None:
        while not self._stop.wait(self.settings.sweep_interval_seconds):
            try:
                sweep(self.settings)
                resend_waiting(self.settings)
            except Exception:  # the database may be briefly away: try again next round
                log.exception("sweep failed")
