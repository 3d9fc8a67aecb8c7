"""Screening best-k judges: panel agreement and repeated images, worked by hand."""

import math

import pytest

from scoring.picks import PicksTable, PickTrial
from scoring.picks_screening import panel_agreement, repeat_consistency


def one_image(picks: dict[str, str]) -> PicksTable:
    return PicksTable.from_trials([PickTrial(j, "i1", (p,)) for j, p in picks.items()], k=1,
                                  teams="ABC")


def test_panel_agreement_as_worked_by_hand():
    # best 1 of 3; J1, J2, J3 pick A, J4 picks C.
    # J1 against J2, J3, J4 (n = 3): c = A 2, B 0, C 1, q = 2/3, 0, 1/3
    #   observed q[A] = 2/3; chance mean(q) = 1/3; panel sum c(c-1)/(n(n-1)) = 2/6 = 1/3
    #   variance sum q^3 (1 - q) = 8/81 + 2/81 = 10/81 -> z = (1/3) / sqrt(10/81) = 3/sqrt(10)
    #   index: panel = chance, no preference to measure against -> None
    # J4 against J1..J3: c = A 3 -> q = 1, 0, 0; observed q[C] = 0; panel 6/6 = 1; chance 1/3
    #   the others were unanimous (variance 0) and J4 departs: z = -inf; index (0 - 1/3)/(2/3)
    j1, _, _, j4 = panel_agreement(one_image({"J1": "A", "J2": "A", "J3": "A", "J4": "C"}))
    assert (j1.images, j1.observed, j1.chance, j1.panel) == (
        1, pytest.approx(2 / 3), pytest.approx(1 / 3), pytest.approx(1 / 3))
    assert j1.z == pytest.approx(3 / math.sqrt(10)) and j1.index is None
    assert (j4.observed, j4.panel, j4.chance) == (0.0, pytest.approx(1.0), pytest.approx(1 / 3))
    assert j4.z == -math.inf and j4.index == pytest.approx(-0.5)
    assert "z = -inf < -2.326" in j4.reason(2.326)


def test_panel_agreement_needs_two_other_judges_on_an_image():
    (a, b) = panel_agreement(one_image({"J1": "A", "J2": "B"}))
    assert (a.images, a.z, b.images) == (0, None, 0)


def test_repeat_consistency_as_worked_by_hand():
    # best 2 of 4: first A, B then A, C -> overlap 1/2; chance 2/4
    trials = [PickTrial("j1", "i1", ("A", "B")), PickTrial("j1", "i1", ("A", "C"), repeat=1),
              PickTrial("j1", "i2", ("C", "D")), PickTrial("j1", "i2", ("D", "C"), repeat=1),
              PickTrial("j2", "i1", ("A", "B"))]
    j1, j2 = repeat_consistency(PicksTable.from_trials(trials, k=2, teams="ABCD"))
    assert (j1.pairs, j1.overlap, j1.chance) == (2, pytest.approx(0.75), pytest.approx(0.5))
    assert (j2.pairs, j2.overlap, j2.chance) == (0, None, None)
