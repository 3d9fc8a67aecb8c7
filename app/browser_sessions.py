"""Server-side browser sessions: started on sign-in, resolved per request, revoked for good.

The browser's cookie carries a random session id; the database keeps only its sha256
(``models.BrowserSession``), with the user, when it was created and last seen, when it
expires and whether it was revoked. Signing out revokes the row, so a copy of the cookie
taken before is worthless; a password change revokes every other session of the user.
Nothing here knows HTTP: app.deps and app.web.access carry the id in and out of the cookie.
"""

from __future__ import annotations

import secrets
from datetime import datetime, timedelta

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from app import last_use
from app.last_use import Credential
from app.models import BrowserSession, User, utcnow
from app.security import hash_token

SESSION_ID_BYTES = 32


def start(session: Session, user: User, *, max_age_seconds: int) -> str:
    """A new session for ``user``; returns the id for the cookie (stored only hashed).

    The user's sessions that have expired are deleted on the way, so rows do not pile up.
    """
    now = utcnow()
    session.execute(delete(BrowserSession).where(BrowserSession.user_id == user.id,
                                                 BrowserSession.expires_at <= now))
    session_id = secrets.token_urlsafe(SESSION_ID_BYTES)
    session.add(BrowserSession(user_id=user.id, id_hash=hash_token(session_id), created_at=now,
                               last_seen_at=now,
                               expires_at=now + timedelta(seconds=max_age_seconds)))
    session.flush()
    return session_id


def resolve(session: Session, session_id: str, *,
            now: datetime | None = None) -> Credential | None:
    """The user of a live session (not revoked, not expired), else None. Reads only; ``stale``
    says whether last_seen_at is due to be written (app.last_use: at most once a minute)."""
    now = now or utcnow()
    found = session.execute(select(BrowserSession, User).join(User).where(
        BrowserSession.id_hash == hash_token(session_id), BrowserSession.revoked_at.is_(None),
        BrowserSession.expires_at > now)).one_or_none()
    if found is None:
        return None
    row, user = found
    return Credential(user=user, row_id=row.id, stale=last_use.is_stale(row.last_seen_at, now))


def touch(session: Session, row_id: int, *, now: datetime | None = None) -> None:
    """Record that the session was seen (callers do it only when ``Credential.stale``)."""
    last_use.record(session, BrowserSession.last_seen_at, row_id, now=now)


def revoke(session: Session, session_id: str) -> None:
    """End one session (sign-out); an unknown or already revoked id changes nothing."""
    session.execute(update(BrowserSession).where(
        BrowserSession.id_hash == hash_token(session_id), BrowserSession.revoked_at.is_(None))
        .values(revoked_at=utcnow()))


def revoke_others(session: Session, user_id: int, keep: str | None = None) -> int:
    """End every live session of the user but ``keep`` (a password change); returns how many."""
    query = update(BrowserSession).where(BrowserSession.user_id == user_id,
                                         BrowserSession.revoked_at.is_(None))
    if keep is not None:
        query = query.where(BrowserSession.id_hash != hash_token(keep))
    return session.execute(query.values(revoked_at=utcnow())).rowcount
