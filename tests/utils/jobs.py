"""Helpers for tests of scoring jobs: accept an upload as POST /score does, read rows back,
record a finished submission as the worker would."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from sqlalchemy import func, select

from app import leaderboard
from app.config import get_settings
from app.db import session_scope
from app.evaluation import Evaluation
from app.intake.accept import accept
from app.jobs import sweeper
from app.models import ImageResult, Submission, TeamMember
from metrics.registry import METRIC_NAMES
from scoring.report import Report
from tests.utils.arena import Arena, as_upload, zip_folder


def submit(arena: Arena, folder: Path, tmp_path: Path, name: str = "r.zip",
           phase: str | None = None) -> int:
    """Accept an upload the way POST /score does (validation, quota, storage)."""
    upload = as_upload(zip_folder(folder, tmp_path / name))
    with session_scope() as session:
        user_id = session.scalar(select(TeamMember.user_id)
                                 .where(TeamMember.team_id == arena.team_ids["alpha"]))
    return accept(user_id, upload, phase, get_settings()).id


def load(sub_id: int) -> Submission:
    with session_scope() as session:
        return session.get_one(Submission, sub_id)


def result_count(sub_id: int) -> int:
    with session_scope() as session:
        return session.scalar(select(func.count(ImageResult.id))
                              .where(ImageResult.submission_id == sub_id)) or 0


def dead_worker_name() -> str:
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    process.wait()
    return sweeper.worker_name().rsplit(":", 1)[0] + f":{process.pid}"


def evaluation(score: float) -> Evaluation:
    """What the scorer hands the worker for a one-image submission scoring ``score``."""
    row = {"name": "001", "psnr": 30.0, "ssim": 0.9, "lpips": 0.1, "dists": 0.1, "niqe": 5.0,
           "score": score}
    return Evaluation(report=Report(metrics=METRIC_NAMES, images=[row]), notes=[],
                      versions={"numerics": "test"})


def finish(sub_id: int, status: str, score: float | None) -> None:
    """Record a finished submission directly, as the worker would: a scored one's results go
    to its team's leaderboard line in the same transaction, a failure changes no line."""
    mean = None if score is None else {"psnr": 30.0, "ssim": 0.9, "lpips": 0.1, "dists": 0.1,
                                       "niqe": 5.0, "score": score}
    with session_scope() as session:
        sub = session.get_one(Submission, sub_id)
        sub.status, sub.score, sub.mean = status, score, mean
        if status == "scored":
            session.flush()
            leaderboard.results_stored(session, sub)
