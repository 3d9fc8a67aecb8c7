"""Joining a team: single-use invitation links, and the rules every new member meets.

A member of a team makes an invitation; its link (``/join/<code>``) is shown once to that
member, and only the code's sha256 is stored. It admits one person, expires after
RAIM_INVITATION_MAX_AGE_SECONDS (7 days), and any member of the team may revoke it before it
is used. Whoever joins, by a link or by ``raim team add --member``, meets the same rules
(``admit``): one team per person per challenge, and no judge of the challenge in one of its
teams. No HTTP here.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from app import audit, security
from app.accounts import AccountError, add_member, team_of
from app.config import get_settings
from app.db import is_sqlite
from app.judging.conflicts import team_refusal
from app.models import Team, TeamInvitation, TeamMember, User, utcnow

JOIN_PATH = "/join/"


class InvitationNotFound(AccountError):
    """No invitation has this code."""


class NotAMember(AccountError):
    """Only the team's members may do this."""


@dataclass(frozen=True)
class NewInvitation:
    """A stored invitation and its code, which exists nowhere else once shown."""

    invitation: TeamInvitation
    code: str


def team_label(team: Team) -> str:
    return f"team {team.name!r} of challenge {team.challenge.slug}"


def is_member(team: Team, user: User) -> bool:
    return any(member.user_id == user.id for member in team.members)


def _require_member(team: Team, user: User) -> None:
    if not is_member(team, user):
        raise NotAMember(f"only members of {team_label(team)} may manage its invitations")


def invite(session: Session, team: Team, member: User, *,
           now: datetime | None = None) -> NewInvitation:
    """A new single-use invitation to ``team``, made by one of its members."""
    _require_member(team, member)
    now = now or utcnow()
    code = security.new_token()
    row = TeamInvitation(team_id=team.id, code_hash=security.hash_token(code),
                         prefix=security.token_display_prefix(code), created_by_id=member.id,
                         created_at=now,
                         expires_at=now + timedelta(
                             seconds=get_settings().invitation_max_age_seconds))
    session.add(row)
    session.flush()
    audit.record(session, "team.invite", _target(team),
                 {"invitation": row.prefix, "expires_at": row.expires_at.isoformat()},
                 actor=member)
    return NewInvitation(row, code)


def open_invitations(session: Session, team: Team, now: datetime | None = None
                     ) -> list[TeamInvitation]:
    """The team's invitations that can still be used (not used, revoked or expired), newest
    first."""
    now = now or utcnow()
    return list(session.scalars(
        select(TeamInvitation).where(TeamInvitation.team_id == team.id,
                                     TeamInvitation.used_at.is_(None),
                                     TeamInvitation.revoked_at.is_(None),
                                     TeamInvitation.expires_at > now)
        .order_by(TeamInvitation.created_at.desc(), TeamInvitation.id.desc())))


def revoke(session: Session, row: TeamInvitation, member: User, *,
           now: datetime | None = None) -> TeamInvitation:
    """Withdraw an unused invitation, as a member of its team; AccountError if it is used."""
    team = row.team
    _require_member(team, member)
    if row.used_at is not None:
        raise AccountError(f"invitation {row.prefix}… has already been used; it cannot be "
                           f"withdrawn")
    if row.revoked_at is None:
        row.revoked_at = now or utcnow()
        audit.record(session, "team.invite_revoke", _target(team), {"invitation": row.prefix},
                     actor=member)
    return row


def code_in(text: str) -> str | None:
    """The invitation code in what a person pasted: the code itself or the whole link."""
    match = security.TOKEN_SHAPE.search(text or "")
    return match.group(0) if match else None


def find(session: Session, text: str) -> TeamInvitation:
    """The invitation named by a code or a link; InvitationNotFound otherwise."""
    code = code_in(text)
    row = None if code is None else session.scalar(
        select(TeamInvitation).where(TeamInvitation.code_hash == security.hash_token(code)))
    if row is None:
        raise InvitationNotFound("no invitation has this code: check that the whole link was "
                                 "copied, or ask the team for a new one")
    return row


def invitation_problem(row: TeamInvitation, now: datetime | None = None) -> str | None:
    """Why the invitation can no longer be used (None: it can)."""
    now = now or utcnow()
    ask = f"ask a member of team {row.team.name!r} for a new one"
    if row.used_at is not None:
        return f"this invitation has already been used (each one admits one person); {ask}"
    if row.revoked_at is not None:
        return f"this invitation was withdrawn by the team; {ask}"
    if row.expires_at <= now:
        return f"this invitation expired at {row.expires_at:%Y-%m-%d %H:%M} UTC; {ask}"
    return None


def membership_problem(session: Session, team: Team, user: User) -> str | None:
    """Why ``user`` may not become a member of ``team`` (None: they may)."""
    challenge = team.challenge
    current = team_of(session, user, challenge)
    if current is not None and current.id == team.id:
        return f"you are already a member of team {team.name!r}"
    if current is not None:
        return (f"you are already in team {current.name!r} of challenge {challenge.slug}, and "
                f"a person may be in one team per challenge")
    return team_refusal(session, user, challenge)


def _lock_user(session: Session, user_id: int) -> None:
    """Serialise one person's joins (never two teams of one challenge at once): the row is
    locked on PostgreSQL; on SQLite the caller's transaction is BEGIN IMMEDIATE."""
    if not is_sqlite(session):
        session.execute(select(User.id).where(User.id == user_id).with_for_update())


def _check_membership(session: Session, team: Team, user: User) -> None:
    _lock_user(session, user.id)
    problem = membership_problem(session, team, user)
    if problem is not None:
        raise AccountError(problem)


def _add(session: Session, team: Team, user: User, via: str, actor: User | None) -> TeamMember:
    member = add_member(session, team, user)
    audit.record(session, "team.join", _target(team), {"user": user.email, "via": via},
                 actor=actor)
    return member


def admit(session: Session, team: Team, user: User, *, via: str,
          actor: User | None = None) -> TeamMember:
    """Make ``user`` a member of ``team`` under the rules; AccountError with the reason.

    ``via`` says how (the audit log keeps it); ``actor`` is who did it (None: an operator)."""
    _check_membership(session, team, user)
    return _add(session, team, user, via, actor)


def join(session: Session, text: str, user: User, *, now: datetime | None = None) -> Team:
    """Use an invitation (code or link) to join its team; AccountError with the reason, and
    nothing written.

    The invitation is marked used by one conditional UPDATE, so two people racing for one
    link never both get in."""
    now = now or utcnow()
    row = find(session, text)
    team = row.team
    problem = invitation_problem(row, now)
    if problem is not None:
        raise AccountError(problem)
    _check_membership(session, team, user)
    used = session.execute(
        update(TeamInvitation)
        .where(TeamInvitation.id == row.id, TeamInvitation.used_at.is_(None),
               TeamInvitation.revoked_at.is_(None), TeamInvitation.expires_at > now)
        .values(used_at=now, used_by_id=user.id)
        .execution_options(synchronize_session=False)).rowcount
    if used != 1:
        session.refresh(row)
        raise AccountError(invitation_problem(row, now) or "this invitation cannot be used")
    session.refresh(row)
    _add(session, team, user, f"invitation {row.prefix}", user)
    return team


def _target(team: Team) -> str:
    return f"team:{team.challenge.slug}/{team.name}"
