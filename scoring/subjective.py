"""Subjective models: from a ratings table to team and image opinion scores with 95% intervals.

Every model shares the public ``run``: ITU-R BT.500 observer screening (optional), the
repeated-trial consistency of each judge (optionally rejecting judges above a limit),
per-judge z-scores (optional), then the model's own private ``_estimate`` step. Each model
declares ``TYPE`` and ``VERSION``; its result carries both, so published numbers are traceable.

- ``MosModel``: mean opinion score. Per image (a team's result on one image) over judges;
  per team over all its ratings (images x accepted judges). 95% intervals from Student's t.
- ``SubjectBiasInconsistencyModel``: fits
  ``score[judge, stimulus] = quality[stimulus] + bias[judge] + inconsistency[judge] * noise``
  with standard normal noise and the biases summing to zero, alternating closed-form updates:
  quality is the inconsistency-weighted mean of bias-corrected scores (its maximum likelihood
  value), bias the judge's mean residual, and inconsistency the RMS of the judge's residuals
  against the quality estimated *without* that judge. Plain maximum likelihood would let one
  judge absorb the quality estimate and drive their own inconsistency to zero; leaving the
  judge out prevents that. A team's score is the mean quality of its images; 95% intervals
  from the Fisher information of the weighted means (normal quantile).
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import ClassVar

import numpy as np
from scipy.stats import norm
from scipy.stats import t as student_t

from scoring.consistency import Consistency, judge_consistency
from scoring.ratings import RatingsTable
from scoring.scales import JUDGE_NORMALISATIONS, zscore_per_judge
from scoring.screening import ObserverScreening, screen_observers

CONFIDENCE = 0.95


@dataclass(frozen=True)
class Estimate:
    """What a model's private step returns, indexed by matrix column (stimulus) and by team."""

    stimulus_score: np.ndarray
    stimulus_ci: np.ndarray  # half widths; NaN where not defined
    stimulus_n: np.ndarray
    team_score: np.ndarray
    team_ci: np.ndarray
    team_n: np.ndarray
    judge_params: dict[str, np.ndarray] = field(default_factory=dict)  # name -> value per row


@dataclass(frozen=True)
class TeamScore:
    team: str
    score: float
    ci95: float | None  # half width of the 95% interval
    ratings: int

    def to_dict(self) -> dict:
        low = None if self.ci95 is None else self.score - self.ci95
        high = None if self.ci95 is None else self.score + self.ci95
        return {"team": self.team, "score": self.score, "ci95": self.ci95, "low": low,
                "high": high, "ratings": self.ratings}


@dataclass(frozen=True)
class StimulusScore:
    image: str
    team: str
    score: float
    ci95: float | None
    ratings: int

    def to_dict(self) -> dict:
        return {"image": self.image, "team": self.team, "score": self.score, "ci95": self.ci95,
                "ratings": self.ratings}


@dataclass(frozen=True)
class JudgeReport:
    """A judge's verdict, the reasons with their numbers, and the model's parameters for them."""

    judge: str
    accepted: bool
    reasons: tuple[str, ...]
    screening: ObserverScreening | None
    consistency: Consistency
    params: dict[str, float] = field(default_factory=dict)

    def to_dict(self) -> dict:
        return {
            "judge": self.judge, "accepted": self.accepted, "reasons": list(self.reasons),
            "screening": None if self.screening is None else self.screening.to_dict(),
            "consistency": self.consistency.to_dict(), "params": dict(self.params),
        }


@dataclass(frozen=True)
class SubjectiveResult:
    model_type: str
    model_version: str
    method: dict
    judges: tuple[JudgeReport, ...]
    teams: tuple[TeamScore, ...]
    stimuli: tuple[StimulusScore, ...]

    @property
    def team_scores(self) -> dict[str, float]:
        return {t.team: t.score for t in self.teams}

    @property
    def accepted_judges(self) -> tuple[str, ...]:
        return tuple(j.judge for j in self.judges if j.accepted)

    @property
    def rejected_judges(self) -> list[dict]:
        """``[{"judge", "reasons", "screening", "consistency"}]`` for every rejected judge."""
        return [{k: v for k, v in j.to_dict().items() if k not in ("accepted", "params")}
                for j in self.judges if not j.accepted]

    def to_json(self) -> dict:
        return {
            "model": {"type": self.model_type, "version": self.model_version},
            "method": self.method,
            "teams": [t.to_dict() for t in self.teams],
            "images": [s.to_dict() for s in self.stimuli],
            "judges": [j.to_dict() for j in self.judges],
            "rejected_judges": self.rejected_judges,
        }


class SubjectiveModel(ABC):
    """The shared pipeline; subclasses set TYPE and VERSION and implement ``_estimate``."""

    TYPE: ClassVar[str]
    VERSION: ClassVar[str]
    INTERVAL: ClassVar[str]

    def __init__(self, *, normalisation: str = "none", screening: bool = True,
                 max_repeat_diff: float | None = None) -> None:
        if normalisation not in JUDGE_NORMALISATIONS:
            raise ValueError(f"unknown judge normalisation {normalisation!r}; "
                             f"choose one of {', '.join(JUDGE_NORMALISATIONS)}")
        if max_repeat_diff is not None and max_repeat_diff < 0:
            raise ValueError(f"max_repeat_diff must be >= 0, not {max_repeat_diff}")
        self.normalisation = normalisation
        self.screening = screening
        self.max_repeat_diff = max_repeat_diff

    @property
    def method(self) -> dict:
        """How the numbers were made, to be shown beside them."""
        return {
            "model": {"type": self.TYPE, "version": self.VERSION},
            "judge_normalisation": self.normalisation,
            "screening": "ITU-R BT.500 observer screening" if self.screening else "none",
            "max_repeat_diff": self.max_repeat_diff,
            "confidence": CONFIDENCE,
            "interval": self.INTERVAL,
        }

    def run(self, table: RatingsTable) -> SubjectiveResult:
        """Screen judges, drop the rejected ones, estimate scores and label everything."""
        screened = screen_observers(table.judges, table.scores) if self.screening else None
        consistency = judge_consistency(table.judges, table.repeats)
        reasons = self._reasons(table.judges, screened, consistency)
        kept = table.without_judges(j for j, why in reasons.items() if why)
        if not kept.judges:
            raise ValueError("every judge was rejected; nothing is left to score")
        estimate = self._estimate(self.prepare(kept.scores), kept.team_of, len(kept.teams))
        unrated = [team for team, n in zip(kept.teams, estimate.team_n, strict=True) if n == 0]
        if unrated:
            raise ValueError(f"no accepted judge rated team(s) {', '.join(unrated)}")
        return SubjectiveResult(
            model_type=self.TYPE, model_version=self.VERSION, method=self.method,
            judges=_judge_reports(table.judges, kept.judges, reasons, screened, consistency,
                                  estimate),
            teams=tuple(TeamScore(team, float(s), _finite(c), int(n)) for team, s, c, n in zip(
                kept.teams, estimate.team_score, estimate.team_ci, estimate.team_n, strict=True)),
            stimuli=tuple(StimulusScore(image, team, float(s), _finite(c), int(n))
                          for (image, team), s, c, n in zip(
                              kept.stimuli, estimate.stimulus_score, estimate.stimulus_ci,
                              estimate.stimulus_n, strict=True) if n > 0),
        )

    def team_scores(self, scores: np.ndarray, team_of: np.ndarray, n_teams: int) -> np.ndarray:
        """Team scores for a raw judges x stimuli matrix (used by the bootstrap); NaN if unrated."""
        return self._estimate(self.prepare(scores), team_of, n_teams).team_score

    def prepare(self, scores: np.ndarray) -> np.ndarray:
        return zscore_per_judge(scores) if self.normalisation == "zscore" else scores

    def _reasons(self, judges: tuple[str, ...], screened: list[ObserverScreening] | None,
                 consistency: list[Consistency]) -> dict[str, list[str]]:
        reasons: dict[str, list[str]] = {judge: [] for judge in judges}
        for verdict in screened or []:
            if verdict.rejected:
                reasons[verdict.judge].append(verdict.reason)
        for c in consistency:
            limit = self.max_repeat_diff
            if limit is not None and c.mean_abs_diff is not None and c.mean_abs_diff > limit:
                reasons[c.judge].append(f"repeated trials: mean absolute difference "
                                        f"{c.mean_abs_diff:.3f} over {c.pairs} pair(s) "
                                        f"exceeds {limit}")
        return reasons

    @abstractmethod
    def _estimate(self, scores: np.ndarray, team_of: np.ndarray, n_teams: int) -> Estimate:
        """The model's own step: scores per column and per team from a prepared matrix."""


class MosModel(SubjectiveModel):
    """Mean opinion score with Student-t 95% intervals."""

    TYPE = "MOS"
    VERSION = "1.0"
    INTERVAL = "Student t over the ratings"

    def _estimate(self, scores: np.ndarray, team_of: np.ndarray, n_teams: int) -> Estimate:
        s_mean, s_ci, s_n = _mean_ci(scores)
        team_mean = np.full(n_teams, np.nan)
        team_ci = np.full(n_teams, np.nan)
        team_n = np.zeros(n_teams, dtype=int)
        for k in range(n_teams):
            pooled = scores[:, team_of == k].ravel()
            m, c, n = _mean_ci(pooled[:, None])
            team_mean[k], team_ci[k], team_n[k] = m[0], c[0], n[0]
        return Estimate(s_mean, s_ci, s_n, team_mean, team_ci, team_n)


class SubjectBiasInconsistencyModel(SubjectiveModel):
    """Quality per stimulus with a bias and an inconsistency per judge (see the module text)."""

    TYPE = "SUBJECT_BIAS_INCONSISTENCY_MLE"
    VERSION = "1.0"
    INTERVAL = "normal, from the Fisher information"

    def __init__(self, *, normalisation: str = "none", screening: bool = True,
                 max_repeat_diff: float | None = None, max_iterations: int = 1000,
                 tolerance: float = 1e-9, min_inconsistency: float = 1e-3) -> None:
        super().__init__(normalisation=normalisation, screening=screening,
                         max_repeat_diff=max_repeat_diff)
        self.max_iterations = max_iterations
        self.tolerance = tolerance
        self.min_inconsistency = min_inconsistency

    def _estimate(self, scores: np.ndarray, team_of: np.ndarray, n_teams: int) -> Estimate:
        rated = ~np.isnan(scores)
        quality, bias, inconsistency = self._fit(scores, rated)
        weight = np.where(rated, 1.0 / inconsistency[:, None] ** 2, 0.0)
        information = weight.sum(axis=0)
        variance = np.where(information > 0, 1.0 / np.maximum(information, 1e-300), np.nan)
        z = float(norm.ppf(0.5 + CONFIDENCE / 2))
        s_n = rated.sum(axis=0)
        team_score = np.full(n_teams, np.nan)
        team_ci = np.full(n_teams, np.nan)
        team_n = np.zeros(n_teams, dtype=int)
        for k in range(n_teams):
            columns = (team_of == k) & (s_n > 0)
            team_n[k] = int(s_n[team_of == k].sum())
            if columns.any():
                team_score[k] = quality[columns].mean()
                team_ci[k] = z * math.sqrt(variance[columns].sum()) / columns.sum()
        return Estimate(quality, z * np.sqrt(variance), s_n, team_score, team_ci, team_n,
                        {"bias": bias, "inconsistency": inconsistency})

    def _fit(self, scores: np.ndarray, rated: np.ndarray) -> tuple[np.ndarray, ...]:
        """Alternate the closed-form updates of each parameter group until they settle."""
        u = np.where(rated, scores, 0.0)
        per_judge = np.maximum(rated.sum(axis=1), 1)
        per_stimulus = rated.sum(axis=0)
        quality = np.where(per_stimulus > 0, u.sum(axis=0) / np.maximum(per_stimulus, 1), np.nan)
        bias = np.zeros(scores.shape[0])
        inconsistency = np.ones(scores.shape[0])
        for _ in range(self.max_iterations):
            q = np.where(per_stimulus > 0, quality, 0.0)
            new_bias = np.where(rated, u - q[None, :], 0.0).sum(axis=1) / per_judge
            new_inc = self._inconsistency(u - new_bias[:, None], rated, inconsistency)
            weight = np.where(rated, 1.0 / new_inc[:, None] ** 2, 0.0)
            total = weight.sum(axis=0)
            new_quality = np.where(
                total > 0,
                (weight * (u - new_bias[:, None])).sum(axis=0) / np.maximum(total, 1e-300), np.nan)
            shift = new_bias.mean()
            new_bias, new_quality = new_bias - shift, new_quality + shift
            change = max(_max_change(new_quality, quality), _max_change(new_bias, bias),
                         _max_change(new_inc, inconsistency))
            quality, bias, inconsistency = new_quality, new_bias, new_inc
            if change < self.tolerance:
                break
        return quality, bias, inconsistency

    def _inconsistency(self, corrected: np.ndarray, rated: np.ndarray,
                       previous: np.ndarray) -> np.ndarray:
        """RMS residual of each judge against the weighted quality of the other judges."""
        weight = np.where(rated, 1.0 / previous[:, None] ** 2, 0.0)
        others = weight.sum(axis=0)[None, :] - weight
        weighted = np.where(rated, weight * corrected, 0.0)
        usable = rated & (others > 0)
        loo_quality = (weighted.sum(axis=0)[None, :] - weighted) / np.where(usable, others, 1.0)
        residual = np.where(usable, corrected - loo_quality, 0.0)
        count = usable.sum(axis=1)
        rms = np.sqrt((residual**2).sum(axis=1) / np.maximum(count, 1))
        return np.where(count > 0, np.maximum(rms, self.min_inconsistency), previous)


MODELS: dict[str, type[SubjectiveModel]] = {"mos": MosModel, "mle": SubjectBiasInconsistencyModel}


def model_from_config(name: str = "mos", **options) -> SubjectiveModel:
    """A model by its configuration name (``mos`` or ``mle``) with its options."""
    if name not in MODELS:
        raise ValueError(f"unknown subjective model {name!r}; known: {', '.join(MODELS)}")
    return MODELS[name](**options)


def _mean_ci(scores: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per column: mean, t-interval half width (NaN below two ratings) and rating count."""
    n = np.sum(~np.isnan(scores), axis=0)
    total = np.nansum(scores, axis=0)
    mean = np.where(n > 0, total / np.maximum(n, 1), np.nan)
    squares = np.nansum((scores - mean[None, :]) ** 2, axis=0)
    std = np.sqrt(squares / np.maximum(n - 1, 1))
    quantile = student_t.ppf(0.5 + CONFIDENCE / 2, np.maximum(n - 1, 1))
    ci = np.where(n > 1, quantile * std / np.sqrt(np.maximum(n, 1)), np.nan)
    return mean, ci, n


def _max_change(new: np.ndarray, old: np.ndarray) -> float:
    diff = np.abs(np.nan_to_num(new) - np.nan_to_num(old))
    return float(diff.max()) if diff.size else 0.0


def _finite(value: float) -> float | None:
    return float(value) if math.isfinite(value) else None


def _judge_reports(judges: tuple[str, ...], kept: tuple[str, ...],
                   reasons: dict[str, list[str]], screened: list[ObserverScreening] | None,
                   consistency: list[Consistency], estimate: Estimate) -> tuple[JudgeReport, ...]:
    row = {judge: i for i, judge in enumerate(kept)}
    by_screen = {s.judge: s for s in screened or []}
    by_consistency = {c.judge: c for c in consistency}
    reports = []
    for judge in judges:
        params = ({name: float(v[row[judge]]) for name, v in estimate.judge_params.items()}
                  if judge in row else {})
        reports.append(JudgeReport(judge, judge in row, tuple(reasons[judge]),
                                   by_screen.get(judge), by_consistency[judge], params))
    return tuple(reports)
