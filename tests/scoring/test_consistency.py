"""Repeated-trial consistency per judge, worked by hand."""

import pytest

from scoring.consistency import judge_consistency
from scoring.ratings import RepeatPair


def test_judge_consistency_as_worked_by_hand():
    pairs = [RepeatPair("ann", "i1", "A", 7, 8), RepeatPair("ann", "i2", "A", 5, 5),
             RepeatPair("ann", "i3", "B", 3, 1)]
    # |7-8| + |5-5| + |3-1| = 3 over 3 pairs -> 1.0
    # first 7,5,3 (mean 5): dx = 2, 0, -2; again 8,5,1 (mean 14/3): dy = 10/3, 1/3, -11/3
    # sum dx*dy = 20/3 + 22/3 = 14; sum dx^2 = 8; sum dy^2 = 222/9 -> r = 14 / sqrt(8 * 222/9)
    (ann,) = judge_consistency(["ann"], pairs)
    assert ann.pairs == 3
    assert ann.mean_abs_diff == pytest.approx(1.0)
    assert ann.correlation == pytest.approx(14 / (8 * 222 / 9) ** 0.5)


def test_judge_consistency_without_enough_pairs_has_no_correlation():
    one = [RepeatPair("ann", "i1", "A", 7, 4)]
    ann, bob = judge_consistency(["ann", "bob"], one)
    assert (ann.pairs, ann.mean_abs_diff, ann.correlation) == (1, 3.0, None)
    assert (bob.pairs, bob.mean_abs_diff, bob.correlation) == (0, None, None)


def test_judge_consistency_constant_scores_have_no_correlation():
    flat = [RepeatPair("ann", f"i{k}", "A", 5, 5 + k) for k in range(3)]
    assert judge_consistency(["ann"], flat)[0].correlation is None
