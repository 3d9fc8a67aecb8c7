"""Organisers' team management: list teams and members, rename, add and remove members, disband;
every change is written to the audit log.

Membership rules are app.accounts' (one team per person per challenge; never a judge of the
challenge: app.judging.conflicts). A team that judges have rated cannot be disbanded: its
ratings belong to a campaign's results.
"""

from __future__ import annotations

from dataclasses import dataclass
from http import HTTPStatus

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session, selectinload

from app import accounts
from app.audit import record
from app.errors import ApiError
from app.judging.models import Campaign, Entry, Qualification
from app.lookups import MAX_ID, by_id
from app.models import Challenge, Phase, Submission, Team, TeamMember, User


@dataclass(frozen=True)
class TeamSummary:
    """A team with its members, its submissions per phase and where it is a finalist."""

    team: Team
    members: list[User]
    submissions: dict[str, int]  # phase slug -> count
    finalist_in: list[str]  # phase slugs whose confirmed finalists include the team
    rated_in: list[int]  # campaign ids that rate one of its submissions

    @property
    def submission_count(self) -> int:
        return sum(self.submissions.values())


def team_summaries(session: Session, challenge: Challenge) -> list[TeamSummary]:
    """Every team of the challenge, by name."""
    teams = list(session.scalars(
        select(Team).where(Team.challenge_id == challenge.id)
        .options(selectinload(Team.members).selectinload(TeamMember.user)).order_by(Team.name)))
    counts: dict[int, dict[str, int]] = {}
    for team_id, phase, count in session.execute(
            select(Submission.team_id, Phase.slug, func.count(Submission.id))
            .join(Phase, Phase.id == Submission.phase_id)
            .where(Phase.challenge_id == challenge.id).group_by(Submission.team_id, Phase.slug)):
        counts.setdefault(team_id, {})[phase] = count
    finalists: dict[int, list[str]] = {}
    for team_id, phase in session.execute(
            select(Qualification.team_id, Phase.slug).join(Phase, Phase.id == Qualification.phase_id)
            .where(Phase.challenge_id == challenge.id)):
        finalists.setdefault(team_id, []).append(phase)
    rated: dict[int, list[int]] = {}
    for team_id, campaign_id in session.execute(
            select(Entry.team_id, Entry.campaign_id).join(Campaign, Campaign.id == Entry.campaign_id)
            .join(Phase, Phase.id == Campaign.phase_id).where(Phase.challenge_id == challenge.id)):
        rated.setdefault(team_id, []).append(campaign_id)
    return [TeamSummary(t, sorted((m.user for m in t.members), key=lambda u: u.email),
                        counts.get(t.id, {}), sorted(finalists.get(t.id, [])),
                        sorted(rated.get(t.id, []))) for t in teams]


def find_team_by_id(session: Session, challenge: Challenge, team_id: int) -> Team:
    """The team of ``challenge`` with this id; ApiError 404 otherwise (any integer)."""
    team = by_id(session, Team, team_id)
    if team is None or team.challenge_id != challenge.id:
        raise ApiError(HTTPStatus.NOT_FOUND, f"no team {team_id} in challenge {challenge.slug}")
    return team


def _target(team: Team) -> str:
    return f"team:{team.challenge.slug}/{team.name}"


def rename_team(session: Session, team: Team, name: str, *, actor: User | None) -> None:
    clean = name.strip()
    if not clean:
        raise ApiError(HTTPStatus.BAD_REQUEST, "the team's new name must not be empty")
    if clean == team.name:
        return
    if accounts.find_team(session, team.challenge, clean) is not None:
        raise ApiError(HTTPStatus.CONFLICT, f"team {clean!r} already exists in challenge "
                                            f"{team.challenge.slug}")
    before = team.name
    team.name = clean
    record(session, "team.rename", _target(team), {"from": before, "to": clean}, actor=actor)


def add_member(session: Session, team: Team, email: str, *, actor: User | None) -> User:
    """Put the account with this address in the team (the person signs up first)."""
    try:
        user = accounts.find_user(session, email)
        if user is None:
            raise accounts.AccountError(f"no account with email {email.strip()!r}: ask them to "
                                        f"sign up first, then add them")
        accounts.add_member(session, team, user)
    except accounts.AccountError as exc:
        raise ApiError(HTTPStatus.CONFLICT, str(exc)) from exc
    record(session, "team.member.add", _target(team), {"member": user.email}, actor=actor)
    return user


def remove_member(session: Session, team: Team, user_id: int, *, actor: User | None) -> User:
    member = session.get(TeamMember, (team.id, user_id)) if 1 <= user_id <= MAX_ID else None
    if member is None:
        raise ApiError(HTTPStatus.NOT_FOUND, f"user {user_id} is not a member of team "
                                             f"{team.name!r}")
    user = member.user
    session.delete(member)
    session.flush()
    record(session, "team.member.remove", _target(team), {"member": user.email}, actor=actor)
    return user


def disband_refusal(summary: TeamSummary) -> str | None:
    """Why the team cannot be disbanded (judges rated it), or None."""
    if summary.rated_in:
        return (f"team {summary.team.name!r} is rated in campaign(s) "
                f"{', '.join(map(str, summary.rated_in))}: disbanding it would delete its "
                f"ratings and change the final results")
    return None


def disband_team(session: Session, summary: TeamSummary, *, actor: User | None) -> list[str]:
    """Delete the team with its memberships, finalist places and submissions (their results
    leave the leaderboards); the audit log keeps its members and submissions. Returns the
    submissions' stored uploads (``upload_path``): the caller removes them once this commits
    (``storage.remove_uploads``), so a failed commit loses no file."""
    refusal = disband_refusal(summary)
    if refusal is not None:
        raise ApiError(HTTPStatus.CONFLICT, refusal)
    team = summary.team
    subs = session.execute(select(Submission.id, Phase.slug, Submission.status, Submission.score,
                                  Submission.upload_path)
                           .join(Phase, Phase.id == Submission.phase_id)
                           .where(Submission.team_id == team.id).order_by(Submission.id)).all()
    record(session, "team.disband", _target(team), {
        "members": [u.email for u in summary.members],
        "finalist_in": summary.finalist_in,
        "submissions": [{"id": i, "phase": p, "status": s, "score": score}
                        for i, p, s, score, _ in subs]}, actor=actor)
    session.execute(delete(Team).where(Team.id == team.id))
    session.expire_all()
    return [path for *_, path in subs if path]
