"""Unpaired uploads paired against the phase's inputs (``pair_images(..., inputs=)``): names, sizes."""

from __future__ import annotations

import zipfile
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from metrics.images import ImageSet, InvalidInput, Problem, pair_images


def check_unpaired_submission(upload: Path, inputs: Path, *, max_pixels: int,
                              check_sizes: bool = True) -> list[Problem]:
    """Every problem of ``upload`` against ``inputs``, as pair_images reports them."""
    try:
        pair_images(ImageSet(upload, "prediction"), None, inputs=ImageSet(inputs, "inputs"),
                    max_pixels=max_pixels, check_sizes=check_sizes)
    except InvalidInput as exc:
        return exc.problems
    return []


def _png(path: Path, width: int, height: int) -> Path:
    Image.fromarray(np.zeros((height, width, 3), dtype=np.uint8)).save(path)
    return path


def _inputs(tmp_path: Path) -> Path:
    folder = tmp_path / "inputs"
    folder.mkdir()
    _png(folder / "001.png", 32, 32)
    _png(folder / "002.jpg".replace(".jpg", ".png"), 48, 32)
    return folder


def _zip(tmp_path: Path, members: dict[str, tuple[int, int]]) -> Path:
    scratch = tmp_path / "scratch"
    scratch.mkdir(exist_ok=True)
    archive = tmp_path / "upload.zip"
    with zipfile.ZipFile(archive, "w") as z:
        for name, (w, h) in members.items():
            z.write(_png(scratch / name.replace("/", "_"), w, h), name)
    return archive


def test_check_unpaired_submission_accepts_matching_upload(tmp_path: Path) -> None:
    upload = _zip(tmp_path, {"001.png": (32, 32), "002.png": (48, 32)})
    assert check_unpaired_submission(upload, _inputs(tmp_path), max_pixels=10**6) == []


def test_check_unpaired_submission_lists_every_problem(tmp_path: Path) -> None:
    upload = _zip(tmp_path, {"001.png": (64, 64), "003.png": (32, 32)})
    problems = check_unpaired_submission(upload, _inputs(tmp_path), max_pixels=10**6)
    messages = {p.file: p.message for p in problems}
    assert messages["002.*"].startswith("missing: the phase has an input named 002.png")
    assert messages["003.png"].startswith("extra file")
    assert messages["001.png"] == "size 64x64 differs from the input 001.png (32x32)"


def test_check_unpaired_submission_sizes_optional(tmp_path: Path) -> None:
    upload = _zip(tmp_path, {"001.png": (64, 64), "002.png": (48, 32)})
    assert check_unpaired_submission(upload, _inputs(tmp_path), max_pixels=10**6,
                                     check_sizes=False) == []


def test_pair_images_with_inputs_pairs_carry_no_ground_truth(tmp_path: Path) -> None:
    upload = _zip(tmp_path, {"001.png": (32, 32), "002.png": (48, 32)})
    checked = pair_images(ImageSet(upload, "prediction"), None,
                          inputs=ImageSet(_inputs(tmp_path), "inputs"), max_pixels=10**6)
    assert [(p.name, p.gt) for p in checked.pairs] == [("001", None), ("002", None)]


def test_pair_images_refuses_ground_truth_and_inputs_together(tmp_path: Path) -> None:
    images = ImageSet(_inputs(tmp_path), "inputs")
    with pytest.raises(ValueError, match="not both"):
        pair_images(images, images, inputs=images, max_pixels=10**6)
