"""ITU-R BT.500 observer screening: find judges whose scores stray from the others' erratically.

For each stimulus, over the judges who rated it: the mean, the standard deviation
``S = sqrt(sum((u - mean)^2) / (N - 1))`` and the kurtosis ``beta2 = m4 / m2^2`` with
``m_x = sum((u - mean)^x) / N``. The distribution counts as normal when
``2 <= beta2 <= 4``; the outlier threshold is then ``2 S``, otherwise ``sqrt(20) S``.
A judge's score at or above ``mean + threshold`` adds one to the judge's P, at or below
``mean - threshold`` one to Q. A judge is rejected when ``(P + Q) / n > 0.05`` and
``|P - Q| / (P + Q) < 0.3``, n being the number of stimuli the judge rated (E x R in the
Recommendation, which assumes a complete design). The second condition spares a judge who
is consistently severe or lenient: that is a bias, not erratic scoring.

Stimuli rated by fewer than two judges, or on which every judge gave the same score, have
no spread to measure and add nothing to P or Q.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

NORMAL_KURTOSIS = (2.0, 4.0)
NORMAL_FACTOR = 2.0
NON_NORMAL_FACTOR = math.sqrt(20.0)
MAX_OUTLIER_RATIO = 0.05
MAX_ASYMMETRY = 0.3


@dataclass(frozen=True)
class StimulusSpread:
    """One stimulus's statistics over judges; ``threshold`` is None when it is skipped."""

    mean: float
    std: float
    kurtosis: float | None
    normal: bool | None
    threshold: float | None
    count: int


@dataclass(frozen=True)
class ObserverScreening:
    """One judge's outlier counts and the verdict, with the numbers behind it."""

    judge: str
    high: int  # P
    low: int  # Q
    rated: int  # n = E x R for this judge
    ratio: float  # (P + Q) / n
    asymmetry: float | None  # |P - Q| / (P + Q); None when P + Q = 0
    rejected: bool

    @property
    def reason(self) -> str:
        """The rejection (or acceptance) stated with its numbers."""
        asym = "n/a" if self.asymmetry is None else f"{self.asymmetry:.3f}"
        verdict = "rejected" if self.rejected else "kept"
        return (f"BT.500 screening {verdict}: P={self.high}, Q={self.low}, n={self.rated}, "
                f"(P+Q)/n={self.ratio:.3f} (limit > {MAX_OUTLIER_RATIO}), "
                f"|P-Q|/(P+Q)={asym} (limit < {MAX_ASYMMETRY})")

    def to_dict(self) -> dict:
        return {"judge": self.judge, "P": self.high, "Q": self.low, "rated": self.rated,
                "ratio": self.ratio, "asymmetry": self.asymmetry, "rejected": self.rejected,
                "reason": self.reason}


def stimulus_spread(scores: np.ndarray) -> StimulusSpread:
    """The BT.500 statistics of one stimulus's scores (NaN entries are judges who did not rate)."""
    values = scores[~np.isnan(scores)]
    count = int(values.size)
    if count == 0:
        return StimulusSpread(math.nan, math.nan, None, None, None, 0)
    mean = float(values.mean())
    deviations = values - mean
    m2 = float(np.mean(deviations**2))
    if count < 2 or m2 == 0.0:
        return StimulusSpread(mean, 0.0, None, None, None, count)
    std = math.sqrt(float(np.sum(deviations**2)) / (count - 1))
    kurtosis = float(np.mean(deviations**4)) / m2**2
    normal = NORMAL_KURTOSIS[0] <= kurtosis <= NORMAL_KURTOSIS[1]
    factor = NORMAL_FACTOR if normal else NON_NORMAL_FACTOR
    return StimulusSpread(mean, std, kurtosis, normal, factor * std, count)


def screen_observers(judges: tuple[str, ...], scores: np.ndarray) -> list[ObserverScreening]:
    """Screen every judge (rows of ``scores``, a judges x stimuli matrix with NaN for unrated)."""
    high = np.zeros(len(judges), dtype=int)
    low = np.zeros(len(judges), dtype=int)
    for column in scores.T:
        spread = stimulus_spread(column)
        if spread.threshold is None:
            continue
        rated = ~np.isnan(column)
        high += rated & (column >= spread.mean + spread.threshold)
        low += rated & (column <= spread.mean - spread.threshold)
    rated_counts = np.sum(~np.isnan(scores), axis=1)
    return [_verdict(judge, int(p), int(q), int(n))
            for judge, p, q, n in zip(judges, high, low, rated_counts, strict=True)]


def _verdict(judge: str, high: int, low: int, rated: int) -> ObserverScreening:
    outliers = high + low
    ratio = outliers / rated if rated else 0.0
    asymmetry = abs(high - low) / outliers if outliers else None
    rejected = asymmetry is not None and ratio > MAX_OUTLIER_RATIO and asymmetry < MAX_ASYMMETRY
    return ObserverScreening(judge, high, low, rated, ratio, asymmetry, rejected)
