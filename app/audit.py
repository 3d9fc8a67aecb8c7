"""The audit trail: one function that records an organiser's (or the system's) action."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from app.models import AuditLog, User


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
