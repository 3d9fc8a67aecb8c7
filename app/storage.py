"""Where stored files live: uploads and image sets, as paths under RAIM_DATA_DIR.

Rows store paths relative to RAIM_DATA_DIR (uploads) or RAIM_DATA_DIR/datasets (image sets),
so every machine sharing the data folder finds the same files.
"""

from __future__ import annotations

from pathlib import Path

from app.config import Settings
from app.models import Phase


def upload_file(settings: Settings, upload_path: str) -> Path:
    """The stored upload of a submission (``Submission.upload_path``)."""
    return settings.data_dir / upload_path


def dataset_dir(settings: Settings, phase: Phase, role: str) -> Path | None:
    """The folder of the phase's ``inputs`` or ``ground_truth``; None when it has none."""
    dataset = phase.dataset(role)
    return settings.datasets_dir / dataset.path if dataset is not None else None
