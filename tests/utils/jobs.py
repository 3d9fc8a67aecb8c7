"""Helpers for tests of scoring jobs: accept an upload as POST /score does, read rows back."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from sqlalchemy import func, select

from app.config import get_settings
from app.db import session_scope
from app.intake.accept import accept
from app.jobs import sweeper
from app.models import ImageResult, Submission, TeamMember
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
