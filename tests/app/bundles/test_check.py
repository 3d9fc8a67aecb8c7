"""Checking a bundle folder: image problems by file, paths outside the bundle, a missing YAML."""

import shutil

import pytest

from app.bundles import check, schema
from tests.utils.bundles import DEFAULT_YAML, write_bundle


def test_read_bundle_lists_image_problems_by_file(tmp_path, sample_set, settings):
    root = write_bundle(tmp_path / "b", sample_set)
    (root / "validation" / "gt" / "002.png").unlink()
    (root / "validation" / "lq" / "003.png").write_bytes(b"not an image")
    (root / "validation" / "lq" / "notes.txt").write_text("hello")
    shutil.rmtree(root / "final" / "lq")
    with pytest.raises(schema.BundleError) as caught:
        check.read_bundle(root, max_pixels=settings.max_pixels)
    problems = caught.value.problems
    assert any(p.startswith("validation/lq/003.png: ") and "decodable" in p for p in problems)
    assert any(p.startswith("validation/lq/notes.txt: not an image file") for p in problems)
    assert "validation/lq/002.png: no ground-truth image named 002.* in validation/gt" in problems
    assert "challenge.yaml: phases[1].inputs: 'final/lq' does not exist in " + str(root) \
        in problems
    assert len(problems) == 4


def test_read_bundle_refuses_paths_outside_and_empty_folders(tmp_path, sample_set, settings):
    root = write_bundle(tmp_path / "b", sample_set,
                        yaml_text=DEFAULT_YAML.replace("inputs: final/lq", "inputs: ../elsewhere"))
    (root / "validation" / "empty").mkdir()
    (root / "challenge.yaml").write_text((root / "challenge.yaml").read_text()
                                         .replace("ground_truth: validation/gt",
                                                  "ground_truth: validation/empty"))
    with pytest.raises(schema.BundleError) as caught:
        check.read_bundle(root, max_pixels=settings.max_pixels)
    problems = caught.value.problems
    assert "challenge.yaml: phases[1].inputs: '../elsewhere' must be a path inside the " \
           "bundle folder" in problems
    assert any(p.startswith("validation/empty: no images found") for p in problems)


def test_read_bundle_needs_challenge_yaml(tmp_path, settings):
    with pytest.raises(schema.BundleError, match="challenge.yaml: not found"):
        check.read_bundle(tmp_path, max_pixels=settings.max_pixels)
