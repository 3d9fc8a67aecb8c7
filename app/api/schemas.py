"""Typed response bodies of the JSON routes, so /docs shows real schemas (the shapes are unchanged).

Routes use them as ``response_model`` with ``response_model_exclude_unset=True``: a key the
route leaves out (``progress`` before scoring) stays out, and ``extra="allow"`` keeps every key
the domain code returns, so declaring a model never renames or drops anything. Metric keys are
those of metrics/registry.py (declared here from the registry, one float each).
"""

from __future__ import annotations

from typing import Any

from fastapi import Response
from pydantic import BaseModel, ConfigDict, Field, create_model

from metrics.registry import METRIC_NAMES


class Shape(BaseModel):
    """A response body: every declared key documented, none dropped."""

    model_config = ConfigDict(extra="allow")


def _with_metrics(name: str, base: type[Shape], doc: str) -> type[Shape]:
    """``base`` plus one optional float per registry metric."""
    fields: Any = {metric: (float | None, None) for metric in METRIC_NAMES}
    model = create_model(name, __base__=base, **fields)
    model.__doc__ = doc
    return model


def file_download(media_type: str, description: str) -> dict[str, Any]:
    """A route's keyword arguments for a file answer: /docs shows its media type, not JSON."""
    return {"response_class": Response,
            "responses": {200: {"content": {media_type: {}}, "description": description}}}


# -- submissions ---------------------------------------------------------------------------------


class ProgressOut(Shape):
    done: int = Field(description="images scored so far")
    total: int | None = Field(description="images in the submission")


class _ImageBase(Shape):
    name: str = Field(description="the image's file name in the zip")
    score: float | None = None


ImageResultOut = _with_metrics("ImageResultOut", _ImageBase,
                               "One image: its value of each registry metric, and its score.")


class _MeanBase(Shape):
    score: float | None = None


MeanOut = _with_metrics("MeanOut", _MeanBase, "The submission's mean of each metric, and score.")


class SubmissionOut(Shape):
    """GET /api/submissions/{id}: a submission's status and results."""

    id: int
    status: str = Field(description="queued, scoring, scored or failed")
    phase: str
    challenge: str
    team: str
    created_at: str = Field(description="ISO 8601, UTC")
    finished_at: str | None = None
    attempts: int
    image_count: int | None = None
    mean: MeanOut = Field(description="empty until scored")  # type: ignore[valid-type]
    images: list[ImageResultOut] = Field(  # type: ignore[valid-type]
        description="per image, once scored")
    notes: list[str]
    error: str | None = None
    versions: dict[str, str] = Field(description="each metric's version and the numerics version")
    progress: ProgressOut | None = Field(default=None, description="only while scoring")
    status_url: str | None = Field(default=None, description="only in POST /score?wait= answers")


class AcceptedOut(Shape):
    """POST /score (202): the upload was accepted and queued."""

    id: int
    status: str
    phase: str
    challenge: str
    status_url: str


class SubmissionPage(Shape):
    """GET /api/submissions: one page of the caller's teams' submissions, newest first."""

    items: list[SubmissionOut]
    page: int = Field(description="this page, from 1")
    per_page: int
    total: int = Field(description="submissions matching the filters, on all pages")


# -- leaderboards --------------------------------------------------------------------------------


class _RowBase(Shape):
    rank: int | None = None
    team: str
    submission_id: int
    score: float | None = None
    submitted_at: str
    rescore: str | None = Field(default=None, description="pending while a rescore runs, "
                                "failed after it failed; else null")


LeaderboardRowOut = _with_metrics("LeaderboardRowOut", _RowBase,
                                  "A team's line: rank, submission, score and each metric's mean.")


class LeaderboardOut(Shape):
    """GET /api/challenges/{challenge}/phases/{phase}/leaderboard."""

    challenge: str
    phase: str
    rank_by: str = Field(description="best or latest")
    visibility: str
    rows: list[LeaderboardRowOut]  # type: ignore[valid-type]


# -- the worker API ------------------------------------------------------------------------------


class HelloOut(Shape):
    worker: str = Field(description="this process's name: token-name@host:pid")
    heartbeat_seconds: int
    lease_seconds: int


class WorkerOut(Shape):
    worker: str


class FileOut(Shape):
    url: str
    sha256: str
    bytes: int


class JobOut(Shape):
    submission_id: int
    worker: str
    attempt: int
    paired: bool
    image_count: int | None = None
    formula: dict[str, Any]
    upload: FileOut
    ground_truth: FileOut | None = None
    heartbeat_seconds: int
    lease_seconds: int


class ClaimOut(Shape):
    job: JobOut | None = Field(description="null when nothing waits")


class HeldOut(Shape):
    submission_id: int
    held: bool


class StatusOut(Shape):
    submission_id: int
    status: str


class StoredOut(StatusOut):
    score: float | None = None


# -- organisers: worker tokens and the queue -----------------------------------------------------


class WorkerTokenOut(Shape):
    """A worker token as the API lists it (never the token itself)."""

    id: int
    name: str
    prefix: str = Field(description="the token's first characters, to recognise it")
    created_at: str
    last_used_at: str | None = None
    revoked_at: str | None = None


class NewWorkerTokenOut(WorkerTokenOut):
    token: str = Field(description="the token itself, shown this once")


class WorkerTokensOut(Shape):
    tokens: list[WorkerTokenOut]


class QueueOut(Shape):
    """GET /api/organiser/queue: counts by state, workers, teams waiting."""

    mode: str = Field(description="celery (a broker) or local (the service's own worker)")
    waiting: int
    running: int
    failed: int
    scored: int
    oldest_waiting_seconds: float | None = None
    workers: list[dict[str, Any]]
    live_workers: int
    warning: str | None = None
    teams: list[dict[str, Any]]
    cache: dict[str, Any] | None = None
    heartbeat_seconds: int
    silent_after_seconds: int


# -- the final ranking ---------------------------------------------------------------------------


class FinalOut(Shape):
    """GET /api/challenges/{challenge}/final: the blended ranking (docs/judging.md)."""

    status: str | None = None
    reason: str | None = None
    rows: list[dict[str, Any]] | None = Field(default=None, description="one per finalist")
    method: dict[str, Any] | None = None
    rejected_judges: list[dict[str, Any]] | None = None
    flagged_judges: list[dict[str, Any]] | None = None


# -- reproduction checks -------------------------------------------------------------------------


class ReproducedImageOut(Shape):
    name: str = Field(description="the image's stem")
    psnr: float | None = Field(description="dB; null when identical or not measured")
    identical: bool
    max_diff: int | None = Field(description="the largest absolute pixel difference")
    flagged: bool
    reason: str = Field(description="why it is flagged; empty otherwise")


class ThresholdsOut(Shape):
    min_psnr: float
    max_diff: int


class ReproductionOut(Shape):
    """An organiser's reproduction check of a submission, as stored."""

    id: int
    submission_id: int
    created_at: str
    filename: str
    verdict: str = Field(description="pass or fail")
    thresholds: ThresholdsOut
    image_count: int
    flagged: int = Field(description="how many images are flagged")
    images: list[ReproducedImageOut]


class ReproductionsOut(Shape):
    checks: list[ReproductionOut] = Field(description="newest first")
