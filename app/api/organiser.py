"""Organiser API: rescoring, phase dates and leaderboard visibility, downloads, CSV, the queue,
worker tokens, the image inspector, teams, the audit log, factsheets and reproduction checks."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, Literal
from urllib.parse import quote

from anyio import to_thread
from fastapi import APIRouter, Request, Response
from fastapi.responses import FileResponse
from pydantic import BaseModel, Field

from app import audit, factsheets, reproduction, team_admin, worker_tokens
from app import organiser as actions
from app.api.judge import png
from app.api.schemas import (
    NewWorkerTokenOut,
    QueueOut,
    ReproductionOut,
    ReproductionsOut,
    WorkerTokenOut,
    WorkerTokensOut,
    file_download,
)
from app.config import get_settings
from app.deps import (
    ChallengeFromPath,
    ExistingSubmissionId,
    Organiser,
    SessionDep,
    SubmissionFromPath,
    WriteSessionDep,
)
from app.errors import ApiError
from app.intake.accept import MULTIPART_OVERHEAD
from app.intake.receive import receive_form
from app.jobs import queue
from app.jobs.broker import uses_broker
from app.judging.blind import INSPECT_ROLES, ImageMissing, image_stems, submission_image
from app.lookups import by_id, find_phase, find_submission
from app.models import User, WorkerToken
from app.storage import upload_file

router = APIRouter(prefix="/api/organiser", tags=["organiser"])


class Visibility(BaseModel):
    visibility: Literal["public", "private", "hidden"]


class VisibilityAnswer(BaseModel):
    challenge: str
    phase: str
    visibility: str


class Queued(BaseModel):
    queued: list[int]


@router.post("/submissions/{submission_id}/rescore", status_code=202)
def rescore_submission(submission_id: int, user: Organiser, session: WriteSessionDep) -> Queued:
    ids = actions.rescore_submission(session, find_submission(session, submission_id), user)
    queue.commit_then_enqueue(session, ids)
    return Queued(queued=ids)


@router.post("/challenges/{challenge}/phases/{phase}/rescore", status_code=202)
def rescore_phase(challenge: str, phase: str, user: Organiser, session: WriteSessionDep) -> Queued:
    ids = actions.rescore_phase(session, find_phase(session, challenge, phase), user)
    queue.commit_then_enqueue(session, ids)
    return Queued(queued=ids)


@router.post("/challenges/{challenge}/phases/{phase}/leaderboard")
def set_leaderboard_visibility(challenge: str, phase: str, body: Visibility, user: Organiser,
                               session: WriteSessionDep) -> VisibilityAnswer:
    found = find_phase(session, challenge, phase)
    actions.set_visibility(session, found, body.visibility, user)
    session.commit()
    return VisibilityAnswer(challenge=challenge, phase=phase, visibility=found.leaderboard)


class PhaseSettings(BaseModel):
    """The fields to change; a field left out stays as it is, ``null`` clears a date.
    Times without a zone are UTC."""

    start: datetime | None = None
    end: datetime | None = None
    leaderboard: Literal["public", "private", "hidden"] | None = None


class PhaseAnswer(BaseModel):
    challenge: str
    phase: str
    start: datetime | None
    end: datetime | None
    leaderboard: str
    changed: dict[str, list[Any]] = Field(description="field -> [before, after]")


def _utc(value: datetime | None) -> datetime | None:
    """The time in UTC; a time without a zone is taken as UTC."""
    if value is None:
        return None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


@router.patch("/challenges/{challenge}/phases/{phase}")
def update_phase(challenge: str, phase: str, body: PhaseSettings, user: Organiser,
                 session: WriteSessionDep) -> PhaseAnswer:
    """Change a phase's dates and leaderboard visibility (audited)."""
    found = find_phase(session, challenge, phase)
    given = body.model_fields_set
    changed = actions.update_phase(
        session, found, start=_utc(body.start) if "start" in given else found.start,
        end=_utc(body.end) if "end" in given else found.end,
        leaderboard=body.leaderboard if "leaderboard" in given else None, actor=user)
    return PhaseAnswer(challenge=challenge, phase=phase, start=found.start, end=found.end,
                       leaderboard=found.leaderboard, changed=changed)


class TeamListed(BaseModel):
    id: int
    name: str
    members: list[str]
    submissions: dict[str, int] = Field(description="phase -> submissions")
    finalist_in: list[str]


@router.get("/challenges/{challenge}/teams")
def read_teams(user: Organiser, challenge: ChallengeFromPath,
               session: SessionDep) -> list[TeamListed]:
    """Every team of the challenge with its members' addresses and submissions per phase."""
    return [TeamListed(id=s.team.id, name=s.team.name, members=[u.email for u in s.members],
                       submissions=s.submissions, finalist_in=s.finalist_in)
            for s in team_admin.team_summaries(session, challenge)]


class AuditEntry(BaseModel):
    id: int
    at: datetime
    actor: str | None
    action: str
    target: str
    details: dict[str, Any]


class AuditAnswer(BaseModel):
    entries: list[AuditEntry]
    total: int
    page: int
    pages: int


@router.get("/audit")
def read_audit(user: Organiser, session: SessionDep, action: str = "", target: str = "",
               page: int = 1) -> AuditAnswer:
    """The audit log, newest first; ``action`` exact or a prefix ending in ``.``, ``target`` a
    substring; 50 entries a page."""
    found = audit.search(session, action=action, target=target, page=page)
    return AuditAnswer(entries=[AuditEntry(id=e.id, at=e.at, action=e.action, target=e.target,
                                           actor=e.actor.email if e.actor else None,
                                           details=e.details) for e in found.entries],
                       total=found.total, page=found.page, pages=found.pages)


@router.get("/submissions/{submission_id}/download",
            **file_download("application/zip", "the submission's stored zip"))
def download_submission(user: Organiser, submission: SubmissionFromPath) -> FileResponse:
    path = upload_file(get_settings(), submission.upload_path)
    if not path.is_file():
        raise ApiError(410, f"the stored upload of submission {submission.id} is missing "
                            f"({submission.upload_path})")
    return FileResponse(path, media_type="application/zip",
                        filename=f"submission-{submission.id}-{submission.original_filename}")


@router.get("/challenges/{challenge}/submissions.csv",
            **file_download("text/csv", "every submission of the challenge"))
def export_submissions(user: Organiser, challenge: ChallengeFromPath,
                       session: SessionDep) -> Response:
    return Response(actions.export_csv(session, challenge), media_type="text/csv",
                    headers={"Content-Disposition":
                             f'attachment; filename="{challenge.slug}-submissions.csv"'})


@router.get("/queue", response_model=QueueOut, response_model_exclude_unset=True)
def queue_dashboard(user: Organiser, session: SessionDep) -> dict:
    """Counts by state, the oldest waiting submission, each worker (its jobs, heartbeat and
    caches), each team's waiting jobs, and a warning when jobs wait with no live worker."""
    return actions.queue_dashboard(session, mode="celery" if uses_broker() else "local",
                                   settings=get_settings())


class NewWorkerToken(BaseModel):
    name: str = Field(min_length=1, max_length=64)


def token_view(row: WorkerToken) -> dict:
    """A worker token as the API lists it (never the token itself)."""
    return {"id": row.id, "name": row.name, "prefix": row.prefix,
            "created_at": row.created_at.isoformat(),
            "last_used_at": row.last_used_at.isoformat() if row.last_used_at else None,
            "revoked_at": row.revoked_at.isoformat() if row.revoked_at else None}


@router.get("/workers/tokens", response_model=WorkerTokensOut,
            response_model_exclude_unset=True)
def list_worker_tokens(user: Organiser, session: SessionDep) -> dict:
    """Every worker token, active ones first."""
    return {"tokens": [token_view(row) for row in worker_tokens.listing(session)]}


@router.post("/workers/tokens", status_code=201, response_model=NewWorkerTokenOut,
             response_model_exclude_unset=True)
def create_worker_token(body: NewWorkerToken, user: Organiser,
                        session: WriteSessionDep) -> dict:
    """A new worker token; the answer holds the token, shown this once."""
    try:
        row, token = worker_tokens.create(session, body.name, session.get_one(User, user.id))
    except worker_tokens.NameTaken as exc:
        raise ApiError(409, str(exc)) from exc
    except worker_tokens.WorkerTokenError as exc:
        raise ApiError(400, str(exc)) from exc
    session.commit()
    return {**token_view(row), "token": token}


@router.post("/workers/tokens/{worker_token_id}/revoke", response_model=WorkerTokenOut,
             response_model_exclude_unset=True)
def revoke_worker_token(worker_token_id: int, user: Organiser,
                        session: WriteSessionDep) -> dict:
    """Revoke a worker token: its workers are refused from the next request on."""
    row = by_id(session, WorkerToken, worker_token_id)
    if row is None:
        raise ApiError(404, f"worker token {worker_token_id} not found")
    worker_tokens.revoke(session, row, session.get_one(User, user.id))
    session.commit()
    return token_view(row)


@router.get("/submissions/{submission_id}/images/{stem}", include_in_schema=False)
def read_submission_image(user: Organiser, submission: SubmissionFromPath, stem: str,
                          role: str = "result") -> Response:
    """A submitted image, its input or (paired phases) its ground truth, as a bare PNG."""
    if role not in INSPECT_ROLES:
        raise ApiError(422, f"role {role!r}: choose one of {', '.join(INSPECT_ROLES)}")
    try:
        return png(submission_image(submission, role, stem))
    except ImageMissing as exc:
        raise ApiError(404, f"{stem}: {exc}") from exc


@router.get("/submissions/{submission_id}/inspect", include_in_schema=False)
def inspect_submission(user: Organiser, submission: SubmissionFromPath) -> dict:
    """The rating viewer's trials for one submission: each image beside its input (and GT)."""
    stems = image_stems(upload_file(get_settings(), submission.upload_path))
    base = f"/api/organiser/submissions/{submission.id}/images/"
    paired = submission.phase.kind == "paired" and \
        submission.phase.dataset("ground_truth") is not None
    return {"trials": [{
        "trial_id": stem, "input_url": f"{base}{quote(stem)}?role=input", "rated": False,
        "candidates": [{"label": "result", "image_url": f"{base}{quote(stem)}?role=result"}]
        + ([{"label": "ground truth", "image_url": f"{base}{quote(stem)}?role=ground_truth"}]
           if paired else []),
        "scale": [0, 0], "criteria": []} for stem in stems]}


class FactsheetAnswer(BaseModel):
    submission_id: int
    challenge: str
    phase: str
    team: str
    fields: list[dict[str, Any]] = Field(description="the phase's fields: name, label, type, "
                                                     "required, help")
    factsheet: dict[str, Any] | None = Field(description="field -> value; null when the phase "
                                                         "asked for none")


@router.get("/submissions/{submission_id}/factsheet")
def read_factsheet(user: Organiser, submission: SubmissionFromPath) -> FactsheetAnswer:
    """The factsheet the team sent with the submission (organisers only)."""
    spec = factsheets.spec_of(submission.phase.factsheet)
    return FactsheetAnswer(
        submission_id=submission.id, challenge=submission.phase.challenge.slug,
        phase=submission.phase.slug, team=submission.team.name,
        fields=[f.model_dump() for f in spec.fields] if spec else [],
        factsheet=submission.factsheet)


@router.post("/submissions/{submission_id}/reproduction", status_code=201)
async def check_reproduction(request: Request, user: Organiser,
                             submission_id: ExistingSubmissionId) -> ReproductionOut:
    """Compare the reproduced outputs (a zip in the multipart field ``file``; optional fields
    ``min_psnr`` and ``max_diff``) with the submission's, image by image; the stored verdict:
    ``{"id", "verdict": "pass"|"fail", "thresholds", "image_count", "flagged", "images"}``."""
    settings = get_settings()
    length = request.headers.get("content-length", "")
    if length.isdigit() and int(length) > settings.max_upload_bytes + MULTIPART_OVERHEAD:
        raise ApiError(413, f"the upload ({int(length):,} bytes) is over the limit of "
                            f"{settings.max_upload_bytes:,} bytes")
    form = await receive_form(request.headers.get("content-type", ""), request.stream(),
                              settings.uploads_dir / "incoming",
                              max_bytes=settings.max_upload_bytes)
    upload = form.file
    if upload is None:  # receive_form guarantees a file
        raise ApiError(400, "no file received")
    try:
        thresholds = reproduction.thresholds_from(form.fields, reproduction.Thresholds(
            settings.reproduction_min_psnr, settings.reproduction_max_diff))
        return await to_thread.run_sync(reproduction.run_check, submission_id, upload.path,
                                        upload.filename, thresholds, user.id, settings)
    finally:
        upload.discard()


@router.get("/submissions/{submission_id}/reproduction")
def read_reproduction(user: Organiser, submission: SubmissionFromPath,
                      session: SessionDep) -> ReproductionsOut:
    """The submission's reproduction checks, newest first: ``{"checks": [...]}``."""
    return {"checks": [reproduction.check_view(row)
                       for row in reproduction.checks_of(session, submission)]}
