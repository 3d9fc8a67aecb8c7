"""GET /api/challenges/{challenge}/phases/{phase}/leaderboard, with the phase's visibility rules."""

from __future__ import annotations

from fastapi import APIRouter

from app.accounts import team_ids
from app.api.schemas import LeaderboardOut
from app.deps import OptionalUser, PhaseFromPath, SessionDep
from app.errors import ApiError
from app.leaderboard import phase_leaderboard, visible_rows

router = APIRouter(prefix="/api/challenges", tags=["leaderboards"])


@router.get("/{challenge}/phases/{phase}/leaderboard", response_model=LeaderboardOut,
            response_model_exclude_unset=True)
def read_leaderboard(phase: PhaseFromPath, user: OptionalUser, session: SessionDep) -> dict:
    """``{"challenge", "phase", "rank_by", "visibility", "rows": [...]}``; rows carry the
    rank, team, submission, score, each registry metric's mean and the submission time."""
    mine = team_ids(session, user) if phase.leaderboard == "private" else set()  # else unused
    rows = visible_rows(phase_leaderboard(session, phase), phase.leaderboard,
                        organiser=bool(user and user.is_organiser), team_ids=mine,
                        judge=bool(user and user.is_judge))
    if rows is None:
        raise ApiError(404, f"no leaderboard for phase {phase.challenge.slug}/{phase.slug}")
    return {"challenge": phase.challenge.slug, "phase": phase.slug, "rank_by": phase.rank_by,
            "visibility": phase.leaderboard, "rows": [row.to_json() for row in rows]}
