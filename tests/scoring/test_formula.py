"""The RAIM 2024 formula, worked by hand."""

import pytest

from scoring.formula import RAIM_2024, Formula, Term, formula_from_config
from scoring.report import NonFiniteMetric, build_report


def test_raim_2024_scores_a_typical_image_as_worked_by_hand():
    values = {"psnr": 25.0, "ssim": 0.8, "lpips": 0.2, "dists": 0.15, "niqe": 5.0}
    # 20*25/50 = 10; 15*(0.8-0.5)/0.5 = 9; 20*(1-0.2/0.4) = 10; 40*(1-0.15/0.3) = 20; 30*(1-5/10) = 15
    assert RAIM_2024.score(values) == pytest.approx(64.0)


def test_raim_2024_terms_go_negative_without_clipping():
    values = {"psnr": 10.0, "ssim": 0.25, "lpips": 0.6, "dists": 0.45, "niqe": 15.0}
    # 4 + 15*(-0.25/0.5) = -7.5; 20*(1-1.5) = -10; 40*(1-1.5) = -20; 30*(1-1.5) = -15
    assert RAIM_2024.breakdown(values) == pytest.approx(
        {"psnr": 4.0, "ssim": -7.5, "lpips": -10.0, "dists": -20.0, "niqe": -15.0}
    )
    assert RAIM_2024.score(values) == pytest.approx(-48.5)


def test_raim_2024_identical_images_score_with_pyiqa_psnr_of_80():
    values = {"psnr": 80.0, "ssim": 1.0, "lpips": 0.0, "dists": 0.0, "niqe": 4.0}
    # 32 + 15 + 20 + 40 + 18 = 125 (the 125 'maximum' at PSNR 50 dB and NIQE 0 is exceeded in PSNR)
    assert RAIM_2024.score(values) == pytest.approx(125.0)


def test_formula_mean_of_scores_equals_score_of_means():
    rows = [
        ("a", {"psnr": 20.0, "ssim": 0.6, "lpips": 0.3, "dists": 0.2, "niqe": 6.0}),
        ("b", {"psnr": 30.0, "ssim": 0.9, "lpips": 0.1, "dists": 0.1, "niqe": 3.0}),
    ]
    report = build_report(rows, RAIM_2024)
    assert report.mean["score"] == pytest.approx(RAIM_2024.score(report.mean))


def test_formula_from_config_reads_inline_terms_and_names_bad_keys():
    formula = formula_from_config(
        {"name": "psnr-only", "terms": [{"metric": "psnr", "weight": 1, "scale": 1}]}
    )
    assert formula.score({"psnr": 31.5}) == 31.5
    with pytest.raises(ValueError, match="term 0: unknown key"):
        formula_from_config({"terms": [{"metric": "psnr", "weight": 1, "scale": 1, "wieght": 2}]})
    with pytest.raises(ValueError, match="unknown formula 'raim-2030'"):
        formula_from_config("raim-2030")


def test_formula_round_trips_through_a_dict():
    assert Formula.from_dict(RAIM_2024.to_dict()) == RAIM_2024


def test_term_refuses_a_zero_scale():
    with pytest.raises(ValueError, match="scale"):
        Term("psnr", 1, 0)


def test_report_refuses_non_finite_values_naming_image_and_metric():
    with pytest.raises(NonFiniteMetric, match="007: niqe"):
        build_report(
            [
                (
                    "007",
                    {"psnr": 20.0, "ssim": 0.6, "lpips": 0.3, "dists": 0.2, "niqe": float("nan")},
                )
            ],
            RAIM_2024,
        )
