"""Zips of a phase's published inputs, built once per image set and then served from a cache."""

from __future__ import annotations

import os
import secrets
import zipfile
from pathlib import Path


def inputs_zip(folder: Path, fingerprint: str, cache_dir: Path) -> Path:
    """The zip of every file under ``folder`` (stored, not recompressed: images already are).

    The archive is named by the image set's fingerprint, so a replaced set gets a new zip
    and concurrent requests never see a half-written one (written aside, then renamed).
    """
    if not folder.is_dir():
        raise FileNotFoundError(f"image folder {folder} is missing")
    target = cache_dir / f"inputs-{fingerprint}.zip"
    if target.is_file():
        return target
    cache_dir.mkdir(parents=True, exist_ok=True)
    partial = cache_dir / f".{target.name}.{secrets.token_hex(8)}.part"
    try:
        with zipfile.ZipFile(partial, "w", compression=zipfile.ZIP_STORED) as archive:
            for path in sorted(p for p in folder.rglob("*") if p.is_file()):
                archive.write(path, path.relative_to(folder).as_posix())
        os.replace(partial, target)
    finally:
        partial.unlink(missing_ok=True)
    return target
