"""FastAPI dependencies: the database session, who is asking, organiser-only, team-owns-submission.

A caller is identified by ``Authorization: Bearer <token>`` (scripts) or by the signed
session cookie ``raim_session`` (browsers; key ``user_id``), in a short transaction of its
own. The request's session depends on that, so it always opens afterwards: on SQLite a
transaction that has read cannot write once another connection has committed, and an
immediate one would block the caller lookup.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.accounts import user_for_token
from app.db import session_scope
from app.models import Challenge, Phase, Submission, TeamMember, User
from app.submissions import Rejected

SESSION_COOKIE = "raim_session"
SESSION_USER_KEY = "user_id"


def _bearer(request: Request) -> str | None:
    header = request.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    return value.strip() if scheme.lower() == "bearer" and value.strip() else None


def optional_user(request: Request) -> User | None:
    """The signed-in user or token owner; None for anonymous callers. A bad token is a 401.

    Uses its own short transaction, so a long upload never holds a database lock; the
    returned User is detached (plain column values only).
    """
    token = _bearer(request)
    user_id = request.session.get(SESSION_USER_KEY) if "session" in request.scope else None
    if token is None and not isinstance(user_id, int):
        return None
    # Immediate: the token lookup writes last_used_at after reading (see module notes).
    with session_scope(immediate=token is not None) as session:
        user = user_for_token(session, token) if token is not None else session.get(User, user_id)
        if user is None and token is not None:
            raise Rejected(401, "invalid or revoked API token",
                           headers={"WWW-Authenticate": "Bearer"})
        return user


OptionalUser = Annotated[User | None, Depends(optional_user)]


def get_session(_caller: OptionalUser) -> Iterator[Session]:
    """A session for the request, opened after the caller is known (see module notes)."""
    with session_scope() as session:
        yield session


def get_write_session(_caller: OptionalUser) -> Iterator[Session]:
    """A session that writes: BEGIN IMMEDIATE on SQLite, so a read never goes stale first."""
    with session_scope(immediate=True) as session:
        yield session


SessionDep = Annotated[Session, Depends(get_session)]
WriteSessionDep = Annotated[Session, Depends(get_write_session)]


def current_user(user: OptionalUser) -> User:
    if user is None:
        raise Rejected(401, "sign in, or send 'Authorization: Bearer <your API token>'",
                       headers={"WWW-Authenticate": "Bearer"})
    return user


CurrentUser = Annotated[User, Depends(current_user)]


def organiser(user: CurrentUser) -> User:
    if not user.is_organiser:
        raise Rejected(403, "organisers only")
    return user


Organiser = Annotated[User, Depends(organiser)]


def team_ids(session: Session, user: User | None) -> set[int]:
    if user is None:
        return set()
    return set(session.scalars(select(TeamMember.team_id).where(TeamMember.user_id == user.id)))


def owned_submission(submission_id: int, user: CurrentUser, session: SessionDep) -> Submission:
    """The submission if the caller's team made it (or the caller organises); 404 otherwise."""
    sub = session.get(Submission, submission_id)
    if sub is None or not (user.is_organiser or sub.team_id in team_ids(session, user)):
        raise Rejected(404, f"submission {submission_id} not found")
    return sub


OwnedSubmission = Annotated[Submission, Depends(owned_submission)]


def find_phase(session: Session, challenge: str, phase: str) -> Phase:
    """The phase named by its challenge's slug and its own; 404 naming both when absent."""
    found = session.scalar(select(Phase).join(Challenge)
                           .where(Challenge.slug == challenge, Phase.slug == phase))
    if found is None:
        raise Rejected(404, f"challenge {challenge!r} has no phase {phase!r}")
    return found


def phase_from_path(challenge: str, phase: str, session: SessionDep) -> Phase:
    return find_phase(session, challenge, phase)


PhaseFromPath = Annotated[Phase, Depends(phase_from_path)]
