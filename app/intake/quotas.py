"""Submission quotas of a phase: what a team has left today and in total, checked under a lock.

``max_submissions_per_day`` counts the phase's non-failed submissions of the team since
00:00 UTC (it resets at the next 00:00 UTC); ``max_submissions`` counts them all. Failed
submissions never count. ``lock_team`` serialises one team's submissions
(``SELECT ... FOR UPDATE`` on PostgreSQL; the transaction is ``BEGIN IMMEDIATE`` on SQLite).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, time, timedelta
from http import HTTPStatus

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.db import is_sqlite
from app.errors import ApiError
from app.models import Phase, Submission, Team


def phase_label(phase: Phase) -> str:
    """``challenge/phase``, as teams name a phase."""
    return f"{phase.challenge.slug}/{phase.slug}"


def counted_submissions(
    session: Session, phase: Phase, team: Team, since: datetime | None = None
) -> int:
    """Submissions that count against quotas: every one that has not failed."""
    query = select(func.count(Submission.id)).where(
        Submission.phase_id == phase.id,
        Submission.team_id == team.id,
        Submission.status != "failed",
    )
    if since is not None:
        query = query.where(Submission.created_at >= since)
    return int(session.scalar(query) or 0)


def day_start(now: datetime) -> datetime:
    return datetime.combine(now.date(), time(0), tzinfo=now.tzinfo)


@dataclass
class QuotaLeft:
    """What a team may still submit to a phase (None: no limit)."""

    today: int | None
    total: int | None
    resets_at: datetime
    problems: list[str] = field(default_factory=list)


def quota_left(session: Session, phase: Phase, team: Team, now: datetime) -> QuotaLeft:
    midnight = day_start(now)
    left = QuotaLeft(None, None, midnight + timedelta(days=1))
    if phase.max_submissions_per_day is not None:
        left.today = phase.max_submissions_per_day - counted_submissions(
            session, phase, team, midnight
        )
    if phase.max_submissions is not None:
        left.total = phase.max_submissions - counted_submissions(session, phase, team)
    return left


def check_quota(session: Session, phase: Phase, team: Team, now: datetime) -> None:
    left = quota_left(session, phase, team, now)
    if left.total is not None and left.total <= 0:
        raise ApiError(
            HTTPStatus.TOO_MANY_REQUESTS,
            f"team {team.name!r} has used all {phase.max_submissions} submissions of "
            f"phase {phase_label(phase)} (failed ones do not count)",
            extra={"limit": phase.max_submissions, "period": "total", "resets_at": None},
        )
    if left.today is not None and left.today <= 0:
        wait = max(1, int((left.resets_at - now).total_seconds()))
        raise ApiError(
            HTTPStatus.TOO_MANY_REQUESTS,
            f"team {team.name!r} has used its {phase.max_submissions_per_day} "
            f"submissions of today for phase {phase_label(phase)} (failed ones do not "
            f"count); the quota resets at {left.resets_at.isoformat()}",
            extra={
                "limit": phase.max_submissions_per_day,
                "period": "day",
                "resets_at": left.resets_at.isoformat(),
            },
            headers={"Retry-After": str(wait)},
        )


def lock_team(session: Session, team_id: int) -> Team:
    """Serialise submissions of one team (the transaction is BEGIN IMMEDIATE on SQLite)."""
    query = select(Team).where(Team.id == team_id)
    if not is_sqlite(session):
        query = query.with_for_update()
    return session.execute(query).scalar_one()
