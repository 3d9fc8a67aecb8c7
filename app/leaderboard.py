"""Phase leaderboards: one row per team by the phase's rule, failures never ranked, visibility.

Ordering is a pure function over plain entries (``rank_entries``) so it can be tested
without a database; ``phase_leaderboard`` feeds it from the submissions of a phase.

Visibility (``Phase.leaderboard``):
- ``public``: everyone, signed in or not, sees every row;
- ``private``: organisers see every row; a signed-in team member sees only their own
  team's row (with its true rank); anyone else sees no rows;
- ``hidden``: organisers only; everyone else gets 404 as if it did not exist.
Judges (who rate blind) get 404 whatever the setting.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.models import Phase, Submission, Team
from metrics.registry import METRIC_NAMES


@dataclass(frozen=True)
class Entry:
    """One submission as the ranking sees it."""

    submission_id: int
    team_id: int
    team: str
    status: str
    score: float | None
    mean: dict | None
    submitted_at: datetime


@dataclass(frozen=True)
class Row:
    """One ranked line of a leaderboard."""

    rank: int
    team_id: int
    entry: Entry

    def to_json(self) -> dict:
        mean = self.entry.mean or {}
        row: dict = {
            "rank": self.rank,
            "team": self.entry.team,
            "submission_id": self.entry.submission_id,
            "score": self.entry.score,
        }
        row.update({name: mean.get(name) for name in METRIC_NAMES})
        row["submitted_at"] = self.entry.submitted_at.isoformat()
        return row


def _rankable(entry: Entry) -> bool:
    return entry.status == "scored" and entry.score is not None


def _earlier(entry: Entry) -> tuple[datetime, int]:
    return entry.submitted_at, entry.submission_id


def _pick(entries: list[Entry], rank_by: str) -> Entry:
    if rank_by == "latest":
        return max(entries, key=_earlier)
    # best: the highest score; among equal scores the earlier submission
    return min(entries, key=lambda e: (-(e.score or 0.0), *_earlier(e)))


def rank_entries(entries: Iterable[Entry], rank_by: str) -> list[Row]:
    """One row per team (``best`` or ``latest`` scored submission), best score first.

    Only scored submissions with a score take part: failed, queued or scoring ones are
    never ranked, and ``latest`` means the latest *scored* one. Equal scores go to the
    team whose submission came first.
    """
    if rank_by not in ("best", "latest"):
        raise ValueError(f"rank_by must be 'best' or 'latest', not {rank_by!r}")
    by_team: dict[int, list[Entry]] = {}
    for entry in entries:
        if _rankable(entry):
            by_team.setdefault(entry.team_id, []).append(entry)
    chosen = [_pick(team_entries, rank_by) for team_entries in by_team.values()]
    chosen.sort(key=lambda e: (-(e.score or 0.0), *_earlier(e)))
    return [Row(rank, e.team_id, e) for rank, e in enumerate(chosen, 1)]


def phase_entries(session: Session, phase: Phase, *, until: datetime | None = None) -> list[Entry]:
    """Each team's pick by the phase's rule, chosen in the database (one row per team).

    A window function picks the best (or latest) scored submission of every team, so a
    request reads one row per team however many submissions the phase holds. ``until``
    counts only submissions made up to that moment (a leaderboard as it stood then).
    """
    if phase.rank_by == "latest":
        order = (Submission.created_at.desc(), Submission.id.desc())
    else:
        order = (Submission.score.desc(), Submission.created_at, Submission.id)
    conditions = [
        Submission.phase_id == phase.id,
        Submission.status == "scored",
        Submission.score.is_not(None),
    ]
    if until is not None:
        conditions.append(Submission.created_at <= until)
    picks = (
        select(
            Submission.id.label("id"),
            func.row_number().over(partition_by=Submission.team_id, order_by=order).label("pick"),
        )
        .where(*conditions)
        .subquery()
    )
    query = (
        select(
            Submission.id,
            Submission.team_id,
            Team.name,
            Submission.status,
            Submission.score,
            Submission.mean,
            Submission.created_at,
        )
        .join(picks, picks.c.id == Submission.id)
        .join(Team, Team.id == Submission.team_id)
        .where(picks.c.pick == 1)
    )
    return [Entry(*row) for row in session.execute(query)]


def phase_leaderboard(session: Session, phase: Phase) -> list[Row]:
    """The phase's full ranking, ignoring visibility."""
    return rank_entries(phase_entries(session, phase), phase.rank_by)


def visible_rows(
    rows: list[Row], visibility: str, *, organiser: bool, team_ids: set[int], judge: bool = False
) -> list[Row] | None:
    """The rows a viewer may see; None means the leaderboard does not exist for them.

    Judges never see a leaderboard: it would tell them which results rank where.
    """
    if organiser:
        return rows
    if judge:
        return None
    if visibility == "public":
        return rows
    if visibility == "private":
        return [row for row in rows if row.team_id in team_ids]
    return None
