"""ITU-R BT.500 observer screening against values worked by hand, and a planted erratic judge."""

import math

import numpy as np
import pytest

from scoring.screening import screen_observers, stimulus_spread
from tests.scoring.studies import HAND_JUDGES, hand_table, synthetic_table


def test_stimulus_spread_normal_stimulus_as_worked_by_hand():
    # 6 (x6), 8 (x3), 10: mean 70/10 = 7; deviations -1 (x6), +1 (x3), +3.
    # sum of squares 6 + 3 + 9 = 18 -> S = sqrt(18/9) = sqrt(2)
    # m2 = 18/10 = 1.8; m4 = (6 + 3 + 81)/10 = 9; beta2 = 9/1.8^2 = 25/9 = 2.78 -> normal
    # threshold 2 S = 2.83, so the 10 (3 above the mean) is an outlier
    spread = stimulus_spread(np.array([6, 6, 6, 6, 6, 6, 8, 8, 8, 10], dtype=float))
    assert spread.mean == pytest.approx(7.0)
    assert spread.std == pytest.approx(math.sqrt(2))
    assert spread.kurtosis == pytest.approx(25 / 9)
    assert spread.normal is True
    assert spread.threshold == pytest.approx(2 * math.sqrt(2))


def test_stimulus_spread_peaked_stimulus_uses_sqrt_20():
    # 5 (x8), 3, 7: mean 5; sum of squares 8 -> S = sqrt(8/9) = 0.943
    # m2 = 8/10 = 0.8; m4 = 32/10 = 3.2; beta2 = 3.2/0.64 = 5 -> not normal
    # threshold sqrt(20) S = sqrt(160/9) = 4.22: the 3 and the 7 (2 away, beyond 2 S = 1.89)
    # do not count
    spread = stimulus_spread(np.array([5, 5, 5, 5, 5, 5, 5, 3, 7, 5], dtype=float))
    assert spread.kurtosis == pytest.approx(5.0)
    assert spread.normal is False
    assert spread.threshold == pytest.approx(math.sqrt(160 / 9))


def test_stimulus_spread_skips_unanimous_and_lone_ratings():
    assert stimulus_spread(np.array([4.0, 4.0, 4.0])).threshold is None
    assert stimulus_spread(np.array([4.0, np.nan])).threshold is None
    assert stimulus_spread(np.array([np.nan, np.nan])).count == 0


def test_screen_observers_counts_and_verdicts_as_worked_by_hand():
    # i1/A: J10 scores 10 >= 7 + 2.83 -> P; i1/B (mirror): J10 scores 4 <= 7 - 2.83 -> Q
    # i2/A: J09 scores 10 -> P; i2/B: peaked (beta2 = 5), nobody beyond 4.22 from the mean
    # J10: (1+1)/4 = 0.5 > 0.05 and |1-1|/2 = 0 < 0.3 -> rejected
    # J09: 1/4 = 0.25 > 0.05 but |1-0|/1 = 1 >= 0.3 -> kept (a bias, not erratic)
    table = hand_table()
    verdicts = {v.judge: v for v in screen_observers(table.judges, table.scores)}
    j10, j09 = verdicts["J10"], verdicts["J09"]
    assert (j10.high, j10.low, j10.rated, j10.ratio, j10.asymmetry) == (1, 1, 4, 0.5, 0.0)
    assert j10.rejected is True
    assert (j09.high, j09.low, j09.ratio, j09.asymmetry) == (1, 0, 0.25, 1.0)
    assert j09.rejected is False
    for judge in HAND_JUDGES[:8]:
        verdict = verdicts[judge]
        assert (verdict.high, verdict.low, verdict.rejected) == (0, 0, False)
    assert "P=1, Q=1, n=4" in j10.reason


@pytest.mark.parametrize(("quiet_stimuli", "rejected"), [(38, False), (37, True)])
def test_screen_observers_outlier_ratio_must_exceed_five_percent(quiet_stimuli, rejected):
    # J10 is an outlier once above, once below, on the two hand patterns; on every quiet
    # stimulus all judges agree (no spread, no outliers). n = 2 + quiet:
    # 2/40 = 0.05 is not > 0.05 (kept); 2/39 = 0.0513 is (rejected).
    table = hand_table()
    quiet = np.full((len(HAND_JUDGES), quiet_stimuli), 5.0)
    scores = np.hstack([table.scores[:, :2], quiet])
    verdict = screen_observers(table.judges, scores)[-1]
    assert verdict.judge == "J10" and verdict.rejected is rejected


def test_screen_observers_counts_only_stimuli_a_judge_rated():
    table = hand_table()
    scores = table.scores.copy()
    scores[9, 2:] = np.nan  # J10 skipped image i2: P=1, Q=1 over n=2
    verdict = screen_observers(table.judges, scores)[9]
    assert (verdict.high, verdict.low, verdict.rated, verdict.ratio) == (1, 1, 2, 1.0)


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_screen_observers_rejects_only_the_planted_erratic_judge(seed):
    # 18 judges, 10 teams, 10 images; judge17 scores 3 points above or below the truth in turn
    table = synthetic_table(seed=seed)
    rejected = [v.judge for v in screen_observers(table.judges, table.scores) if v.rejected]
    assert rejected == ["judge17"]
