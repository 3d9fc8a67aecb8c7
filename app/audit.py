"""The audit trail: one function that records an organiser's (or the system's) action, and the
search that lists them (newest first, by action and target, a page at a time)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session, selectinload

from app.models import AuditLog, User

PAGE_SIZE = 50


def record(session: Session, action: str, target: str, details: dict[str, Any] | None = None,
           *, actor: User | None = None) -> AuditLog:
    """Add an AuditLog row (committed with the caller's transaction).

    ``action`` is a dotted verb such as ``challenge.load``; ``target`` names what it
    touched (``challenge:raim-2024``); ``details`` holds JSON-safe values, e.g. the old
    results of a rescored submission.
    """
    entry = AuditLog(action=action, target=target, details=details or {},
                     actor_id=actor.id if actor is not None else None)
    session.add(entry)
    return entry


@dataclass(frozen=True)
class AuditPage:
    """One page of the log: its entries, the total that matched, and where it stands."""

    entries: list[AuditLog]
    total: int
    page: int
    per_page: int

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.per_page))


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def search(session: Session, *, action: str = "", target: str = "", page: int = 1,
           per_page: int = PAGE_SIZE) -> AuditPage:
    """Entries newest first; ``action`` matches exactly or as a prefix ending in a dot
    (``campaign.`` lists every campaign action), ``target`` as a substring."""
    query = select(AuditLog)
    if action:
        query = query.where(AuditLog.action.startswith(_escape_like(action), escape="\\")
                            if action.endswith(".") else AuditLog.action == action)
    if target:
        query = query.where(AuditLog.target.contains(_escape_like(target), escape="\\"))
    total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    page = max(1, min(page, max(1, -(-total // per_page))))
    entries = list(session.scalars(
        query.options(selectinload(AuditLog.actor))
        .order_by(AuditLog.at.desc(), AuditLog.id.desc())
        .offset((page - 1) * per_page).limit(per_page)))
    return AuditPage(entries, total, page, per_page)


def actions(session: Session) -> list[str]:
    """Every action recorded so far, sorted (for the filter's choices)."""
    return list(session.scalars(select(AuditLog.action).distinct().order_by(AuditLog.action)))
