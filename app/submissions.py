"""Accepting a submission: which phase, is it open, quotas, validation, then storage and queueing.

Order matters for the promises made to teams: everything is checked before the row
exists, so a rejected upload stores nothing and costs no quota. The quota is checked
again under a lock on the team row (``SELECT ... FOR UPDATE`` on PostgreSQL,
``BEGIN IMMEDIATE`` on SQLite) in the transaction that inserts the row, so two uploads
racing for the last slot cannot both win. Failed submissions never count.

Quotas: ``max_submissions_per_day`` counts the phase's non-failed submissions of the team
since 00:00 UTC (it resets at the next 00:00 UTC); ``max_submissions`` counts them all.
"""

from __future__ import annotations

import os
import zipfile
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta
from http import HTTPStatus
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.config import Settings
from app.db import is_sqlite, session_scope
from app.evaluation import inventory
from app.jobs import queue
from app.models import Challenge, Phase, Submission, Team, TeamMember, User, utcnow
from metrics.images import InvalidInput, Inventory, Problem

if TYPE_CHECKING:
    from app.uploads import ReceivedFile


class Rejected(Exception):
    """A submission refused before acceptance: an HTTP-style status, a reason, every problem."""

    def __init__(
        self,
        status: int,
        detail: str,
        problems: list[Problem] | None = None,
        extra: dict | None = None,
        headers: dict[str, str] | None = None,
    ):
        super().__init__(detail)
        self.status = int(status)
        self.detail = detail
        self.problems = problems or []
        self.extra = extra or {}
        self.headers = headers or {}

    def to_json(self) -> dict:
        body: dict = {
            "detail": self.detail,
            "problems": [{"file": p.file, "message": p.message} for p in self.problems],
        }
        body.update(self.extra)
        return body


@dataclass(frozen=True)
class Accepted:
    id: int
    challenge: str
    phase: str


# -- which phase ----------------------------------------------------------------------


def phase_label(phase: Phase) -> str:
    return f"{phase.challenge.slug}/{phase.slug}"


def is_open(phase: Phase, now: datetime) -> bool:
    return (phase.start is None or phase.start <= now) and (phase.end is None or now <= phase.end)


def user_teams(session: Session, user: User) -> list[Team]:
    return list(session.scalars(select(Team).join(TeamMember).where(TeamMember.user_id == user.id)))


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
    candidates = _phases_of(session, user_teams(session, user))
    if not candidates:
        raise Rejected(HTTPStatus.FORBIDDEN, "this account is not a member of any team")
    if phase_ref:
        ref = phase_ref.strip()
        found = [(p, t) for p, t in candidates if ref in (p.slug, phase_label(p))]
        if len(found) == 1:
            return found[0]
        options = ", ".join(phase_label(p) for p, _ in candidates)
        reason = "is ambiguous" if found else "is not a phase of your team's challenges"
        raise Rejected(HTTPStatus.BAD_REQUEST, f"phase {ref!r} {reason}; options: {options}")
    open_paired = [(p, t) for p, t in candidates if p.kind == "paired" and is_open(p, now)]
    if len(open_paired) == 1:
        return open_paired[0]
    if open_paired:
        options = ", ".join(phase_label(p) for p, _ in open_paired)
        raise Rejected(
            HTTPStatus.BAD_REQUEST,
            f"several paired phases are open; name one in the 'phase' field: {options}",
        )
    options = ", ".join(f"{phase_label(p)} ({_window(p)})" for p, _ in candidates)
    raise Rejected(
        HTTPStatus.BAD_REQUEST,
        f"no paired phase is open now; name one in the 'phase' field: {options}",
    )


def _window(phase: Phase) -> str:
    start = phase.start.isoformat() if phase.start else "always"
    end = phase.end.isoformat() if phase.end else "no end"
    return f"{phase.kind}, {start} to {end}"


def check_open(phase: Phase, now: datetime) -> None:
    if phase.start is not None and now < phase.start:
        raise Rejected(
            HTTPStatus.FORBIDDEN, f"phase {phase_label(phase)} opens at {phase.start.isoformat()}"
        )
    if phase.end is not None and now > phase.end:
        raise Rejected(
            HTTPStatus.FORBIDDEN, f"phase {phase_label(phase)} closed at {phase.end.isoformat()}"
        )


def check_qualified(session: Session, phase: Phase, team: Team) -> None:
    """Phases with ``qualify_from``/``qualify_top`` admit only their finalists (app.judging)."""
    from app.judging.qualification import refusal

    reason = refusal(session, phase, team)
    if reason is not None:
        raise Rejected(HTTPStatus.FORBIDDEN, reason)


# -- quotas ---------------------------------------------------------------------------


def counted_submissions(
    session: Session, phase: Phase, team: Team, since: datetime | None = None
) -> int:
    """Submissions that count against quotas: every one that has not failed."""
    query = select(func.count(Submission.id)).where(
        Submission.phase_id == phase.id,
        Submission.team_id == team.id,
        Submission.status != "failed",
    )
    if since is not None:
        query = query.where(Submission.created_at >= since)
    return int(session.scalar(query) or 0)


def day_start(now: datetime) -> datetime:
    return datetime.combine(now.date(), time(0), tzinfo=now.tzinfo)


@dataclass
class QuotaLeft:
    """What a team may still submit to a phase (None: no limit)."""

    today: int | None
    total: int | None
    resets_at: datetime
    problems: list[str] = field(default_factory=list)


def quota_left(session: Session, phase: Phase, team: Team, now: datetime) -> QuotaLeft:
    midnight = day_start(now)
    left = QuotaLeft(None, None, midnight + timedelta(days=1))
    if phase.max_submissions_per_day is not None:
        left.today = phase.max_submissions_per_day - counted_submissions(
            session, phase, team, midnight
        )
    if phase.max_submissions is not None:
        left.total = phase.max_submissions - counted_submissions(session, phase, team)
    return left


def check_quota(session: Session, phase: Phase, team: Team, now: datetime) -> None:
    left = quota_left(session, phase, team, now)
    if left.total is not None and left.total <= 0:
        raise Rejected(
            HTTPStatus.TOO_MANY_REQUESTS,
            f"team {team.name!r} has used all {phase.max_submissions} submissions of "
            f"phase {phase_label(phase)} (failed ones do not count)",
            extra={"limit": phase.max_submissions, "period": "total", "resets_at": None},
        )
    if left.today is not None and left.today <= 0:
        wait = max(1, int((left.resets_at - now).total_seconds()))
        raise Rejected(
            HTTPStatus.TOO_MANY_REQUESTS,
            f"team {team.name!r} has used its {phase.max_submissions_per_day} "
            f"submissions of today for phase {phase_label(phase)} (failed ones do not "
            f"count); the quota resets at {left.resets_at.isoformat()}",
            extra={
                "limit": phase.max_submissions_per_day,
                "period": "day",
                "resets_at": left.resets_at.isoformat(),
            },
            headers={"Retry-After": str(wait)},
        )


def lock_team(session: Session, team_id: int) -> Team:
    """Serialise submissions of one team (the transaction is BEGIN IMMEDIATE on SQLite)."""
    query = select(Team).where(Team.id == team_id)
    if not is_sqlite(session):
        query = query.with_for_update()
    return session.execute(query).scalar_one()


# -- validation and acceptance ----------------------------------------------------------


def validate_upload(
    upload: ReceivedFile, ground_truth: Path | None, settings: Settings, inputs: Path | None = None
) -> Inventory:
    """Every problem of the uploaded zip: against the ground truth (paired phases), or the
    phase's inputs (unpaired phases: same names and sizes)."""
    if not zipfile.is_zipfile(upload.path):
        raise Rejected(
            HTTPStatus.BAD_REQUEST,
            "the upload is not a zip file",
            [Problem(upload.filename, "not a zip archive")],
        )
    try:
        checked = inventory(
            upload.path,
            ground_truth,
            max_pixels=settings.max_pixels,
            max_images=settings.max_images,
        )
        if ground_truth is None and inputs is not None:
            from app.judging.unpaired import check_unpaired_submission

            mismatch = check_unpaired_submission(
                upload.path, inputs, max_pixels=settings.max_pixels
            )
            if mismatch:
                raise InvalidInput(mismatch)
        return checked
    except InvalidInput as exc:
        problems = [
            Problem(upload.filename if p.file == str(upload.path) else p.file, p.message)
            for p in exc.problems
        ]
        raise Rejected(
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


def _target(user_id: int, phase_ref: str | None, settings: Settings) -> _Target:
    from app.storage import dataset_dir

    now = utcnow()
    with session_scope() as session:
        user = session.get(User, user_id)
        if user is None:
            raise Rejected(HTTPStatus.UNAUTHORIZED, "unknown user")
        phase, team = resolve_target(session, user, phase_ref, now)
        check_open(phase, now)
        check_qualified(session, phase, team)
        check_quota(session, phase, team, now)
        paired = phase.kind == "paired"
        ground_truth = dataset_dir(settings, phase, "ground_truth") if paired else None
        if phase.kind == "paired" and ground_truth is None:
            raise Rejected(
                HTTPStatus.CONFLICT, f"phase {phase_label(phase)} has no ground truth loaded yet"
            )
        inputs = dataset_dir(settings, phase, "inputs")
        return _Target(phase.id, team.id, ground_truth, inputs, phase.challenge.slug, phase.slug)


def _store(
    target: _Target, user_id: int, upload: ReceivedFile, image_count: int, settings: Settings
) -> int:
    """Insert the row and move the upload into place, under the team lock."""
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
            )
            session.add(sub)
            session.flush()
            final = settings.uploads_dir / target.challenge / target.phase / f"{sub.id}.zip"
            final.parent.mkdir(parents=True, exist_ok=True)
            os.replace(upload.path, final)
            sub.upload_path = final.relative_to(settings.data_dir).as_posix()
            return sub.id
    except BaseException:
        if final is not None:
            final.unlink(missing_ok=True)
        raise


def accept(
    user_id: int, upload: ReceivedFile, phase_ref: str | None, settings: Settings
) -> Accepted:
    """Check, validate, store and queue an upload; raises Rejected and keeps nothing if refused."""
    try:
        target = _target(user_id, phase_ref, settings)
        checked = validate_upload(upload, target.ground_truth, settings, target.inputs)
        submission_id = _store(target, user_id, upload, len(checked.pairs), settings)
    finally:
        upload.discard()  # moved into place when accepted; the temporary file otherwise
    queue.enqueue([submission_id])
    return Accepted(submission_id, target.challenge, target.phase)


# -- how a submission is shown ----------------------------------------------------------


def submission_view(sub: Submission) -> dict:
    """The JSON contract of GET /api/submissions/{id} (mean/images in the engine's shape)."""
    view: dict = {
        "id": sub.id,
        "status": sub.status,
        "phase": sub.phase.slug,
        "challenge": sub.phase.challenge.slug,
        "team": sub.team.name,
        "created_at": sub.created_at.isoformat(),
        "finished_at": sub.finished_at.isoformat() if sub.finished_at else None,
        "attempts": sub.attempts,
        "image_count": sub.image_count,
        "mean": sub.mean or {},
        "images": [_image_json(row) for row in sub.images] if sub.status == "scored" else [],
        "notes": sub.notes or [],
        "error": sub.error,
    }
    if sub.status == "scoring":
        view["progress"] = {"done": sub.progress_done, "total": sub.image_count}
    return view


def _image_json(row) -> dict:  # type: ignore[no-untyped-def]
    return {
        "name": row.name,
        "psnr": row.psnr,
        "ssim": row.ssim,
        "lpips": row.lpips,
        "dists": row.dists,
        "niqe": row.niqe,
        "score": row.score,
    }
