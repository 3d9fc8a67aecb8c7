"""Organiser API: rescore a submission or a phase, leaderboard visibility, downloads, CSV, queue."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, Response
from fastapi.responses import FileResponse
from pydantic import BaseModel
from sqlalchemy import select
from sqlalchemy.orm import Session

from app import organiser as actions
from app.config import get_settings
from app.deps import Organiser, SessionDep, WriteSessionDep, find_phase
from app.jobs import queue
from app.jobs.broker import uses_broker
from app.models import Challenge, Submission
from app.submissions import Rejected

router = APIRouter(prefix="/api/organiser", tags=["organiser"])


class Visibility(BaseModel):
    visibility: Literal["public", "private", "hidden"]


def _submission(session: Session, submission_id: int) -> Submission:
    sub = session.get(Submission, submission_id)
    if sub is None:
        raise Rejected(404, f"submission {submission_id} not found")
    return sub


@router.post("/submissions/{submission_id}/rescore", status_code=202)
def rescore_submission(submission_id: int, user: Organiser, session: WriteSessionDep) -> dict:
    ids = actions.rescore_submission(session, _submission(session, submission_id), user)
    session.commit()
    queue.enqueue(ids)
    return {"queued": ids}


@router.post("/challenges/{challenge}/phases/{phase}/rescore", status_code=202)
def rescore_phase(challenge: str, phase: str, user: Organiser, session: WriteSessionDep) -> dict:
    ids = actions.rescore_phase(session, find_phase(session, challenge, phase), user)
    session.commit()
    queue.enqueue(ids)
    return {"queued": ids}


@router.post("/challenges/{challenge}/phases/{phase}/leaderboard")
def set_leaderboard_visibility(challenge: str, phase: str, body: Visibility, user: Organiser,
                               session: WriteSessionDep) -> dict:
    found = find_phase(session, challenge, phase)
    actions.set_visibility(session, found, body.visibility, user)
    session.commit()
    return {"challenge": challenge, "phase": phase, "visibility": found.leaderboard}


@router.get("/submissions/{submission_id}/download")
def download_submission(submission_id: int, user: Organiser, session: SessionDep) -> FileResponse:
    sub = _submission(session, submission_id)
    path = get_settings().data_dir / sub.upload_path
    if not path.is_file():
        raise Rejected(410, f"the stored upload of submission {sub.id} is missing "
                            f"({sub.upload_path})")
    return FileResponse(path, media_type="application/zip",
                        filename=f"submission-{sub.id}-{sub.original_filename}")


@router.get("/challenges/{challenge}/submissions.csv")
def export_submissions(challenge: str, user: Organiser, session: SessionDep) -> Response:
    found = session.scalar(select(Challenge).where(Challenge.slug == challenge))
    if found is None:
        raise Rejected(404, f"challenge {challenge!r} not found")
    return Response(actions.export_csv(session, found), media_type="text/csv",
                    headers={"Content-Disposition":
                             f'attachment; filename="{found.slug}-submissions.csv"'})


@router.get("/queue")
def queue_dashboard(user: Organiser, session: SessionDep) -> dict:
    return actions.queue_dashboard(session, mode="celery" if uses_broker() else "local")
