"""Accepting a submission: which phase, is it open, qualification, quotas, validation, storage.

Order matters for the promises made to teams: everything is checked before the row
exists, so a rejected upload stores nothing and costs no quota. The quota is checked
again under a lock on the team row (app.intake.quotas) in the transaction that inserts
the row, so two uploads racing for the last slot cannot both win. The job is queued only
after that transaction has committed.
"""

from __future__ import annotations

import os
import zipfile
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime
from http import HTTPStatus
from pathlib import Path

from anyio import to_thread
from sqlalchemy import select
from sqlalchemy.orm import Session

from app import factsheets
from app.accounts import teams_of
from app.config import Settings
from app.db import session_scope
from app.errors import ApiError
from app.evaluation import inventory, phase_formula
from app.intake.quotas import check_quota, lock_team, phase_label
from app.intake.receive import ReceivedFile, receive_form
from app.jobs import queue
from app.judging.qualification import refusal
from app.models import Challenge, Phase, Submission, Team, User, utcnow
from app.storage import dataset_dir
from metrics.images import InvalidInput, Inventory, Problem
from scoring.formula import RAIM_2024, Formula

# Multipart framing around the file; the file itself is held to the exact limit.
MULTIPART_OVERHEAD = 64 * 1024


@dataclass(frozen=True)
class Accepted:
    id: int
    challenge: str
    phase: str


# -- which phase ----------------------------------------------------------------------


def is_open(phase: Phase, now: datetime) -> bool:
    return (phase.start is None or phase.start <= now) and (phase.end is None or now <= phase.end)


def _phases_of(session: Session, teams: list[Team]) -> list[tuple[Phase, Team]]:
    by_challenge = {team.challenge_id: team for team in teams}
    phases = session.scalars(
        select(Phase)
        .join(Challenge)
        .where(Phase.challenge_id.in_(by_challenge))
        .order_by(Challenge.slug, Phase.position)
    )
    return [(phase, by_challenge[phase.challenge_id]) for phase in phases]


def resolve_target(
    session: Session, user: User, phase_ref: str | None, now: datetime
) -> tuple[Phase, Team]:
    """The phase named by ``phase_ref`` (``phase`` or ``challenge/phase``) and the user's team.

    Without a reference: the one open paired phase among the user's teams' challenges.
    """
    candidates = _phases_of(session, teams_of(session, user))
    if not candidates:
        raise ApiError(HTTPStatus.FORBIDDEN, "this account is not a member of any team")
    if phase_ref:
        ref = phase_ref.strip()
        found = [(p, t) for p, t in candidates if ref in (p.slug, phase_label(p))]
        if len(found) == 1:
            return found[0]
        options = ", ".join(phase_label(p) for p, _ in candidates)
        reason = "is ambiguous" if found else "is not a phase of your team's challenges"
        raise ApiError(HTTPStatus.BAD_REQUEST, f"phase {ref!r} {reason}; options: {options}")
    open_paired = [(p, t) for p, t in candidates if p.kind == "paired" and is_open(p, now)]
    if len(open_paired) == 1:
        return open_paired[0]
    if open_paired:
        options = ", ".join(phase_label(p) for p, _ in open_paired)
        raise ApiError(
            HTTPStatus.BAD_REQUEST,
            f"several paired phases are open; name one in the 'phase' field: {options}",
        )
    options = ", ".join(f"{phase_label(p)} ({_window(p)})" for p, _ in candidates)
    raise ApiError(
        HTTPStatus.BAD_REQUEST,
        f"no paired phase is open now; name one in the 'phase' field: {options}",
    )


def _window(phase: Phase) -> str:
    start = phase.start.isoformat() if phase.start else "always"
    end = phase.end.isoformat() if phase.end else "no end"
    return f"{phase.kind}, {start} to {end}"


def check_open(phase: Phase, now: datetime) -> None:
    if phase.start is not None and now < phase.start:
        raise ApiError(
            HTTPStatus.FORBIDDEN, f"phase {phase_label(phase)} opens at {phase.start.isoformat()}"
        )
    if phase.end is not None and now > phase.end:
        raise ApiError(
            HTTPStatus.FORBIDDEN, f"phase {phase_label(phase)} closed at {phase.end.isoformat()}"
        )


def check_qualified(session: Session, phase: Phase, team: Team) -> None:
    """Phases with ``qualify_from``/``qualify_top`` admit only their finalists (app.judging)."""
    reason = refusal(session, phase, team)
    if reason is not None:
        raise ApiError(HTTPStatus.FORBIDDEN, reason)


# -- validation and acceptance ----------------------------------------------------------


def validate_upload(
    upload: ReceivedFile, ground_truth: Path | None, settings: Settings, inputs: Path | None = None,
    formula: Formula = RAIM_2024,
) -> Inventory:
    """Every problem of the uploaded zip: against the ground truth (paired phases), or the
    phase's inputs (unpaired phases: same names and sizes), read as the phase's formula reads
    them (border crop, size policy, stages)."""
    if not zipfile.is_zipfile(upload.path):
        raise ApiError(
            HTTPStatus.BAD_REQUEST,
            "the upload is not a zip file",
            [Problem(upload.filename, "not a zip archive")],
        )
    try:
        return inventory(
            upload.path,
            ground_truth,
            max_pixels=settings.max_pixels,
            max_images=settings.max_images,
            inputs=inputs,
            formula=formula,
        )
    except InvalidInput as exc:
        problems = [
            Problem(upload.filename if p.file == str(upload.path) else p.file, p.message)
            for p in exc.problems
        ]
        raise ApiError(
            HTTPStatus.BAD_REQUEST,
            f"{upload.filename}: {len(problems)} problem(s); nothing was stored",
            problems,
        ) from exc


@dataclass(frozen=True)
class _Target:
    phase_id: int
    team_id: int
    ground_truth: Path | None
    inputs: Path | None
    challenge: str
    phase: str
    factsheet: dict | None = None  # the phase's factsheet spec, if it asks for one
    formula: Formula = RAIM_2024


def _target(user_id: int, phase_ref: str | None, settings: Settings) -> _Target:
    now = utcnow()
    with session_scope() as session:
        user = session.get(User, user_id)
        if user is None:
            raise ApiError(HTTPStatus.UNAUTHORIZED, "unknown user")
        phase, team = resolve_target(session, user, phase_ref, now)
        check_open(phase, now)
        check_qualified(session, phase, team)
        check_quota(session, phase, team, now)
        paired = phase.kind == "paired"
        ground_truth = dataset_dir(settings, phase, "ground_truth") if paired else None
        if paired and ground_truth is None:
            raise ApiError(
                HTTPStatus.CONFLICT, f"phase {phase_label(phase)} has no ground truth loaded yet"
            )
        inputs = None if paired else dataset_dir(settings, phase, "inputs")
        return _Target(phase.id, team.id, ground_truth, inputs, phase.challenge.slug, phase.slug,
                       phase.factsheet, phase_formula(phase))


def check_upload(upload: ReceivedFile, target: _Target, form: dict[str, str],
                 settings: Settings) -> tuple[Inventory, dict | None]:
    """The images' inventory and the checked factsheet; one ApiError 400 lists the problems
    of both (the factsheet's named by field)."""
    factsheet_problems: list[Problem] = []
    factsheet = None
    try:
        factsheet = factsheets.from_upload(target.factsheet, form, upload.path)
    except factsheets.FactsheetError as exc:
        factsheet_problems = exc.problems
    try:
        checked = validate_upload(upload, target.ground_truth, settings, target.inputs,
                                  target.formula)
    except ApiError as exc:
        if factsheet_problems:
            raise ApiError(exc.status, exc.detail, factsheet_problems + exc.problems) from exc
        raise
    if factsheet_problems:
        raise ApiError(HTTPStatus.BAD_REQUEST,
                       f"{upload.filename}: the factsheet has {len(factsheet_problems)} "
                       f"problem(s); nothing was stored", factsheet_problems)
    return checked, factsheet


def _store(
    target: _Target, user_id: int, upload: ReceivedFile, image_count: int, settings: Settings,
    factsheet: dict | None = None,
) -> int:
    """Insert the row and move the upload into place, under the team lock; commit, then queue."""
    final: Path | None = None
    try:
        with session_scope(immediate=True) as session:
            team = lock_team(session, target.team_id)
            phase = session.get_one(Phase, target.phase_id)
            now = utcnow()
            check_open(phase, now)
            check_quota(session, phase, team, now)
            sub = Submission(
                phase_id=phase.id,
                team_id=team.id,
                user_id=user_id,
                status="queued",
                created_at=now,
                upload_path="",
                upload_bytes=upload.size,
                upload_sha256=upload.sha256,
                original_filename=upload.filename[:255],
                image_count=image_count,
                factsheet=factsheet,
            )
            session.add(sub)
            session.flush()
            final = settings.uploads_dir / target.challenge / target.phase / f"{sub.id}.zip"
            final.parent.mkdir(parents=True, exist_ok=True)
            os.replace(upload.path, final)
            sub.upload_path = final.relative_to(settings.data_dir).as_posix()
            queue.commit_then_enqueue(session, [sub.id])
            return sub.id
    except BaseException:
        if final is not None:
            final.unlink(missing_ok=True)
        raise


async def receive_and_accept(
    user_id: int, content_type: str, content_length: str, chunks: AsyncIterator[bytes],
    settings: Settings,
) -> Accepted:
    """A streamed multipart upload (zip in ``file``, optional ``phase``, the factsheet's
    ``factsheet.<field>`` fields) received and accepted.

    Refused at once when the declared length is over the limit; the body is then written
    to a temporary file as it arrives, and ``accept`` runs in a worker thread.
    """
    if content_length.isdigit() and int(content_length) > settings.max_upload_bytes + \
            MULTIPART_OVERHEAD:
        raise ApiError(HTTPStatus.REQUEST_ENTITY_TOO_LARGE,
                       f"the upload ({int(content_length):,} bytes) is over the limit of "
                       f"{settings.max_upload_bytes:,} bytes; nothing was stored")
    form = await receive_form(content_type, chunks, settings.uploads_dir / "incoming",
                              max_bytes=settings.max_upload_bytes)
    if form.file is None:  # receive_form guarantees a file; keeps the type checker honest
        raise ApiError(HTTPStatus.BAD_REQUEST, "no file received")
    return await to_thread.run_sync(accept, user_id, form.file, form.fields.get("phase"),
                                    settings, form.fields)


def accept(
    user_id: int, upload: ReceivedFile, phase_ref: str | None, settings: Settings,
    form: dict[str, str] | None = None,
) -> Accepted:
    """Check, validate, store and queue an upload; raises ApiError and keeps nothing if refused.

    ``form``: the other multipart fields (the factsheet's ``factsheet.<field>``)."""
    try:
        target = _target(user_id, phase_ref, settings)
        checked, factsheet = check_upload(upload, target, form or {}, settings)
        submission_id = _store(target, user_id, upload, len(checked.pairs), settings, factsheet)
    finally:
        upload.discard()  # moved into place when accepted; the temporary file otherwise
    return Accepted(submission_id, target.challenge, target.phase)


