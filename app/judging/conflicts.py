"""Conflicts of interest: nobody is both a judge of a challenge and a member of one of its teams.

A competitor who judges could favour their own team or mark down its rivals; a judge who joins a
team has seen the finalists' results blind. Both directions are refused, for every team of the
challenge (finalist or not), and the refusal says why. The rule holds for revoked judges too:
they saw the results. Judging another challenge is no conflict.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.judging.models import Judge
from app.models import Challenge, Team, TeamMember, User

RULE = "docs/judging.md, section 3, Conflicts of interest"


def judge_refusal(session: Session, user: User, challenge: Challenge) -> str | None:
    """Why ``user`` may not judge ``challenge`` (a member of one of its teams), or None."""
    team = session.scalar(select(Team.name).join(TeamMember).where(
        Team.challenge_id == challenge.id, TeamMember.user_id == user.id))
    if team is None:
        return None
    return (f"{user.email} is a member of team {team!r} in challenge {challenge.slug}: "
            f"a competitor cannot judge the challenge ({RULE})")


def team_refusal(session: Session, user: User, challenge: Challenge) -> str | None:
    """Why ``user`` may not create or join a team of ``challenge`` (they judge it), or None."""
    judge = session.scalar(select(Judge.name).where(Judge.challenge_id == challenge.id,
                                                    Judge.user_id == user.id))
    if judge is None:
        return None
    return (f"{user.email} judges challenge {challenge.slug} (as {judge!r}): a judge cannot "
            f"create or join a team in the challenge they judge ({RULE})")
