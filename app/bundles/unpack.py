"""Unpacks a challenge bundle uploaded as a zip, refusing unsafe archives, into a folder."""

from __future__ import annotations

import stat
import zipfile
from pathlib import Path, PurePosixPath
from typing import BinaryIO

from app.bundles.schema import BUNDLE_FILE

MAX_MEMBERS = 100_000
CHUNK = 1024 * 1024


class UnsafeBundle(ValueError):
    """The archive cannot be unpacked; ``problems`` names every offending entry."""

    def __init__(self, problems: list[str]):
        self.problems = problems
        super().__init__("; ".join(problems))


def _problems(archive: zipfile.ZipFile, max_bytes: int) -> list[str]:
    problems: list[str] = []
    members = archive.infolist()
    if len(members) > MAX_MEMBERS:
        problems.append(f"the zip holds {len(members):,} entries; the limit is {MAX_MEMBERS:,}")
    total = 0
    for info in members:
        path = PurePosixPath(info.filename)
        escapes = path.is_absolute() or ".." in path.parts
        if escapes or "\\" in info.filename or ":" in info.filename:
            problems.append(f"{info.filename}: a path outside the bundle folder")
        if stat.S_ISLNK(info.external_attr >> 16):
            problems.append(f"{info.filename}: symbolic links are not allowed")
        total += info.file_size
    if total > max_bytes:
        problems.append(f"the zip unpacks to {total:,} bytes; the limit is {max_bytes:,}")
    return problems


def bundle_root(folder: Path) -> Path:
    """The folder holding challenge.yaml: the top, or its single sub-folder (zipped folders)."""
    if (folder / BUNDLE_FILE).is_file():
        return folder
    children = [p for p in folder.iterdir() if p.name != "__MACOSX"]
    if len(children) == 1 and children[0].is_dir() and (children[0] / BUNDLE_FILE).is_file():
        return children[0]
    return folder


def unpack_bundle(archive_path: Path, target: Path, *, max_bytes: int) -> Path:
    """Unpack into ``target`` (created) and return the bundle's root folder.

    Raises UnsafeBundle, writing nothing, for a file that is not a zip, paths that escape
    the folder, symbolic links, or more than ``max_bytes`` once unpacked.
    """
    if not zipfile.is_zipfile(archive_path):
        raise UnsafeBundle(["the upload is not a zip file"])
    with zipfile.ZipFile(archive_path) as archive:
        problems = _problems(archive, max_bytes)
        if problems:
            raise UnsafeBundle(problems)
        target.mkdir(parents=True, exist_ok=True)
        budget = max_bytes
        for info in archive.infolist():
            out = target / info.filename
            if info.is_dir():
                out.mkdir(parents=True, exist_ok=True)
                continue
            out.parent.mkdir(parents=True, exist_ok=True)
            with archive.open(info) as src, out.open("wb") as dst:
                budget = _copy(src, dst, budget, info.filename)
    return bundle_root(target)


def _copy(src: BinaryIO, dst: BinaryIO, budget: int, name: str) -> int:
    """Copy in chunks, counting real bytes (a zip may understate its sizes)."""
    while chunk := src.read(CHUNK):
        budget -= len(chunk)
        if budget < 0:
            raise UnsafeBundle([f"{name}: the zip unpacks to more than its declared size allows"])
        dst.write(chunk)
    return budget
