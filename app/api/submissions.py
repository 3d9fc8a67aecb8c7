"""POST /score (upload a zip to a phase), GET /api/submissions (the caller's teams' submissions,
a page at a time), GET /api/submissions/{id} (status and results) and its results.csv."""

from __future__ import annotations

import asyncio
import time
from http import HTTPStatus

from fastapi import APIRouter, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse, Response

from app.accounts import team_ids
from app.api.schemas import AcceptedOut, SubmissionOut, SubmissionPage, file_download
from app.config import get_settings
from app.db import session_scope
from app.deps import CurrentUser, OwnedSubmission, SessionDep
from app.errors import ApiError
from app.intake.accept import receive_and_accept
from app.intake.views import (
    FINISHED,
    accepted_view,
    results_csv,
    submission_view,
    submissions_page,
)
from app.models import Submission

router = APIRouter(tags=["submissions"])

WAIT_POLL_SECONDS = 0.25


@router.post("/score", status_code=202, response_model=AcceptedOut, responses={
    200: {"model": SubmissionOut, "description": "with ``wait``: scored or failed in time"}})
async def create_submission(
    request: Request,
    user: CurrentUser,
    wait: float = Query(0, ge=0, description="seconds to hold the answer until scored"),
) -> JSONResponse:
    """The zip in the multipart field ``file`` (streamed to disk), ``phase`` optional.

    202 ``{"id", "status": "queued", "phase", "challenge", "status_url"}``; with ``wait``,
    the submission's view once scored or failed (200), or as it stands when the wait ends (202).
    """
    settings = get_settings()
    accepted = await receive_and_accept(user.id, request.headers.get("content-type", ""),
                                        request.headers.get("content-length", ""),
                                        request.stream(), settings)
    status_url = str(request.url_for("read_submission", submission_id=accepted.id))
    if wait > 0:
        view = await _wait_for(accepted.id, min(wait, settings.max_wait_seconds))
        view["status_url"] = status_url
        done = view["status"] in FINISHED
        return JSONResponse(view, status_code=HTTPStatus.OK if done else HTTPStatus.ACCEPTED)
    return JSONResponse(accepted_view(accepted, status_url), status_code=HTTPStatus.ACCEPTED)


def _view(submission_id: int) -> dict:
    with session_scope() as session:
        return submission_view(session.get_one(Submission, submission_id))


async def _wait_for(submission_id: int, seconds: float) -> dict:
    deadline = time.monotonic() + seconds
    while True:
        view = await run_in_threadpool(_view, submission_id)
        if view["status"] in FINISHED or time.monotonic() >= deadline:
            return view
        await asyncio.sleep(WAIT_POLL_SECONDS)


@router.get("/api/submissions", response_model=SubmissionPage,
            response_model_exclude_unset=True)
def list_submissions(
    user: CurrentUser,
    session: SessionDep,
    phase: str | None = Query(None, description="a phase's slug, or challenge/phase"),
    challenge: str | None = Query(None, description="a challenge's slug"),
    page: int = Query(1, ge=1, description="the page, from 1"),
    per_page: int = Query(20, ge=1, le=100, description="submissions per page"),
) -> dict:
    """The caller's teams' submissions, newest first, a page at a time: ``{"items", "page",
    "per_page", "total"}``; each item as GET /api/submissions/{id} shows it. Organisers, who
    have no team, see none here (they have the organiser routes)."""
    rows, total = submissions_page(session, team_ids(session, user), phase=phase,
                                   challenge=challenge, page=page, per_page=per_page)
    return {"items": [submission_view(row) for row in rows], "page": page,
            "per_page": per_page, "total": total}


@router.get("/api/submissions/{submission_id}", response_model=SubmissionOut,
            response_model_exclude_unset=True)
def read_submission(submission: OwnedSubmission) -> dict:
    """Status, means and per-image metrics (keys: the metrics of metrics/registry.py)."""
    return submission_view(submission)


@router.get("/api/submissions/{submission_id}/results.csv",
            **file_download("text/csv", "name, each metric, score: one row per image"))
def download_results(submission: OwnedSubmission) -> Response:
    """The per-image results as CSV, for the submission's team and organisers; 409 until it
    is scored."""
    if submission.status != "scored":
        raise ApiError(409, f"submission {submission.id} is {submission.status}: it has no "
                            f"results to download")
    return Response(results_csv(submission), media_type="text/csv", headers={
        "Content-Disposition": f'attachment; filename="submission-{submission.id}-results.csv"'})
