"""Repeated-trial consistency: how closely each judge agrees with themself on hidden repeats.

For every judge with repeated trials: the number of (first, repeat) pairs, the mean absolute
difference between the two scores, and their Pearson correlation (None with fewer than two
pairs or when either side does not vary).
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

from scoring.ratings import RepeatPair


@dataclass(frozen=True)
class Consistency:
    """One judge's agreement with their own earlier scores."""

    judge: str
    pairs: int
    mean_abs_diff: float | None
    correlation: float | None

    def to_dict(self) -> dict:
        return {"judge": self.judge, "pairs": self.pairs, "mean_abs_diff": self.mean_abs_diff,
                "correlation": self.correlation}


def judge_consistency(judges: Iterable[str], repeats: Iterable[RepeatPair]) -> list[Consistency]:
    """Consistency of each named judge, in the order given (judges without repeats get 0 pairs)."""
    by_judge: dict[str, list[RepeatPair]] = {}
    for pair in repeats:
        by_judge.setdefault(pair.judge, []).append(pair)
    return [_one(judge, by_judge.get(judge, [])) for judge in judges]


def _one(judge: str, pairs: list[RepeatPair]) -> Consistency:
    if not pairs:
        return Consistency(judge, 0, None, None)
    first = np.array([p.first for p in pairs])
    again = np.array([p.again for p in pairs])
    mad = float(np.mean(np.abs(first - again)))
    return Consistency(judge, len(pairs), mad, _pearson(first, again))


def _pearson(x: np.ndarray, y: np.ndarray) -> float | None:
    if x.size < 2:
        return None
    dx, dy = x - x.mean(), y - y.mean()
    denominator = math.sqrt(float(np.sum(dx**2)) * float(np.sum(dy**2)))
    if denominator == 0.0:
        return None
    return float(np.sum(dx * dy)) / denominator
