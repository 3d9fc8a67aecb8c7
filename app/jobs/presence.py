"""Workers you can see: the workers table that every kind of worker heart-beats into.

Each worker process registers once (``register``: name, kind, host, version, device) and then
beats every ``heartbeat_seconds`` (``beat``: the time, its cache figures), idle or busy; a
remote worker does it through the worker API, the others directly. ``view`` is what the queue
page shows: a worker is ``live`` while it beats, ``silent`` once it missed three beats,
``stopped`` after it said goodbye, and it is no longer listed once silent or stopped for
FORGET_AFTER_SECONDS (an hour); rows silent for a week are deleted by the sweeper. What a
worker is scoring is read from the submissions it holds, not stored twice.
"""

from __future__ import annotations

import os
import socket
from datetime import datetime, timedelta
from functools import cache

from sqlalchemy import delete, or_, select, update
from sqlalchemy.orm import Session

from app.config import Settings
from app.models import Worker, utcnow

MISSED_BEATS = 3  # a worker is silent once it missed this many heartbeats
FORGET_AFTER_SECONDS = 3600  # silent or stopped this long: no longer listed
DELETE_AFTER = timedelta(days=7)
MAX_HEARTBEAT_SECONDS = 30


def heartbeat_seconds(settings: Settings) -> int:
    """How often workers renew their presence and their job's lease: a sixth of the lease
    (RAIM_STALE_AFTER_SECONDS), between 1 and 30 s, so a live worker is never swept."""
    return max(1, min(MAX_HEARTBEAT_SECONDS, settings.stale_after_seconds // 6))


def silent_after_seconds(settings: Settings) -> int:
    return MISSED_BEATS * heartbeat_seconds(settings)


@cache
def software_version() -> str:
    """This installation's version, as workers report it: ``raim-arena 0.1.0, numerics N``."""
    from importlib.metadata import PackageNotFoundError, version

    from metrics.numerics import NUMERICS_VERSION

    try:
        package = version("raim-arena")
    except PackageNotFoundError:
        package = "unknown"
    return f"raim-arena {package}, numerics {NUMERICS_VERSION}"


def this_host() -> tuple[str, int]:
    return socket.gethostname(), os.getpid()


def register(session: Session, *, name: str, kind: str, host: str, pid: int | None,
             version: str, device: str, token_id: int | None = None) -> Worker:
    """Create or renew the row of a worker process that starts (one row per name)."""
    now = utcnow()
    row = session.scalar(select(Worker).where(Worker.name == name))
    if row is None:
        row = Worker(name=name, started_at=now)
        session.add(row)
    elif row.stopped_at is not None or row.token_id != token_id:
        row.started_at = now  # another process under the same name: a new start
    row.kind, row.host, row.pid = kind, host[:255], pid
    row.version, row.device, row.token_id = version[:255], device[:255], token_id
    row.heartbeat_at, row.stopped_at = now, None
    session.flush()
    return row


def beat(session: Session, name: str, caches: dict | None = None) -> bool:
    """Record a sign of life (and the cache figures, when given); False for an unknown name."""
    values: dict = {"heartbeat_at": utcnow(), "stopped_at": None}
    if caches is not None:
        values["caches"] = caches
    return session.execute(update(Worker).where(Worker.name == name).values(**values)).rowcount == 1


def stopped(session: Session, name: str) -> None:
    session.execute(update(Worker).where(Worker.name == name).values(stopped_at=utcnow()))


def find(session: Session, name: str) -> Worker | None:
    return session.scalar(select(Worker).where(Worker.name == name))


def state(row: Worker, now: datetime, settings: Settings) -> str:
    """``live``, ``silent`` (missed MISSED_BEATS heartbeats) or ``stopped``."""
    if row.stopped_at is not None:
        return "stopped"
    silence = (now - row.heartbeat_at).total_seconds()
    return "silent" if silence > silent_after_seconds(settings) else "live"


def listed(session: Session, now: datetime, held: set[str]) -> list[Worker]:
    """Workers heard from in the last FORGET_AFTER_SECONDS, plus any holding a job (``held``)."""
    recent = now - timedelta(seconds=FORGET_AFTER_SECONDS)
    return list(session.scalars(
        select(Worker).where(or_(Worker.heartbeat_at >= recent, Worker.name.in_(held)))
        .order_by(Worker.name)))


def forget_old(session: Session, now: datetime | None = None) -> int:
    """Delete the rows of workers silent for DELETE_AFTER; returns how many."""
    cutoff = (now or utcnow()) - DELETE_AFTER
    return session.execute(delete(Worker).where(Worker.heartbeat_at < cutoff)).rowcount
