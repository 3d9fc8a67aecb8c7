"""Reproduction checks: reproduced outputs compared image by image with the submitted ones."""

from __future__ import annotations

import math
import zipfile
from pathlib import Path

import cv2
import numpy as np
import pytest

from app.reproduction import Thresholds, compare, psnr
from metrics.problems import InvalidInput

DEFAULT = Thresholds(min_psnr=40.0, max_diff=4)


def _images(count: int = 5, size: int = 48) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(7)
    return {f"{i:03d}": rng.integers(0, 256, (size, size, 3), dtype=np.uint8)
            for i in range(1, count + 1)}


def _zip(path: Path, images: dict[str, np.ndarray], extra: dict[str, bytes] | None = None) -> Path:
    with zipfile.ZipFile(path, "w") as archive:
        for stem, rgb in images.items():
            ok, png = cv2.imencode(".png", cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))
            assert ok
            archive.writestr(f"{stem}.png", png.tobytes())
        for name, data in (extra or {}).items():
            archive.writestr(name, data)
    return path


def test_psnr_of_a_one_level_difference_everywhere_is_20_log10_255() -> None:
    a = np.full((8, 8, 3), 100, np.uint8)
    assert psnr(a, a + 1) == pytest.approx(20 * math.log10(255), rel=1e-6)
    assert math.isinf(psnr(a, a))


def test_one_altered_image_out_of_five_is_flagged(tmp_path: Path) -> None:
    submitted = _images()
    reproduced = {k: v.copy() for k, v in submitted.items()}
    reproduced["003"][10:20, 10:20] = 255 - reproduced["003"][10:20, 10:20]  # a local edit
    reproduced["001"] = np.clip(reproduced["001"].astype(int) + 1, 0, 255).astype(np.uint8)
    result = compare(_zip(tmp_path / "team.zip", submitted, {"factsheet.yaml": b"method: x\n"}),
                     _zip(tmp_path / "ours.zip", reproduced), DEFAULT)
    assert [i.name for i in result.images] == ["001", "002", "003", "004", "005"]
    assert [i.name for i in result.flagged] == ["003"]
    assert not result.passed
    altered = result.flagged[0]
    assert altered.max_diff is not None and altered.max_diff > 4
    assert "differs by" in altered.reason
    one_level = result.images[0]  # +1 everywhere (less where clipped): within a few levels
    assert not one_level.flagged and one_level.max_diff == 1 and one_level.psnr > 48
    assert all(math.isinf(i.psnr) for i in result.images[1:] if i.name != "003")


def test_thresholds_decide_what_is_flagged(tmp_path: Path) -> None:
    submitted = _images(2)
    reproduced = {k: np.clip(v.astype(int) + 2, 0, 255).astype(np.uint8)
                  for k, v in submitted.items()}
    sub, rep = _zip(tmp_path / "s.zip", submitted), _zip(tmp_path / "r.zip", reproduced)
    assert compare(sub, rep, DEFAULT).passed  # 2 levels: about 42.1 dB (20 log10(255/2))
    strict = compare(sub, rep, Thresholds(min_psnr=45.0, max_diff=4))
    assert len(strict.flagged) == 2 and all("PSNR" in i.reason for i in strict.flagged)
    exact = compare(sub, rep, Thresholds(min_psnr=10.0, max_diff=0))
    assert all("differs by 2 levels" in i.reason for i in exact.flagged)


def test_missing_extra_and_resized_images_are_flagged(tmp_path: Path) -> None:
    submitted = _images(3)
    reproduced = {"001": submitted["001"], "002": submitted["002"][:40, :40], "009": submitted["003"]}
    result = compare(_zip(tmp_path / "s.zip", submitted), _zip(tmp_path / "r.zip", reproduced),
                     DEFAULT)
    reasons = {i.name: i.reason for i in result.flagged}
    assert set(reasons) == {"002", "003", "009"}
    assert "size 40x40 differs" in reasons["002"]
    assert reasons["003"] == "missing from the reproduction"
    assert "extra" in reasons["009"]


def test_a_reproduction_that_is_no_zip_of_images_is_refused(tmp_path: Path) -> None:
    sub = _zip(tmp_path / "s.zip", _images(1))
    bad = tmp_path / "r.zip"
    bad.write_bytes(b"not a zip")
    with pytest.raises(InvalidInput):
        compare(sub, bad, DEFAULT)
    with pytest.raises(InvalidInput, match="no images"):
        compare(sub, _zip(tmp_path / "empty.zip", {}, {"notes.txt": b"x"}), DEFAULT)


def test_thresholds_must_be_sensible() -> None:
    with pytest.raises(ValueError, match="min_psnr"):
        Thresholds(min_psnr=-1, max_diff=4)
    with pytest.raises(ValueError, match="max_diff"):
        Thresholds(min_psnr=40, max_diff=300)
