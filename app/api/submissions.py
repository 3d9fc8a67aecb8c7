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
from app.models import Submission
from app.submissions import Rejected, accept, submission_view
from app.uploads import receive_form

router = APIRouter(tags=["submissions"])

FINISHED = ("scored", "failed")
WAIT_POLL_SECONDS = 0.25
# Multipart framing around the file; the file itself is held to the exact limit.
MULTIPART_OVERHEAD = 64 * 1024


@router.post("/score", status_code=202)
async def create_submission(
    request: Request,
    user: CurrentUser,
    wait: float = Query(0, ge=0, description="seconds to hold the answer until scored"),
) -> JSONResponse:
    settings = get_settings()
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > settings.max_upload_bytes + MULTIPART_OVERHEAD:
        raise Rejected(HTTPStatus.REQUEST_ENTITY_TOO_LARGE,
                       f"the upload ({int(declared):,} bytes) is over the limit of "
                       f"{settings.max_upload_bytes:,} bytes; nothing was stored")
    form = await receive_form(request.headers.get("content-type", ""), request.stream(),
                              settings.uploads_dir / "incoming",
                              max_bytes=settings.max_upload_bytes)
    if form.file is None:  # receive_form guarantees a file; keeps the type checker honest
        raise Rejected(HTTPStatus.BAD_REQUEST, "no file received")
    accepted = await run_in_threadpool(accept, user.id, form.file, form.fields.get("phase"),
                                       settings)
    status_url = str(request.url_for("read_submission", submission_id=accepted.id))
    if wait > 0:
        view = await _wait_for(accepted.id, min(wait, settings.max_wait_seconds))
        view["status_url"] = status_url
        done = view["status"] in FINISHED
        return JSONResponse(view, status_code=HTTPStatus.OK if done else HTTPStatus.ACCEPTED)
    return JSONResponse({"id": accepted.id, "status": "queued", "phase": accepted.phase,
                         "challenge": accepted.challenge, "status_url": status_url},
                        status_code=HTTPStatus.ACCEPTED)


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
    return submission_view(submission)
