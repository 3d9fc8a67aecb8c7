"""How a submission is shown: the JSON of GET /api/submissions/{id} (also kept in the audit log),
the answer to an accepted upload, a team's latest submissions, the images a stored upload holds."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import PurePosixPath

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.config import Settings
from app.intake.accept import Accepted
from app.models import ImageResult, Submission, Team
from app.storage import upload_file
from metrics.images import IMAGE_SUFFIXES, ImageSet
from metrics.registry import METRIC_NAMES

FINISHED = ("scored", "failed")


def team_submissions(session: Session, team: Team, limit: int) -> list[Submission]:
    """The team's latest submissions, newest first."""
    return list(session.scalars(
        select(Submission).where(Submission.team_id == team.id)
        .order_by(Submission.created_at.desc(), Submission.id.desc()).limit(limit)))


def accepted_view(accepted: Accepted, status_url: str) -> dict:
    """The answer to an accepted upload (POST /score, POST /submit): queued, and where to look."""
    return {"id": accepted.id, "status": "queued", "phase": accepted.phase,
            "challenge": accepted.challenge, "status_url": status_url}


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
        "images": [_image_json(row, sub.resized or {}) for row in sub.images]
        if sub.status == "scored" else [],
        "notes": sub.notes or [],
        "error": sub.error,
        "versions": sub.versions or {},  # each metric's version and the numerics version
    }
    if sub.status == "scoring":
        view["progress"] = {"done": sub.progress_done, "total": sub.image_count}
    return view


def _image_json(row: ImageResult, resized: Mapping[str, str]) -> dict:
    """One image's name, its value of each registry metric, and its score; and
    ``resized_from`` (its size as submitted) when it was resized to the ground truth's."""
    found = {"name": row.name, **{name: getattr(row, name) for name in METRIC_NAMES},
             "score": row.score}
    if row.name in resized:
        found["resized_from"] = resized[row.name]
    return found


def stored_image_names(sub: Submission, settings: Settings) -> list[str] | None:
    """The image files of the submission's stored zip, by name as scoring and judging read
    them (one wrapping folder dropped), sorted; None when the stored file is gone."""
    path = upload_file(settings, sub.upload_path)
    if not path.is_file():
        return None
    images = ImageSet(path, "submission")
    try:
        return sorted(name for name in images.names()
                      if PurePosixPath(name).suffix.lower() in IMAGE_SUFFIXES)
    finally:
        images.close()
