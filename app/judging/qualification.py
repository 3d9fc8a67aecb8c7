"""Who may enter a phase with ``qualify: {from, top}``: the source leaderboard at its end.

Until an organiser confirms the list, the K best teams of the source phase's leaderboard
count, as it stood when the source phase ended (submissions made after its end are
ignored; a source phase still running admits nobody yet). Confirming writes the list
(``Qualification`` rows, adjusted or not) and from then on only that list counts. Every
confirmation is recorded in the audit log with the teams added and removed.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from app import audit
from app.judging.models import Qualification
from app.leaderboard import Row, phase_entries, rank_entries
from app.models import Phase, Team, User, utcnow


class QualificationError(ValueError):
    """A qualification request that cannot be carried out, with the reason."""


@dataclass(frozen=True)
class Qualifier:
    """A team on the (proposed or confirmed) list, with its source-phase rank if it had one."""

    team_id: int
    team: str
    source_rank: int | None
    source: str


def source_phase(session: Session, phase: Phase) -> Phase | None:
    """The phase named in ``qualify_from`` (same challenge), or None without a rule."""
    if not phase.qualify_from:
        return None
    return session.scalar(select(Phase).where(Phase.challenge_id == phase.challenge_id,
                                              Phase.slug == phase.qualify_from))


def proposed(session: Session, phase: Phase, now: datetime | None = None) -> list[Qualifier]:
    """The top ``qualify_top`` teams of the source leaderboard as it stood at the source's end."""
    source = source_phase(session, phase)
    if source is None or not phase.qualify_top:
        return []
    now = now or utcnow()
    if source.end is not None and now < source.end:
        return []
    rows = leaderboard_at_end(session, source)[: phase.qualify_top]
    return [Qualifier(r.team_id, r.entry.team, r.rank, "leaderboard") for r in rows]


def leaderboard_at_end(session: Session, phase: Phase) -> list[Row]:
    """The phase's full ranking counting only submissions made before its end."""
    return rank_entries(phase_entries(session, phase, until=phase.end), phase.rank_by)


def confirmed(session: Session, phase: Phase) -> list[Qualifier]:
    rows = session.execute(
        select(Qualification, Team.name).join(Team, Team.id == Qualification.team_id)
        .where(Qualification.phase_id == phase.id)
        .order_by(Qualification.source_rank.is_(None), Qualification.source_rank, Team.name))
    return [Qualifier(q.team_id, name, q.source_rank, q.source) for q, name in rows]


def qualifiers(session: Session, phase: Phase, now: datetime | None = None) -> list[Qualifier]:
    """The list in force: the confirmed one, else the proposal."""
    return confirmed(session, phase) or proposed(session, phase, now)


def refusal(session: Session, phase: Phase, team: Team, now: datetime | None = None) -> str | None:
    """Why ``team`` may not submit to ``phase`` (None: it may, or the phase has no rule)."""
    if not phase.qualify_from or not phase.qualify_top:
        return None
    if team.id in {q.team_id for q in qualifiers(session, phase, now)}:
        return None
    return (f"phase {phase.slug} is open only to the teams qualified from phase "
            f"{phase.qualify_from} (top {phase.qualify_top}); team {team.name!r} is not among them")


def confirm(session: Session, phase: Phase, team_names: list[str] | None, *,
            actor: User | None) -> list[Qualifier]:
    """Write the list: the proposal when ``team_names`` is None, else exactly the named teams.

    Blank names are ignored (a form's empty "also admit" box); naming no team at all is refused,
    since an empty list would let the proposal count again.
    """
    if not phase.qualify_from:
        raise QualificationError(f"phase {phase.slug} has no qualify rule")
    auto = {q.team_id: q for q in proposed(session, phase)}
    if team_names is None:
        chosen = list(auto.values())
    else:
        names = [n for n in team_names if n.strip()]
        if not names:
            raise QualificationError(f"no team chosen: name at least one finalist of phase "
                                     f"{phase.slug}, or confirm the proposal as it is")
        chosen = _named(session, phase, names, auto)
    if not chosen:
        raise QualificationError(f"no team qualifies for phase {phase.slug} yet (phase "
                                 f"{phase.qualify_from} may still be running): nothing to confirm")
    before = {q.team for q in confirmed(session, phase)}
    session.execute(delete(Qualification).where(Qualification.phase_id == phase.id))
    now = utcnow()
    for q in chosen:
        session.add(Qualification(phase_id=phase.id, team_id=q.team_id, source_rank=q.source_rank,
                                  source=q.source, confirmed_at=now,
                                  confirmed_by=actor.id if actor else None))
    session.flush()
    after = {q.team for q in chosen}
    audit.record(session, "qualification.confirm", f"phase:{phase.challenge.slug}/{phase.slug}",
                 {"teams": sorted(after), "added": sorted(after - before),
                  "removed": sorted(before - after),
                  "adjusted": sorted(after ^ {q.team for q in auto.values()})}, actor=actor)
    return confirmed(session, phase)


def _named(session: Session, phase: Phase, names: list[str],
           auto: dict[int, Qualifier]) -> list[Qualifier]:
    teams = {t.name: t for t in session.scalars(
        select(Team).where(Team.challenge_id == phase.challenge_id))}
    unknown = [n for n in names if n.strip() not in teams]
    if unknown:
        raise QualificationError(f"no team named {', '.join(map(repr, unknown))} in challenge "
                                 f"{phase.challenge.slug}")
    chosen = []
    for name in dict.fromkeys(n.strip() for n in names):
        team = teams[name]
        rank = auto[team.id].source_rank if team.id in auto else None
        chosen.append(Qualifier(team.id, name, rank, "leaderboard" if team.id in auto
                                else "organiser"))
    return chosen
