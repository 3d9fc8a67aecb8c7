"""How a submission is shown: the JSON of GET /api/submissions/{id} (also kept in the audit log),
the answer to an accepted upload, a team's latest submissions (and a page of them), the per-image
results file, the images a stored upload holds."""

from __future__ import annotations

import csv
import io
from collections.abc import Collection, Mapping
from pathlib import PurePosixPath

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.config import Settings
from app.intake.accept import Accepted
from app.models import Challenge, ImageResult, Phase, Submission, Team
from app.storage import upload_file
from metrics.images import IMAGE_SUFFIXES, ImageSet
from metrics.registry import METRIC_NAMES

FINISHED = ("scored", "failed")


def team_submissions(session: Session, team: Team, limit: int) -> list[Submission]:
    """The team's latest submissions, newest first."""
    return list(session.scalars(
        select(Submission).where(Submission.team_id == team.id)
        .order_by(Submission.created_at.desc(), Submission.id.desc()).limit(limit)))


def submissions_page(session: Session, team_ids: Collection[int], *, phase: str | None = None,
                     challenge: str | None = None, page: int = 1,
                     per_page: int = 20) -> tuple[list[Submission], int]:
    """One page (from 1) of the submissions of ``team_ids``, newest first, and how many match.

    ``phase`` is a phase's slug or ``challenge/phase``; ``challenge`` a challenge's slug.
    """
    query = (select(Submission).join(Phase, Submission.phase_id == Phase.id)
             .join(Challenge, Phase.challenge_id == Challenge.id)
             .where(Submission.team_id.in_(list(team_ids))))
    if phase:
        challenge_slug, _, phase_slug = phase.strip().rpartition("/")
        query = query.where(Phase.slug == phase_slug)
        if challenge_slug:
            query = query.where(Challenge.slug == challenge_slug)
    if challenge:
        query = query.where(Challenge.slug == challenge.strip())
    total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    rows = session.scalars(query.order_by(Submission.created_at.desc(), Submission.id.desc())
                           .offset((page - 1) * per_page).limit(per_page))
    return list(rows), total


def results_csv(sub: Submission) -> str:
    """The per-image results file: a header (name, each registry metric, score), one row per
    image in name order; empty values where a metric was not measured."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["name", *METRIC_NAMES, "score"])
    for row in sub.images:
        values = [getattr(row, name) for name in METRIC_NAMES] + [row.score]
        writer.writerow([row.name, *("" if value is None else repr(value) for value in values)])
    return out.getvalue()


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
