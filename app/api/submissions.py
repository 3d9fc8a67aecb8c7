"""POST /score (upload a zip to a phase) and GET /api/submissions/{id} (status and results)."""

from __future__ import annotations

import asyncio
import time
from http import HTTPStatus

from fastapi import APIRouter, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse

from app.config import get_settings
from app.db import session_scope
from app.deps import CurrentUser, OwnedSubmission
from app.intake.accept import receive_and_accept
from app.intake.views import FINISHED, accepted_view, submission_view
from app.models import Submission

router = APIRouter(tags=["submissions"])

WAIT_POLL_SECONDS = 0.25


@router.post("/score", status_code=202)
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


@router.get("/api/submissions/{submission_id}")
def read_submission(submission: OwnedSubmission) -> dict:
    """Status, means and per-image metrics (keys: the metrics of metrics/registry.py)."""
    return submission_view(submission)
