"""Formula options (crop, colour, size policy, stages) and RAIM 2026 Track 2, worked by hand."""

import pytest

from scoring.formula import (
    NAMED_FORMULAS,
    RAIM_2024,
    RAIM_2026_FUSION,
    Formula,
    Term,
    formula_from_config,
)
from scoring.report import build_report


def test_raim_2026_fusion_scores_a_typical_image_as_worked_by_hand():
    values = {"psnr": 25.0, "ssim": 0.8, "lpips": 0.2}
    # 30*25/50 = 15; 22.5*(0.8-0.5)/0.5 = 13.5; 30*(1-0.2/0.4) = 15
    assert RAIM_2026_FUSION.breakdown(values) == pytest.approx(
        {"psnr": 15.0, "ssim": 13.5, "lpips": 15.0})
    assert RAIM_2026_FUSION.score(values) == pytest.approx(43.5)
    # Perfect SSIM and LPIPS, PSNR 50: the track's 82.5 maximum.
    assert RAIM_2026_FUSION.score({"psnr": 50.0, "ssim": 1.0, "lpips": 0.0}) == pytest.approx(82.5)


def test_raim_2026_fusion_reads_rgb_without_crop_and_resizes():
    assert RAIM_2026_FUSION.metrics == ("psnr", "ssim", "lpips")
    assert (RAIM_2026_FUSION.crop, RAIM_2026_FUSION.color, RAIM_2026_FUSION.size_mismatch) == (
        0, "rgb", "resize")
    assert formula_from_config("raim-2026-fusion") is RAIM_2026_FUSION
    assert set(NAMED_FORMULAS) == {"raim-2024", "raim-2026-fusion"}


def test_raim_2024_keeps_its_defaults_and_its_stored_dict():
    assert (RAIM_2024.crop, RAIM_2024.color, RAIM_2024.size_mismatch, RAIM_2024.stages) == (
        4, "y", "reject", ())
    assert set(RAIM_2024.to_dict()) == {"name", "terms"}  # as stored before options existed


def test_options_round_trip_through_the_stored_dict():
    stored = RAIM_2026_FUSION.to_dict()
    assert {k: stored[k] for k in ("crop", "color", "size_mismatch")} == {
        "crop": 0, "color": "rgb", "size_mismatch": "resize"}
    assert Formula.from_dict(stored) == RAIM_2026_FUSION
    staged = RAIM_2026_FUSION.with_stages(["stage1", "stage2"])
    assert staged.to_dict()["stages"] == ["stage1", "stage2"]
    assert Formula.from_dict(staged.to_dict()) == staged


def test_an_inline_formula_takes_options_and_refuses_bad_ones_naming_them():
    psnr_rgb = formula_from_config({"terms": [{"metric": "psnr", "weight": 1, "scale": 1}],
                                    "color": "rgb", "crop": 2})
    assert (psnr_rgb.crop, psnr_rgb.color, psnr_rgb.size_mismatch) == (2, "rgb", "reject")
    terms = [{"metric": "psnr", "weight": 1, "scale": 1}]
    with pytest.raises(ValueError, match="color must be one of y, rgb, got 'ycbcr'"):
        formula_from_config({"terms": terms, "color": "ycbcr"})
    with pytest.raises(ValueError, match="size_mismatch must be one of reject, resize"):
        formula_from_config({"terms": terms, "size_mismatch": "pad"})
    with pytest.raises(ValueError, match="crop must be a whole number of pixels >= 0"):
        formula_from_config({"terms": terms, "crop": -1})
    with pytest.raises(ValueError, match="unknown key"):
        formula_from_config({"terms": terms, "colour": "rgb"})


def test_two_stages_score_the_mean_of_the_stage_means_worked_by_hand():
    f = Formula("psnr", (Term("psnr", 1, 1),), stages=("stage1", "stage2"))
    rows = [("stage1/001", {"psnr": 30.0}), ("stage1/002", {"psnr": 20.0}),
            ("stage2/001", {"psnr": 10.0})]
    report = build_report(rows, f)
    # stage1: (30 + 20)/2 = 25; stage2: 10; mean of stages (25 + 10)/2 = 17.5 (images: 20)
    assert report.stage_means == {"stage1": {"psnr": 25.0, "score": 25.0, "images": 2},
                                  "stage2": {"psnr": 10.0, "score": 10.0, "images": 1}}
    assert report.mean == {"psnr": 17.5, "score": 17.5}
    assert report.to_json()["stages"]["stage1"]["images"] == 2
    assert "stages" not in build_report(rows, f.with_stages(())).to_json()


def test_a_resized_image_is_named_in_its_row_and_only_there():
    f = Formula("psnr", (Term("psnr", 1, 1),))
    report = build_report([("001", {"psnr": 30.0}), ("002", {"psnr": 20.0})], f,
                          {"002": "1000x998"})
    assert report.images == [{"name": "001", "psnr": 30.0, "score": 30.0},
                             {"name": "002", "psnr": 20.0, "score": 20.0,
                              "resized_from": "1000x998"}]
