"""Reproduction checks: an organiser's reproduced outputs compared image by image with a team's.

The organiser runs a team's code and uploads what it produced (a zip, or a folder in tests);
``compare`` pairs it with the submission's stored upload by file stem, decodes both as scoring
does (8-bit RGB, ``metrics.images.decode``) and measures each pair: the PSNR over every pixel
and channel (peak 255; infinite when identical) and the largest absolute difference in levels.
An image is flagged when its PSNR is below ``min_psnr`` or a pixel differs by more than
``max_diff`` levels, when its sizes differ, or when either side lacks it or cannot be decoded.
The verdict passes when nothing is flagged. ``record`` stores it (ReproductionCheck) and writes
the audit log; the final results page shows each team's latest verdict.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from http import HTTPStatus
from pathlib import Path, PurePosixPath
from typing import Any

import numpy as np
from sqlalchemy import select
from sqlalchemy.orm import Session

from app import audit
from app.config import Settings
from app.db import session_scope
from app.errors import ApiError
from app.lookups import find_submission
from app.models import Challenge, Phase, ReproductionCheck, Submission, User
from app.storage import upload_file
from metrics.images import IMAGE_SUFFIXES, SIDE_FILES, ImageSet, decode
from metrics.problems import InvalidInput, Problem


@dataclass(frozen=True)
class Thresholds:
    min_psnr: float  # dB: an image below is flagged
    max_diff: int  # levels 0-255: an image with a pixel further apart is flagged

    def __post_init__(self) -> None:
        if not (math.isfinite(self.min_psnr) and self.min_psnr > 0):
            raise ValueError(f"min_psnr must be a positive number of dB (got {self.min_psnr!r})")
        if not 0 <= self.max_diff <= 255:
            raise ValueError(f"max_diff must be 0 to 255 levels (got {self.max_diff!r})")


@dataclass(frozen=True)
class ImageComparison:
    name: str  # the stem
    psnr: float | None  # None when not measured; math.inf when identical
    max_diff: int | None
    flagged: bool
    reason: str  # why it is flagged, "" otherwise

    def to_json(self) -> dict[str, Any]:
        identical = self.psnr is not None and math.isinf(self.psnr)
        return {"name": self.name, "psnr": None if identical else self.psnr,
                "identical": identical, "max_diff": self.max_diff, "flagged": self.flagged,
                "reason": self.reason}


@dataclass(frozen=True)
class Comparison:
    thresholds: Thresholds
    images: list[ImageComparison]

    @property
    def flagged(self) -> list[ImageComparison]:
        return [i for i in self.images if i.flagged]

    @property
    def passed(self) -> bool:
        return not self.flagged


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    """PSNR in dB of two same-shape 8-bit images over every pixel and channel; inf if equal."""
    mse = float(np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2))
    return math.inf if mse == 0 else 10 * math.log10(255.0**2 / mse)


def _stems(images: ImageSet) -> dict[str, str]:
    return {PurePosixPath(n).stem: n for n in images.names()
            if PurePosixPath(n).suffix.lower() in IMAGE_SUFFIXES}


def _decoded(images: ImageSet, name: str) -> tuple[np.ndarray | None, str]:
    try:
        return decode(images.read(name), name), ""
    except InvalidInput as exc:
        return None, "; ".join(p.message for p in exc.problems)


def compare_pair(stem: str, submitted: np.ndarray, reproduced: np.ndarray,
                 thresholds: Thresholds) -> ImageComparison:
    """One image's figures and whether they pass the thresholds."""
    if submitted.shape != reproduced.shape:
        return ImageComparison(stem, None, None, True,
                               f"size {reproduced.shape[1]}x{reproduced.shape[0]} differs from "
                               f"the submitted {submitted.shape[1]}x{submitted.shape[0]}")
    value = psnr(submitted, reproduced)
    diff = int(np.max(np.abs(submitted.astype(np.int16) - reproduced.astype(np.int16))))
    reasons = []
    if value < thresholds.min_psnr:
        reasons.append(f"PSNR {value:.2f} dB below {thresholds.min_psnr:g} dB")
    if diff > thresholds.max_diff:
        reasons.append(f"a pixel differs by {diff} levels (over {thresholds.max_diff})")
    return ImageComparison(stem, value, diff, bool(reasons), "; ".join(reasons))


def compare(submitted: Path, reproduced: Path, thresholds: Thresholds, *,
            max_pixels: int | None = None) -> Comparison:
    """Every image of ``submitted`` against ``reproduced`` (folders or zips), by stem.

    Raises InvalidInput when the reproduction cannot be read as a set of images at all.
    """
    ours = ImageSet(submitted, "submission", max_pixels=max_pixels, side_files=SIDE_FILES)
    theirs = ImageSet(reproduced, "reproduction", max_pixels=max_pixels, side_files=SIDE_FILES)
    if theirs.problems:
        raise InvalidInput(theirs.problems)
    if ours.problems:
        raise InvalidInput([Problem(p.file, f"the stored submission: {p.message}")
                            for p in ours.problems])
    sub_stems, rep_stems = _stems(ours), _stems(theirs)
    if not rep_stems:
        raise InvalidInput([Problem(reproduced.name, "no images found in the reproduction")])
    results = []
    for stem in sorted(sub_stems.keys() | rep_stems.keys()):
        if stem not in rep_stems:
            results.append(ImageComparison(stem, None, None, True,
                                           "missing from the reproduction"))
            continue
        if stem not in sub_stems:
            results.append(ImageComparison(stem, None, None, True,
                                           "not in the submission (extra in the reproduction)"))
            continue
        mine, why_mine = _decoded(ours, sub_stems[stem])
        other, why_other = _decoded(theirs, rep_stems[stem])
        if mine is None or other is None:
            why = f"submitted: {why_mine}" if mine is None else f"reproduced: {why_other}"
            results.append(ImageComparison(stem, None, None, True, f"cannot be read ({why})"))
            continue
        results.append(compare_pair(stem, mine, other, thresholds))
    return Comparison(thresholds, results)


def record(session: Session, sub: Submission, comparison: Comparison, *, filename: str,
           actor: User | None) -> ReproductionCheck:
    """Store the verdict with its per-image figures and write it to the audit log."""
    row = ReproductionCheck(
        submission_id=sub.id, actor_id=actor.id if actor is not None else None,
        filename=filename[:255], min_psnr=comparison.thresholds.min_psnr,
        max_diff=comparison.thresholds.max_diff, passed=comparison.passed,
        image_count=len(comparison.images), flagged=len(comparison.flagged),
        images=[i.to_json() for i in comparison.images])
    session.add(row)
    session.flush()
    audit.record(session, "submission.reproduction", f"submission:{sub.id}", {
        "check": row.id, "team": sub.team.name, "verdict": "pass" if row.passed else "fail",
        "min_psnr": row.min_psnr, "max_diff": row.max_diff, "images": row.image_count,
        "flagged": [i.name for i in comparison.flagged], "filename": row.filename,
    }, actor=actor)
    return row


def check_view(row: ReproductionCheck) -> dict[str, Any]:
    """A stored check as the organiser API gives it."""
    return {"id": row.id, "submission_id": row.submission_id,
            "created_at": row.created_at.isoformat(), "filename": row.filename,
            "verdict": "pass" if row.passed else "fail",
            "thresholds": {"min_psnr": row.min_psnr, "max_diff": row.max_diff},
            "image_count": row.image_count, "flagged": row.flagged, "images": row.images}


def checks_of(session: Session, sub: Submission) -> list[ReproductionCheck]:
    """The submission's checks, newest first."""
    return list(session.scalars(select(ReproductionCheck)
                                .where(ReproductionCheck.submission_id == sub.id)
                                .order_by(ReproductionCheck.id.desc())))


def team_verdicts(session: Session, challenge: Challenge) -> dict[str, dict[str, Any]]:
    """Per team name, its latest check in the challenge: ``{"verdict", "flagged",
    "image_count", "submission_id", "checked_at"}``."""
    rows = session.execute(
        select(ReproductionCheck, Submission.team_id, Submission.id)
        .join(Submission, Submission.id == ReproductionCheck.submission_id)
        .join(Phase, Phase.id == Submission.phase_id)
        .where(Phase.challenge_id == challenge.id)
        .order_by(ReproductionCheck.id))
    names = {t.id: t.name for t in challenge.teams}
    found: dict[str, dict[str, Any]] = {}
    for row, team_id, submission_id in rows:
        found[names[team_id]] = {"verdict": "pass" if row.passed else "fail",
                                 "flagged": row.flagged, "image_count": row.image_count,
                                 "submission_id": submission_id,
                                 "checked_at": row.created_at.isoformat()}
    return found


def thresholds_from(fields: dict[str, str], defaults: Thresholds) -> Thresholds:
    """The thresholds of a request's fields ``min_psnr`` and ``max_diff`` (blank: the default);
    ApiError 400 naming the field otherwise."""
    values: dict[str, Any] = {"min_psnr": defaults.min_psnr, "max_diff": defaults.max_diff}
    problems = []
    for name, kind in (("min_psnr", float), ("max_diff", int)):
        text = (fields.get(name) or "").strip()
        if not text:
            continue
        try:
            values[name] = kind(text)
        except ValueError:
            problems.append(Problem(name, f"must be {'a number' if kind is float else 'a whole number'}"
                                          f" (got {text!r})"))
    if not problems:
        try:
            return Thresholds(**values)
        except ValueError as exc:
            problems.append(Problem(str(exc).split(" ", 1)[0], str(exc)))
    raise ApiError(HTTPStatus.BAD_REQUEST, "the thresholds are not valid", problems)


def run_check(submission_id: int, reproduced: Path, filename: str, thresholds: Thresholds,
              actor_id: int | None, settings: Settings) -> dict[str, Any]:
    """Compare an uploaded reproduction with the submission, then store and audit the verdict;
    its view. The comparison decodes every image, so it runs outside any transaction: the
    verdict is written in a short one of its own, committed before the view is returned.
    ApiError 404 (no such submission), 410 (stored upload gone) or 400 (unreadable zip,
    nothing stored)."""
    with session_scope() as session:
        upload_path = find_submission(session, submission_id).upload_path
    stored = upload_file(settings, upload_path)
    if not stored.is_file():
        raise ApiError(HTTPStatus.GONE, f"the stored upload of submission {submission_id} is "
                                        f"missing ({upload_path})")
    try:
        comparison = compare(stored, reproduced, thresholds, max_pixels=settings.max_pixels)
    except InvalidInput as exc:
        raise ApiError(HTTPStatus.BAD_REQUEST,
                       f"{filename}: the reproduction cannot be compared; nothing was stored",
                       [Problem(filename if p.file == str(reproduced) else p.file, p.message)
                        for p in exc.problems]) from exc
    with session_scope(immediate=True) as session:
        actor = session.get(User, actor_id) if actor_id is not None else None
        return check_view(record(session, find_submission(session, submission_id), comparison,
                                 filename=filename, actor=actor))


