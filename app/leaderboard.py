"""Phase leaderboards: one line per team, kept up to date as results change, and visibility.

A submission *stands* with its results: its score and means once scored, or, while an
organiser's rescore of it is queued, running or has failed, the score and means it had before
(``HeldResult``). Submissions never scored, failed ones with nothing held and unpaired phases'
submissions never stand. A team's line is its best standing submission (``rank_by: best``; equal
scores: the earlier one) or its latest (``latest``).

Lines are stored, one per team and phase (``leaderboard_entries``), and changed in the
transaction that changes what they are made of:
- ``results_stored``: a submission's new results (called by the worker where it stores them);
- ``hold_for_rescore``: a scored submission queued again keeps standing with its results;
- ``rebuild``: a whole phase, from its submissions (migration 0007, a change of the phase's
  ``rank_by``, and ``raim db rebuild-leaderboards`` after submissions were written by hand).
A failed, retried or swept job changes no standing, so those paths need no call; team names
are read with the lines and visibility applies when they are read, so renames and visibility
changes need none either. Code that deletes a single submission calls ``refresh_team``.

``phase_entries`` picks each team's standing submission in the database with a window
function, from the submissions themselves: ``rebuild`` uses it, and so does qualification
(a leaderboard as it stood at a phase's end). ``rank_entries`` orders plain entries, so the
ranking can be tested without a database.

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

from sqlalchemy import ColumnElement, delete, func, insert, select
from sqlalchemy.orm import Session

from app.models import HeldResult, LeaderboardEntry, Phase, Submission, Team
from metrics.registry import METRIC_NAMES

RESCORE_PENDING = "pending"
RESCORE_FAILED = "failed"


@dataclass(frozen=True)
class Entry:
    """One submission as the ranking sees it; ``held``: its results from before a rescore."""

    submission_id: int
    team_id: int
    team: str
    status: str
    score: float | None
    mean: dict | None
    submitted_at: datetime
    held: bool = False

    @property
    def rescore(self) -> str | None:
        """``pending`` while a rescore runs, ``failed`` after it failed; None otherwise."""
        if not self.held:
            return None
        return RESCORE_FAILED if self.status == "failed" else RESCORE_PENDING


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
        row["rescore"] = self.entry.rescore
        return row


def _rankable(entry: Entry) -> bool:
    return entry.score is not None and (entry.status == "scored" or entry.held)


def _earlier(entry: Entry) -> tuple[datetime, int]:
    return entry.submitted_at, entry.submission_id


def _pick(entries: list[Entry], rank_by: str) -> Entry:
    if rank_by == "latest":
        return max(entries, key=_earlier)
    # best: the highest score; among equal scores the earlier submission
    return min(entries, key=lambda e: (-(e.score or 0.0), *_earlier(e)))


def rank_entries(entries: Iterable[Entry], rank_by: str) -> list[Row]:
    """One row per team (``best`` or ``latest`` standing submission), best score first.

    Only scored submissions with a score, and held results of rescored ones, take part:
    failed, queued or scoring ones are never ranked, and ``latest`` means the latest
    *standing* one. Equal scores go to the team whose submission came first.
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
    """Each team's standing pick by the phase's rule, chosen in the database (one per team).

    ``until`` counts only submissions made up to that moment (a leaderboard as it stood then).
    """
    return _picks(session, phase.id, phase.rank_by, until=until)


def _picks(session: Session, phase_id: int, rank_by: str, *, until: datetime | None = None,
           team_id: int | None = None) -> list[Entry]:
    """One entry per team: its pick among its scored submissions or its held results."""
    found = [*_window(session, phase_id, rank_by, held=False, until=until, team_id=team_id),
             *_window(session, phase_id, rank_by, held=True, until=until, team_id=team_id)]
    by_team: dict[int, list[Entry]] = {}
    for entry in found:
        by_team.setdefault(entry.team_id, []).append(entry)
    return [_pick(entries, rank_by) for entries in by_team.values()]


def _window(session: Session, phase_id: int, rank_by: str, *, held: bool,
            until: datetime | None, team_id: int | None) -> list[Entry]:
    """Each team's first submission by the rule, numbered per team by a window function, among
    either its scored submissions (numbered from ix_submissions_leaderboard alone, without
    reading the rows) or those standing with held results (few: only while a rescore runs or
    after it failed; found by their phase).

    Columns are named one by one (no whole entity), so that migration 0007 can run it
    against the schema of its day.
    """
    if held:
        score, mean = HeldResult.score, HeldResult.mean
        base = select(HeldResult.submission_id.label("id")).join(
            Submission, Submission.id == HeldResult.submission_id)
        conditions = [HeldResult.phase_id == phase_id, Submission.status != "scored"]
    else:
        score, mean = Submission.score, Submission.mean
        base = select(Submission.id.label("id"))
        conditions = [Submission.phase_id == phase_id, Submission.status == "scored",
                      Submission.score.is_not(None)]
    if rank_by == "latest":
        order = (Submission.created_at.desc(), Submission.id.desc())
    else:
        order = (score.desc(), Submission.created_at, Submission.id)
    if until is not None:
        conditions.append(Submission.created_at <= until)
    if team_id is not None:
        conditions.append(Submission.team_id == team_id)
    picks = base.add_columns(
        func.row_number().over(partition_by=Submission.team_id, order_by=order).label("pick"),
    ).where(*conditions).subquery()
    query = (
        select(Submission.id, Submission.team_id, Team.name, Submission.status, score, mean,
               Submission.created_at)
        .join(picks, picks.c.id == Submission.id)
        .join(Team, Team.id == Submission.team_id)
        .where(picks.c.pick == 1)
    )
    if held:
        query = query.join(HeldResult, HeldResult.submission_id == Submission.id)
    return [Entry(*row, held=held) for row in session.execute(query)]


def phase_leaderboard(session: Session, phase: Phase) -> list[Row]:
    """The phase's full ranking from its stored lines (one per team), ignoring visibility."""
    query = (
        select(LeaderboardEntry.submission_id, LeaderboardEntry.team_id, Team.name,
               Submission.status, LeaderboardEntry.score, LeaderboardEntry.mean,
               LeaderboardEntry.submitted_at)
        .join(Team, Team.id == LeaderboardEntry.team_id)
        .join(Submission, Submission.id == LeaderboardEntry.submission_id)
        .where(LeaderboardEntry.phase_id == phase.id)
    )
    entries = [Entry(*row, held=row.status != "scored") for row in session.execute(query)]
    return rank_entries(entries, phase.rank_by)


# --- keeping the lines ----------------------------------------------------------------------


def _lock_teams(session: Session, teams: ColumnElement[bool]) -> None:
    """Serialise writers of the same teams' lines (PostgreSQL; SQLite writers are serial).

    Without it two workers storing results of one team at once could each compute the line
    without the other's result, and the later commit would keep a wrong one.
    """
    session.execute(select(Team.id).where(teams).order_by(Team.id).with_for_update())


def _write_lines(session: Session, phase_id: int, entries: list[Entry]) -> None:
    if entries:
        session.execute(insert(LeaderboardEntry), [
            {"phase_id": phase_id, "team_id": e.team_id, "submission_id": e.submission_id,
             "score": e.score, "mean": e.mean, "submitted_at": e.submitted_at}
            for e in entries])


def refresh_team(session: Session, phase_id: int, team_id: int) -> None:
    """Compute the team's line of the phase again from its submissions (in this transaction)."""
    _lock_teams(session, Team.id == team_id)
    rank_by = session.scalar(select(Phase.rank_by).where(Phase.id == phase_id))
    if rank_by is None:
        return  # the phase is gone
    session.execute(delete(LeaderboardEntry).where(LeaderboardEntry.phase_id == phase_id,
                                                   LeaderboardEntry.team_id == team_id))
    _write_lines(session, phase_id, _picks(session, phase_id, rank_by, team_id=team_id))


def results_stored(session: Session, sub: Submission) -> None:
    """``sub`` has new results (or none, unpaired): what it held goes, its team's line is redone."""
    session.execute(delete(HeldResult).where(HeldResult.submission_id == sub.id))
    refresh_team(session, sub.phase_id, sub.team_id)


def hold_for_rescore(session: Session, sub: Submission) -> None:
    """Before ``sub``'s results are cleared for a rescore: keep them standing until new ones
    are stored. A failed rescore's held results stay; nothing on the board moves."""
    if sub.status != "scored" or sub.score is None:
        return
    session.execute(delete(HeldResult).where(HeldResult.submission_id == sub.id))
    session.execute(insert(HeldResult).values(submission_id=sub.id, phase_id=sub.phase_id,
                                              score=sub.score, mean=sub.mean))


def rebuild(session: Session, phase: Phase) -> int:
    """Every line of the phase again from its submissions; returns how many teams stand."""
    return _rebuild(session, phase.id, phase.rank_by, phase.challenge_id)


def _rebuild(session: Session, phase_id: int, rank_by: str, challenge_id: int) -> int:
    _lock_teams(session, Team.challenge_id == challenge_id)
    session.execute(delete(LeaderboardEntry).where(LeaderboardEntry.phase_id == phase_id))
    entries = _picks(session, phase_id, rank_by)
    _write_lines(session, phase_id, entries)
    return len(entries)


def rebuild_all(session: Session) -> dict[int, int]:
    """Every phase's lines again; per phase id, how many teams stand."""
    phases = session.execute(select(Phase.id, Phase.rank_by, Phase.challenge_id)
                             .order_by(Phase.id)).all()
    return {phase_id: _rebuild(session, phase_id, rank_by, challenge_id)
            for phase_id, rank_by, challenge_id in phases}


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
