"""Unpacks a challenge bundle uploaded as a zip into a folder, by the rules submissions follow.

The zip is read through ``metrics.archive``, the one reader of submissions too: safe names in
any spelling, no duplicates, no links, every member's bytes counted as they are produced (at
most ``max_bytes`` in all), every decompression error a problem naming the member. Image files
are read like images (``metrics.images.image_cap``): cut off past what their header allows,
and refused at once when their first bytes are no image's or declare more than the pixel cap,
unless the whole file is in those first bytes: a small broken image is unpacked as it is, for
the bundle check (``app.bundles.check``) to report with every other problem.
"""

from __future__ import annotations

import shutil
import zipfile
from pathlib import Path, PurePosixPath

from app.bundles.schema import BUNDLE_FILE
from metrics.archive import Cap, HeadCheck, Limits, ZipReader
from metrics.images import IMAGE_SUFFIXES, image_cap
from metrics.problems import InvalidInput, Problem

_LABEL = "the zip"  # how problems of the archive as a whole name it


class UnsafeBundle(ValueError):
    """The archive cannot be unpacked; ``problems`` names every offending entry."""

    def __init__(self, problems: list[str]):
        self.problems = problems
        super().__init__("; ".join(problems))


def _described(problems: list[Problem]) -> list[str]:
    return [p.message if p.file == _LABEL else str(p) for p in problems]


def _image_cap(name: str, max_pixels: int | None) -> HeadCheck:
    check = image_cap(name, max_pixels)

    def lenient(head: bytes, complete: bool) -> Cap | None:
        try:
            return check(head, complete)
        except InvalidInput:
            if complete:
                return Cap(len(head), "")
            raise

    return lenient


def bundle_root(folder: Path) -> Path:
    """The folder holding challenge.yaml: the top, or its single sub-folder (zipped folders)."""
    if (folder / BUNDLE_FILE).is_file():
        return folder
    children = [p for p in folder.iterdir() if p.name != "__MACOSX"]
    if len(children) == 1 and children[0].is_dir() and (children[0] / BUNDLE_FILE).is_file():
        return children[0]
    return folder


def unpack_bundle(archive_path: Path, target: Path, *, max_bytes: int,
                  max_pixels: int | None = None) -> Path:
    """Unpack into ``target`` (created) and return the bundle's root folder.

    Raises UnsafeBundle listing every problem, and leaves ``target`` absent, for a file that
    is not a zip, unsafe or clashing names, links, encrypted members or unsupported methods,
    corrupt data, image files larger than their header allows, or more than ``max_bytes``
    once unpacked. Hidden files and ``__MACOSX`` are skipped.
    """
    if not zipfile.is_zipfile(archive_path):
        raise UnsafeBundle(["the upload is not a zip file"])
    reader = ZipReader(archive_path, Limits(member_bytes=max_bytes, total_bytes=max_bytes),
                       _LABEL)
    if reader.problems:
        raise UnsafeBundle(_described(reader.problems))
    problems: list[Problem] = []
    target.mkdir(parents=True, exist_ok=True)
    for name in reader.names():
        is_image = PurePosixPath(name).suffix.lower() in IMAGE_SUFFIXES
        try:
            reader.extract(name, target / name, _image_cap(name, max_pixels) if is_image else None)
        except InvalidInput as exc:
            problems.extend(exc.problems)
            if reader.exhausted:
                break
    if problems:
        shutil.rmtree(target, ignore_errors=True)
        raise UnsafeBundle(_described(problems))
    return bundle_root(target)
