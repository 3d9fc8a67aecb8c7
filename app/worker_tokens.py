"""Worker tokens: the credential of remote workers, good for the worker API and nothing else.

An organiser creates one per worker machine (or per group of them): ``raim worker token add
NAME``, or the queue page. Like API tokens, only the sha256 is stored, with a display prefix;
the token itself is shown once. A revoked token is refused at once, also in the middle of a
job (the job is then swept once its lease runs out). ``last_used_at`` is written at most once
a minute (``app/last_use``), so a busy worker's requests do not queue behind one another for a
write lock.
"""

from __future__ import annotations

import re

from sqlalchemy import select
from sqlalchemy.orm import Session

from app import audit, security
from app.models import User, WorkerToken, utcnow

NAME_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")


class WorkerTokenError(ValueError):
    """A token operation refused, with a message fit for the organiser who asked."""


class NameTaken(WorkerTokenError):
    """An active worker token has this name already."""


def create(session: Session, name: str, actor: User | None = None) -> tuple[WorkerToken, str]:
    """A new worker token: the row (hash only) and the token itself, to be shown once;
    written to the audit log."""
    clean = name.strip()
    if not NAME_PATTERN.match(clean):
        raise WorkerTokenError(f"worker token name {name!r}: use 1 to 64 letters, digits, '.', "
                               "'_' or '-', starting with a letter or digit")
    if active_named(session, clean) is not None:
        raise NameTaken(f"a worker token named {clean!r} exists already; revoke it "
                               "first or choose another name")
    token = security.new_token()
    row = WorkerToken(name=clean, token_hash=security.hash_token(token),
                      prefix=security.token_display_prefix(token),
                      created_by_id=actor.id if actor is not None else None)
    session.add(row)
    session.flush()
    _audit(session, "worker_token.add", row, actor)
    return row, token


def _audit(session: Session, action: str, row: WorkerToken, actor: User | None) -> None:
    audit.record(session, action, f"worker_token:{row.name}", {"prefix": row.prefix},
                 actor=actor)


def active_named(session: Session, name: str) -> WorkerToken | None:
    return session.scalar(select(WorkerToken).where(WorkerToken.name == name.strip(),
                                                    WorkerToken.revoked_at.is_(None)))


def find(session: Session, token: str) -> WorkerToken | None:
    """The row of this token, revoked or not; None when no worker token is this one."""
    if not security.looks_like_token(token):
        return None
    return session.scalar(select(WorkerToken).where(
        WorkerToken.token_hash == security.hash_token(token)))


def listing(session: Session) -> list[WorkerToken]:
    """Every worker token: active ones first, newest first."""
    return list(session.scalars(select(WorkerToken).order_by(
        WorkerToken.revoked_at.is_not(None), WorkerToken.created_at.desc(),
        WorkerToken.id.desc())))


def revoke(session: Session, row: WorkerToken, actor: User | None = None) -> bool:
    """Revoke ``row`` (audited); False when it was revoked already."""
    if row.revoked_at is not None:
        return False
    row.revoked_at = utcnow()
    _audit(session, "worker_token.revoke", row, actor)
    return True


def by_name_or_prefix(session: Session, key: str) -> WorkerToken:
    """The active token named ``key``, or whose display prefix is ``key`` (``raim_AbC1``)."""
    found = active_named(session, key) or session.scalar(
        select(WorkerToken).where(WorkerToken.prefix == key.strip(),
                                  WorkerToken.revoked_at.is_(None)))
    if found is None:
        raise WorkerTokenError(f"no active worker token named {key!r} "
                               "(see `raim worker token list`)")
    return found
