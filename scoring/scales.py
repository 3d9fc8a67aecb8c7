"""Rescaling scores: per-judge z-scores, and phase scores on a common scale over the finalists.

Common scales (higher is better throughout):

- ``minmax`` (default): ``(x - min) / (max - min)``, best 1, worst 0; all equal gives 0.5.
- ``rank``: ``(n - r) / (n - 1)`` with ``r`` the rank (1 best, ties share the mean of their
  ranks), so best 1, worst 0; all tied (or a single team) gives 0.5.
- ``zscore``: ``(x - mean) / std`` with the population std over the finalists; all equal gives 0.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
from scipy.stats import rankdata

COMMON_SCALES = ("minmax", "rank", "zscore")
JUDGE_NORMALISATIONS = ("none", "zscore")


def zscore_per_judge(scores: np.ndarray) -> np.ndarray:
    """Each row (judge) of a judges x stimuli matrix as z-scores over that judge's own ratings.

    NaN (unrated) stays NaN. A judge whose ratings do not vary (or who rated once) gets 0s.
    """
    counts = np.sum(~np.isnan(scores), axis=1, keepdims=True)
    mean = np.nansum(scores, axis=1, keepdims=True) / np.maximum(counts, 1)
    squares = np.nansum((scores - mean) ** 2, axis=1, keepdims=True)
    std = np.sqrt(squares / np.maximum(counts - 1, 1))
    safe = np.where(std > 0, std, 1.0)
    return np.where(std > 0, (scores - mean) / safe, np.where(np.isnan(scores), np.nan, 0.0))


def common_scale(values: np.ndarray, method: str) -> np.ndarray:
    """One phase's finalists' scores (a 1-d array) on the named common scale."""
    if method not in COMMON_SCALES:
        raise ValueError(f"unknown normalisation {method!r}; "
                         f"choose one of {', '.join(COMMON_SCALES)}")
    values = np.asarray(values, dtype=float)
    if method == "minmax":
        span = values.max() - values.min()
        return (values - values.min()) / span if span > 0 else np.full(values.shape, 0.5)
    if method == "rank":
        n = values.size
        ranks = rankdata(-values, method="average")
        return (n - ranks) / (n - 1) if n > 1 else np.full(values.shape, 0.5)
    std = values.std()
    return (values - values.mean()) / std if std > 0 else np.zeros(values.shape)


def common_scale_map(scores: Mapping[str, float], method: str) -> dict[str, float]:
    """``common_scale`` for a team -> score mapping."""
    teams = list(scores)
    scaled = common_scale(np.array([scores[t] for t in teams], dtype=float), method)
    return {team: float(v) for team, v in zip(teams, scaled, strict=True)}
