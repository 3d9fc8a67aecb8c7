"""The one way to find what a URL or a command names: a challenge, a phase, a submission.

Each lookup answers the row or raises ApiError 404 with a message naming what was asked for;
routes use them through app.deps, commands directly. Ids come from URLs, forms and JSON, so
they can be any integer: ``by_id`` answers None for one no row can have (outside the id
columns' range), which the database would otherwise refuse with an error (SQLite above 2**63,
PostgreSQL above 2**31), so an impossible id is simply not found.
"""

from __future__ import annotations

from typing import TypeVar

from sqlalchemy import select
from sqlalchemy.orm import Session, contains_eager

from app.errors import ApiError
from app.models import Base, Challenge, Phase, Submission

# Every id column is an INTEGER primary key: 4 bytes on PostgreSQL, the narrower of the two.
MAX_ID = 2**31 - 1
Row = TypeVar("Row", bound=Base)


def by_id(session: Session, model: type[Row], row_id: int) -> Row | None:
    """The ``model`` row with this id; None when there is none or no row can have this id."""
    if not 1 <= row_id <= MAX_ID:
        return None
    return session.get(model, row_id)


def find_challenge(session: Session, slug: str) -> Challenge:
    found = session.scalar(select(Challenge).where(Challenge.slug == slug))
    if found is None:
        raise ApiError(404, f"no challenge {slug!r}")
    return found


def find_phase(session: Session, challenge: str, phase: str) -> Phase:
    """The phase named by its challenge's slug and its own; 404 naming both when absent."""
    found = session.scalar(select(Phase).join(Challenge)
                           .where(Challenge.slug == challenge, Phase.slug == phase)
                           .options(contains_eager(Phase.challenge)))  # read with the phase
    if found is None:
        raise ApiError(404, f"no phase {phase!r} in challenge {challenge!r}")
    return found


def find_submission(session: Session, submission_id: int) -> Submission:
    found = by_id(session, Submission, submission_id)
    if found is None:
        raise ApiError(404, f"submission {submission_id} not found")
    return found
