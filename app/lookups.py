"""The one way to find what a URL or a command names: a challenge, a phase, a submission.

Each lookup answers the row or raises ApiError 404 with a message naming what was asked for;
routes use them through app.deps, commands directly.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session, contains_eager

from app.errors import ApiError
from app.models import Challenge, Phase, Submission


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
    found = session.get(Submission, submission_id)
    if found is None:
        raise ApiError(404, f"submission {submission_id} not found")
    return found
