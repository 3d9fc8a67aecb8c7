"""Blind image bytes: any source image decoded and re-encoded as a bare PNG, cached on disk.

Decoding follows the scorer (``metrics.images.decode``: 8-bit RGB, alpha dropped), and the
PNG is written from the pixel array alone, so no text chunk, EXIF, ICC profile, time stamp
or original file name survives. Cache files are named by a hash of where the image came
from and live under RAIM_DATA_DIR/judging/cache; they are only ever read back by the server.
"""

from __future__ import annotations

import hashlib
import io
import os
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from PIL import Image

from app.config import get_settings
from app.judging.models import Campaign, Entry
from app.models import Submission
from app.storage import upload_file
from metrics.images import IMAGE_SUFFIXES, ImageSet, decode

# What an organiser may look at beside a submitted image in the inspector.
INSPECT_ROLES = ("result", "input", "ground_truth")


class ImageMissing(LookupError):
    """The source set has no image with the requested stem."""


@dataclass(frozen=True)
class ImageSource:
    """What an opaque image token stands for: an input image or a finalist's result."""

    campaign: Campaign
    image: str
    entry: Entry | None  # None for the input


def bare_png(data: bytes, name: str = "image") -> bytes:
    """The image's pixels as a PNG with no metadata at all."""
    out = io.BytesIO()
    Image.fromarray(decode(data, name)).save(out, format="PNG", optimize=False)
    return out.getvalue()


def read_stem(source: Path, stem: str) -> bytes:
    """The bytes of the image file with this stem in a folder or zip."""
    images = ImageSet(source, "images")
    try:
        for name in images.names():
            path = PurePosixPath(name)
            if path.stem == stem and path.suffix.lower() in IMAGE_SUFFIXES:
                return images.read(name)
    finally:
        images.close()
    raise ImageMissing(f"no image named {stem}.* in {source.name}")


def cache_dir() -> Path:
    return get_settings().data_dir / "judging" / "cache"


def blind_image(source: Path, stem: str, key: str) -> bytes:
    """The bare PNG of ``stem`` in ``source``, made once per ``key``, then read from the cache."""
    digest = hashlib.sha256(key.encode("utf-8")).hexdigest()
    path = cache_dir() / digest[:2] / f"{digest}.png"
    if path.exists():
        return path.read_bytes()
    data = bare_png(read_stem(source, stem), stem)
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(f".{os.getpid()}.part")
    partial.write_bytes(data)
    os.replace(partial, path)
    return data


def source_image(source: ImageSource) -> bytes:
    """The blind PNG behind a judge's token: an input image, or a finalist's result."""
    settings = get_settings()
    if source.entry is None:
        dataset = source.campaign.phase.dataset("inputs")
        if dataset is None:
            raise ImageMissing("the phase has no inputs")
        path, key = settings.datasets_dir / dataset.path, f"input:{dataset.fingerprint}"
    else:
        sub = source.entry.submission
        path, key = upload_file(settings, sub.upload_path), _upload_key(sub)
    return blind_image(path, source.image, f"{key}:{source.image}")


def submission_image(sub: Submission, role: str, stem: str) -> bytes:
    """For organisers: a submitted image (``result``), its ``input`` or its ``ground_truth``."""
    settings = get_settings()
    if role == "result":
        path, key = upload_file(settings, sub.upload_path), _upload_key(sub)
    else:
        dataset = sub.phase.dataset("inputs" if role == "input" else "ground_truth")
        if dataset is None:
            raise ImageMissing(f"phase {sub.phase.slug} has no {role.replace('_', ' ')}")
        path, key = settings.datasets_dir / dataset.path, f"{role}:{dataset.fingerprint}"
    return blind_image(path, stem, f"{key}:{stem}")


def image_stems(source: Path) -> list[str]:
    """The stems of the image files in a folder or zip, sorted."""
    images = ImageSet(source, "images")
    try:
        return sorted(PurePosixPath(n).stem for n in images.names()
                      if PurePosixPath(n).suffix.lower() in IMAGE_SUFFIXES)
    finally:
        images.close()


def _upload_key(sub: Submission) -> str:
    return f"submission:{sub.upload_sha256}:{sub.id}"
