"""When a credential was last used: looked up by reading only, recorded at most once a minute.

API tokens (``ApiToken.last_used_at``) and browser sessions (``BrowserSession.last_seen_at``)
show when they were last used. Writing that on every request would make every authenticated
request a write transaction, and on SQLite writers take turns with the scoring worker's. So a
lookup only reads and says whether the recorded time is ``stale`` (``INTERVAL`` old or more);
the caller then writes it with ``record``, in a short transaction that does nothing else (on
SQLite a transaction that has read may not write once another connection has committed).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import or_, update
from sqlalchemy.orm import InstrumentedAttribute, Session

from app.models import User, utcnow

INTERVAL = timedelta(minutes=1)


@dataclass(frozen=True)
class Credential:
    """A live credential's user and row, and whether its time of last use is due to be written."""

    user: User
    row_id: int
    stale: bool


def is_stale(last: datetime | None, now: datetime) -> bool:
    """Whether a last use recorded at ``last`` should be written again at ``now``."""
    return last is None or now - last >= INTERVAL


def record(session: Session, column: InstrumentedAttribute[Any], row_id: int, *,
           now: datetime | None = None) -> None:
    """Set ``column`` of row ``row_id`` to ``now``, unless it was written less than INTERVAL
    before ``now`` (another request was first), so the time never moves back."""
    now = now or utcnow()
    model = column.class_
    session.execute(update(model)
                    .where(model.id == row_id, or_(column.is_(None), column <= now - INTERVAL))
                    .values({column.key: now}))
