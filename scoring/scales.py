"""Rescaling scores: per-judge z-scores, and phase scores on a common scale over the finalists.

Common scales (higher is better throughout):

- ``minmax`` (default): ``(x - min) / (max - min)``, best 1, worst 0; all equal gives 0.5.
- ``rank``: ``(n - r) / (n - 1)`` with ``r`` the rank (1 best, ties share the mean of their
  ranks), so best 1, worst 0; all tied (or a single team) gives 0.5.
- ``zscore``: ``(x - mean) / std`` with the population std over the finalists; all equal gives 0.
- ``band``: linear onto an organiser's band ``(low, high)``: ``low + (high - low) * minmax``, so
  the best gets ``high`` and the worst ``low`` (as RAIM 2026 put pick counts on 80-90); equal
  values get equal scores; all equal gives the middle of the band.
- ``none``: the scores as they are (for a phase already on the scale the organiser wants).
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

COMMON_SCALES = ("minmax", "rank", "zscore", "band", "none")
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


def check_band(band: tuple[float, float] | None) -> tuple[float, float]:
    """A band ``(low, high)`` of finite numbers with ``low < high``; a clear error otherwise."""
    if band is None:
        raise ValueError("normalisation 'band' needs a band (low, high), e.g. (80, 90)")
    try:
        low, high = (float(v) for v in band)
    except (TypeError, ValueError):
        raise ValueError(f"band {band!r}: need two numbers (low, high)") from None
    if not (np.isfinite(low) and np.isfinite(high) and low < high):
        raise ValueError(f"band {band!r}: need finite numbers with low < high")
    return low, high


def band_scale(values: np.ndarray, band: tuple[float, float]) -> np.ndarray:
    """Values mapped linearly onto ``band``: the largest to its top, the smallest to its bottom;
    equal values stay equal; all equal (or a single value) gives the middle of the band."""
    low, high = check_band(band)
    return low + (high - low) * _minmax(np.asarray(values, dtype=float))


def common_scale(values: np.ndarray, method: str, *,
                 band: tuple[float, float] | None = None) -> np.ndarray:
    """One phase's finalists' scores (a 1-d array) on the named common scale."""
    if method not in COMMON_SCALES:
        raise ValueError(f"unknown normalisation {method!r}; "
                         f"choose one of {', '.join(COMMON_SCALES)}")
    values = np.asarray(values, dtype=float)
    if method == "none":
        return values.copy()
    if method == "band":
        return band_scale(values, check_band(band))
    if method == "minmax":
        return _minmax(values)
    if method == "rank":
        n = values.size
        from scipy.stats import rankdata  # here: scipy is slow to import (`raim --help`)

        ranks = rankdata(-values, method="average")
        return (n - ranks) / (n - 1) if n > 1 else np.full(values.shape, 0.5)
    std = values.std()
    return (values - values.mean()) / std if std > 0 else np.zeros(values.shape)


def common_scale_map(scores: Mapping[str, float], method: str, *,
                     band: tuple[float, float] | None = None) -> dict[str, float]:
    """``common_scale`` for a team -> score mapping."""
    teams = list(scores)
    scaled = common_scale(np.array([scores[t] for t in teams], dtype=float), method, band=band)
    return {team: float(v) for team, v in zip(teams, scaled, strict=True)}


def _minmax(values: np.ndarray) -> np.ndarray:
    span = values.max() - values.min() if values.size else 0.0
    return (values - values.min()) / span if span > 0 else np.full(values.shape, 0.5)
