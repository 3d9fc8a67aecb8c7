"""Blind images: pixels kept exactly, every metadata chunk dropped, made once then cached."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import numpy as np
from PIL import Image, PngImagePlugin

from app.config import Settings
from app.judging.blind import ImageMissing, bare_png, blind_image, cache_dir
from metrics.images import decode


def _tagged_png(pixels: np.ndarray) -> bytes:
    info = PngImagePlugin.PngInfo()
    info.add_text("Author", "team secret")
    info.add_itxt("Description", "made by team secret")
    out = io.BytesIO()
    Image.fromarray(pixels).save(out, format="PNG", pnginfo=info)
    return out.getvalue()


def _tagged_jpeg(pixels: np.ndarray) -> bytes:
    exif = Image.Exif()
    exif[0x013B] = "team secret"  # Artist
    out = io.BytesIO()
    Image.fromarray(pixels).save(out, format="JPEG", quality=95, exif=exif.tobytes())
    return out.getvalue()


def test_bare_png_keeps_pixels_and_drops_text_chunks() -> None:
    pixels = np.random.default_rng(0).integers(0, 256, (16, 24, 3), dtype=np.uint8)
    original = _tagged_png(pixels)
    assert b"team secret" in original
    blind = bare_png(original)
    assert b"team secret" not in blind and b"tEXt" not in blind and b"iTXt" not in blind
    assert np.array_equal(decode(blind), pixels)


def test_bare_png_drops_exif_of_jpeg() -> None:
    pixels = np.full((16, 16, 3), 120, dtype=np.uint8)
    original = _tagged_jpeg(pixels)
    assert b"team secret" in original
    blind = bare_png(original)
    assert b"team secret" not in blind and b"eXIf" not in blind
    assert np.array_equal(decode(blind), decode(original))


def test_blind_image_reads_zip_members_by_stem_and_caches(settings: Settings,
                                                          tmp_path: Path) -> None:
    pixels = np.random.default_rng(1).integers(0, 256, (8, 8, 3), dtype=np.uint8)
    archive = tmp_path / "team-secret.zip"
    with zipfile.ZipFile(archive, "w") as z:
        z.writestr("results/001.png", _tagged_png(pixels))
    first = blind_image(archive, "001", "key-1")
    cached = list(cache_dir().rglob("*.png"))
    assert len(cached) == 1 and "secret" not in str(cached[0])
    archive.unlink()  # the second call must come from the cache
    assert blind_image(archive.with_name("gone.zip"), "001", "key-1") == first


def test_blind_image_missing_stem_raises(settings: Settings, tmp_path: Path) -> None:
    folder = tmp_path / "inputs"
    folder.mkdir()
    try:
        blind_image(folder, "404", "key-2")
    except ImageMissing as exc:
        assert "404" in str(exc)
    else:
        raise AssertionError("a missing image must raise ImageMissing")
