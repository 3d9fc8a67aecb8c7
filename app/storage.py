"""Where stored files live: uploads and image sets under RAIM_DATA_DIR, and zips of image sets.

Rows store paths relative to RAIM_DATA_DIR (uploads) or RAIM_DATA_DIR/datasets (image sets),
so every machine sharing the data folder finds the same files. ``set_zip`` builds the zip of an
image set once (a phase's inputs for teams; its ground truth for remote workers) and serves it
from RAIM_DATA_DIR/cache afterwards, with its sha256.
"""

from __future__ import annotations

import hashlib
import os
import secrets
import zipfile
from dataclasses import dataclass
from pathlib import Path

from app.config import Settings
from app.models import Dataset, Phase

HASH_CHUNK = 1024 * 1024


def upload_file(settings: Settings, upload_path: str) -> Path:
    """The stored upload of a submission (``Submission.upload_path``)."""
    return settings.data_dir / upload_path


def remove_uploads(settings: Settings, upload_paths: list[str]) -> None:
    """Delete stored uploads whose rows are gone (committed); a file already gone is fine."""
    for path in upload_paths:
        upload_file(settings, path).unlink(missing_ok=True)


def dataset_dir(settings: Settings, phase: Phase, role: str) -> Path | None:
    """The folder of the phase's ``inputs`` or ``ground_truth``; None when it has none."""
    dataset = phase.dataset(role)
    return settings.datasets_dir / dataset.path if dataset is not None else None


def zip_cache_dir(settings: Settings) -> Path:
    return settings.data_dir / "cache"


@dataclass(frozen=True)
class ZippedSet:
    path: Path
    sha256: str
    size: int


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(HASH_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def set_zip(folder: Path, fingerprint: str, cache_dir: Path, role: str = "inputs") -> ZippedSet:
    """The zip of every file under ``folder`` (stored, not recompressed: images already are).

    The archive is named by the role and the image set's fingerprint, so a replaced set gets a
    new zip, and concurrent requests never see a half-written one (written aside, then
    renamed); its sha256 is kept beside it (``NAME.sha256``), written the same way.
    """
    if not folder.is_dir():
        raise FileNotFoundError(f"image folder {folder} is missing")
    target = cache_dir / f"{role}-{fingerprint}.zip"
    digest_file = target.with_name(target.name + ".sha256")
    if target.is_file() and digest_file.is_file():
        return ZippedSet(target, digest_file.read_text().strip(), target.stat().st_size)
    cache_dir.mkdir(parents=True, exist_ok=True)
    if not target.is_file():
        _write_aside(target, lambda partial: _zip_folder(folder, partial))
    digest = sha256_of(target)
    _write_aside(digest_file, lambda partial: partial.write_text(digest + "\n"))
    return ZippedSet(target, digest, target.stat().st_size)


def dataset_zip(settings: Settings, dataset: Dataset) -> ZippedSet:
    """The zip of a stored dataset (see ``set_zip``), named by its role, id and fingerprint."""
    return set_zip(settings.datasets_dir / dataset.path, dataset.fingerprint,
                   zip_cache_dir(settings), f"{dataset.role}-{dataset.id}")


def _zip_folder(folder: Path, out: Path) -> None:
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_STORED) as archive:
        for path in sorted(p for p in folder.rglob("*") if p.is_file()):
            archive.write(path, path.relative_to(folder).as_posix())


def _write_aside(target: Path, write) -> None:  # type: ignore[no-untyped-def]
    partial = target.with_name(f".{target.name}.{secrets.token_hex(8)}.part")
    try:
        write(partial)
        os.replace(partial, target)
    finally:
        partial.unlink(missing_ok=True)
