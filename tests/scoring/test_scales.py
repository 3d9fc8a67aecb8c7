"""Per-judge z-scores and the common scales over finalists (band included), worked by hand."""

import math

import numpy as np
import pytest

from scoring.scales import (
    band_scale,
    check_band,
    common_scale,
    common_scale_map,
    zscore_per_judge,
)


def test_zscore_per_judge_as_worked_by_hand():
    # row 1: 2, 4, 6 -> mean 4, sample std 2 -> -1, 0, 1; row 2 does not vary -> 0, 0, (unrated)
    z = zscore_per_judge(np.array([[2.0, 4.0, 6.0], [5.0, 5.0, np.nan]]))
    assert z[0].tolist() == pytest.approx([-1.0, 0.0, 1.0])
    assert z[1, :2].tolist() == [0.0, 0.0] and math.isnan(z[1, 2])


def test_common_scale_minmax_rank_and_zscore_as_worked_by_hand():
    values = np.array([60.0, 70.0, 80.0])
    assert common_scale(values, "minmax").tolist() == pytest.approx([0.0, 0.5, 1.0])
    # population std of 60, 70, 80 = sqrt(200/3)
    assert common_scale(values, "zscore").tolist() == pytest.approx(
        [-10 / math.sqrt(200 / 3), 0.0, 10 / math.sqrt(200 / 3)])
    # 80, 80 share ranks 1 and 2 -> 1.5; 60 is 3rd. (3 - r) / 2 -> 0.75, 0.75, 0
    assert common_scale(np.array([60.0, 80.0, 80.0]), "rank").tolist() == pytest.approx(
        [0.0, 0.75, 0.75])


@pytest.mark.parametrize(("method", "expected"), [("minmax", 0.5), ("rank", 0.5), ("zscore", 0.0)])
def test_common_scale_all_equal_scores_get_a_neutral_value(method, expected):
    assert common_scale(np.array([3.0, 3.0, 3.0]), method).tolist() == [expected] * 3
    assert common_scale(np.array([3.0]), method).tolist() == [expected]


def test_common_scale_unknown_method_is_named():
    with pytest.raises(ValueError, match="'median'"):
        common_scale(np.array([1.0, 2.0]), "median")


def test_common_scale_map_keeps_team_names():
    assert common_scale_map({"a": 1.0, "b": 3.0}, "minmax") == {"a": 0.0, "b": 1.0}


def test_band_scale_as_worked_by_hand():
    # counts 6, 3, 2, 1 onto 80-90: 80 + 10 (x - 1) / 5 -> 90, 84, 82, 80
    assert band_scale(np.array([6.0, 3.0, 2.0, 1.0]), (80, 90)).tolist() == pytest.approx(
        [90.0, 84.0, 82.0, 80.0])


def test_band_scale_ties_stay_equal_and_all_equal_sits_in_the_middle():
    assert band_scale(np.array([5.0, 2.0, 5.0]), (80, 90)).tolist() == pytest.approx(
        [90.0, 80.0, 90.0])
    assert band_scale(np.array([3.0, 3.0, 3.0]), (80, 90)).tolist() == [85.0, 85.0, 85.0]
    assert band_scale(np.array([7.0]), (0, 1)).tolist() == [0.5]


def test_common_scale_band_and_none():
    values = np.array([100.0, 90.0, 80.0])
    assert common_scale(values, "band", band=(80, 90)).tolist() == pytest.approx([90, 85, 80])
    assert common_scale(values, "none").tolist() == [100.0, 90.0, 80.0]
    assert common_scale_map({"A": 2.0, "B": 4.0}, "band", band=(0, 10)) == {"A": 0.0, "B": 10.0}


@pytest.mark.parametrize(("band", "message"), [
    (None, "needs a band"), ((90, 80), "low < high"), ((80, 80), "low < high"),
    ((80, float("inf")), "finite"), (("a", "b"), "two numbers"), ((1, 2, 3), "two numbers"),
])
def test_check_band_refuses_what_is_not_a_band(band, message):
    with pytest.raises(ValueError, match=message):
        check_band(band)
