"""A phase's own formula and stages in challenge.yaml: parsed, checked, stored, and how a
phase's formula is chosen."""

import shutil
from types import SimpleNamespace

import pytest
from sqlalchemy import select

from app.bundles import check, load, schema
from app.db import session_scope
from app.evaluation import phase_formula
from app.models import Challenge
from scoring.formula import RAIM_2024, RAIM_2026_FUSION
from tests.utils.bundles import DEFAULT_YAML, write_bundle

MINIMAL = """\
slug: mini
title: Mini
phases:
  - slug: dev
    inputs: lq
    ground_truth: gt
"""
STAGED = DEFAULT_YAML.replace("    rank_by: best\n", "    rank_by: best\n"
                              "    formula: raim-2026-fusion\n"
                              "    stages: [stage1, stage2]\n")


def _problems(text):
    with pytest.raises(schema.BundleError) as caught:
        schema.parse_spec(text)
    return caught.value.problems


def _staged_bundle(root, samples):
    """The default bundle with the validation phase's images split into two stage folders."""
    root = write_bundle(root, samples, yaml_text=STAGED)
    for folder in ("lq", "gt"):
        base = root / "validation" / folder
        for stage, names in (("stage1", ["001.png"]), ("stage2", ["002.png", "003.png"])):
            (base / stage).mkdir()
            for name in names:
                shutil.move(base / name, base / stage / name)
    return root


def test_a_phase_names_its_own_formula_and_stages():
    spec = schema.parse_spec(MINIMAL + "    formula: raim-2026-fusion\n"
                                       "    stages: [stage1, stage2]\n")
    phase = spec.phases[0]
    assert spec.formula == RAIM_2024.to_dict()
    assert phase.formula == RAIM_2026_FUSION.to_dict()
    assert phase.stages == ["stage1", "stage2"]
    assert schema.parse_spec(MINIMAL).phases[0].formula is None


def test_formula_options_inline_are_checked_with_the_key_path():
    problems = _problems(MINIMAL + "    formula:\n      terms: [{metric: psnr, weight: 1, "
                                   "scale: 50}]\n      color: ycbcr\n")
    assert problems == ["challenge.yaml: phases[0].formula: formula color must be one of y, "
                        "rgb, got 'ycbcr'"]
    problems = _problems(MINIMAL.replace("phases:", "formula:\n  terms: [{metric: psnr, "
                                         "weight: 1, scale: 50}]\n  stages: [a, b]\nphases:"))
    assert problems == ["challenge.yaml: formula: stages are a phase key (phases[i].stages), "
                        "not a formula option"]
    assert _problems(MINIMAL + "    stages: [s1, s1]\n") == [
        "challenge.yaml: phases[0].stages: each stage is listed once (got ['s1', 's1'])"]


def test_phase_formula_is_the_phases_own_else_the_challenges_with_its_stages():
    challenge = SimpleNamespace(formula=RAIM_2024.to_dict())
    own = SimpleNamespace(challenge=challenge, formula=RAIM_2026_FUSION.to_dict(),
                          stages=["stage1", "stage2"])
    assert phase_formula(own) == RAIM_2026_FUSION.with_stages(("stage1", "stage2"))
    inherited = SimpleNamespace(challenge=challenge, formula=None, stages=None)
    assert phase_formula(inherited) == RAIM_2024


def test_a_staged_bundle_loads_with_its_phase_formula_and_stages(migrated, tmp_path, sample_set,
                                                                  settings):
    root = _staged_bundle(tmp_path / "b", sample_set)
    load.install_bundle(root)
    with session_scope() as s:
        validation, final = s.scalar(select(Challenge)).phases
        assert validation.formula == RAIM_2026_FUSION.to_dict()
        assert validation.stages == ["stage1", "stage2"]
        assert (final.formula, final.stages) == (None, None)
        copied = settings.datasets_dir / validation.dataset("ground_truth").path
        assert sorted(p.relative_to(copied).as_posix() for p in copied.rglob("*.png")) == [
            "stage1/001.png", "stage2/002.png", "stage2/003.png"]
        assert phase_formula(validation).stages == ("stage1", "stage2")


def test_a_staged_bundle_names_images_outside_the_stages_and_empty_stages(tmp_path, sample_set,
                                                                          settings):
    root = _staged_bundle(tmp_path / "b", sample_set)
    shutil.move(root / "validation" / "gt" / "stage1" / "001.png",
                root / "validation" / "gt" / "001.png")
    with pytest.raises(schema.BundleError) as caught:
        check.read_bundle(root, max_pixels=settings.max_pixels)
    problems = caught.value.problems
    assert "validation/gt/stage1: no images in this stage's folder (stages: stage1, stage2)" \
        in problems
    assert ("validation/gt/001.png: outside the stage folders of the ground truth (each image "
            "lies in one of: stage1, stage2)") in problems
    assert ("validation/lq/stage1/001.png: no ground-truth image named stage1/001.* in "
            "validation/gt") in problems
    assert len(problems) == 3
