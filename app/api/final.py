"""The final results of a judged challenge: the blended ranking as JSON and as CSV."""

from __future__ import annotations

from fastapi import APIRouter, Response

from app.api.schemas import FinalOut, file_download
from app.deps import ChallengeFromPath, OptionalUser, SessionDep
from app.judging import results

router = APIRouter(prefix="/api/challenges", tags=["judging"])


@router.get("/{challenge}/final", response_model=FinalOut, response_model_exclude_unset=True)
def read_final(challenge: ChallengeFromPath, user: OptionalUser, session: SessionDep) -> dict:
    """``{"rows": [{"rank", "team", "objective", "subjective", "final", ...}], "method", ...}``.

    Stored results (computed once per change); judges are named to organisers only."""
    return results.visible_results(session, user, challenge)


@router.get("/{challenge}/final.csv", **file_download("text/csv", "the final ranking"))
def read_final_csv(challenge: ChallengeFromPath, user: OptionalUser,
                   session: SessionDep) -> Response:
    body = results.to_csv(results.visible_results(session, user, challenge))
    return Response(body, media_type="text/csv", headers={
        "Content-Disposition": f'attachment; filename="{challenge.slug}-final.csv"'})
