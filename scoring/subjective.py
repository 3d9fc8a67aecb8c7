"""Subjective models: from a ratings table to team and image opinion scores with 95% intervals.

Every model shares the public ``run``: ITU-R BT.500 observer screening (optional), the
repeated-trial consistency of each judge (optionally rejecting judges above a limit),
per-judge z-scores (optional), then the model's own private ``_estimate`` step. Each model
declares ``TYPE`` and ``VERSION``; its result carries both, so published numbers are traceable.

- ``MosModel``: mean opinion score. Per image (a team's result on one image) over judges;
  per team over all its ratings (images x accepted judges). 95% intervals from Student's t.
- ``SubjectBiasInconsistencyModel``: fits
  ``score[judge, stimulus] = quality[stimulus] + bias[judge] + inconsistency[judge] * noise``
  with standard normal noise and the biases of the judges with at least ``min_ratings``
  ratings averaging zero (of every judge when none has that many), alternating closed-form
  updates:
  quality is the inconsistency-weighted mean of bias-corrected scores (its maximum likelihood
  value), bias the judge's mean residual, and inconsistency the RMS of the judge's residuals
  against the quality estimated *without* that judge. Plain maximum likelihood would let one
  judge absorb the quality estimate and drive their own inconsistency to zero; leaving the
  judge out prevents that. A team's score is the mean quality of its images; 95% intervals
  from the Fisher information of the weighted means (normal quantile). A judge with fewer
  than ``min_ratings`` ratings has too few residuals to estimate an inconsistency of their
  own (one degree of freedom goes to their bias; a single rating leaves none, and its
  inconsistency would fall to the floor and its weight explode): such a judge gets the panel's
  pooled inconsistency instead and is named in the result's ``flagged_judges``.

Whatever the model, every team also carries its MOS on the judges' own scale with a Student-t
95% interval (the raw first ratings of the accepted judges), so a z-scored or model score is
always shown beside the number an NTIRE report quotes. When screening rejects every judge, or
leaves a team that no accepted judge rated, ``run`` returns a result whose ``status`` and
``reason`` tell the organiser what happened, instead of scores.
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
from scoring.study import (
    CONFIDENCE,
    NO_ACCEPTED_JUDGES,
    OK,
    UNRATED_TEAMS,
    JudgedResult,
    all_rejected_reason,
)


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
    judge_notes: dict[int, tuple[str, ...]] = field(default_factory=dict)  # row -> notes


@dataclass(frozen=True)
class TeamScore:
    """A team's model score and, always, its MOS on the judges' scale; ci95 are half widths."""

    team: str
    score: float
    ci95: float | None  # half width of the 95% interval
    ratings: int
    mos: float = math.nan  # mean of the accepted judges' raw first ratings
    mos_ci95: float | None = None  # Student t

    @property
    def low(self) -> float | None:
        return None if self.ci95 is None else self.score - self.ci95

    @property
    def high(self) -> float | None:
        return None if self.ci95 is None else self.score + self.ci95

    def to_dict(self) -> dict:
        return {"team": self.team, "score": self.score, "ci95": self.ci95, "low": self.low,
                "high": self.high, "ratings": self.ratings, "mos": self.mos,
                "mos_ci95": self.mos_ci95}


@dataclass(frozen=True)
class StimulusScore:
    image: str
    team: str
    score: float
    ci95: float | None
    ratings: int
    mos: float = math.nan
    mos_ci95: float | None = None

    def to_dict(self) -> dict:
        return {"image": self.image, "team": self.team, "score": self.score, "ci95": self.ci95,
                "ratings": self.ratings, "mos": self.mos, "mos_ci95": self.mos_ci95}


@dataclass(frozen=True)
class JudgeReport:
    """A judge's verdict, the reasons with their numbers, and the model's parameters for them."""

    judge: str
    accepted: bool
    reasons: tuple[str, ...]
    screening: ObserverScreening | None
    consistency: Consistency
    params: dict[str, float] = field(default_factory=dict)
    ratings: int = 0  # first ratings given
    notes: tuple[str, ...] = ()  # what the results page should flag (kept judges too)

    def to_dict(self) -> dict:
        return {
            "judge": self.judge, "accepted": self.accepted, "reasons": list(self.reasons),
            "screening": None if self.screening is None else self.screening.to_dict(),
            "consistency": self.consistency.to_dict(), "params": dict(self.params),
            "ratings": self.ratings, "notes": list(self.notes),
        }


@dataclass(frozen=True)
class SubjectiveResult(JudgedResult):
    """Scores per team and image, every judge's verdict; ``status`` says whether scores exist."""

    JUDGE_COUNT = "ratings"
    HIDDEN_JUDGE_KEYS = ("accepted", "params")


    model_type: str
    model_version: str
    method: dict
    judges: tuple[JudgeReport, ...]
    teams: tuple[TeamScore, ...]  # empty unless status is "ok"
    stimuli: tuple[StimulusScore, ...]
    status: str = OK
    reason: str | None = None  # why there are no scores, for the organiser

    def final_columns(self, team: str) -> dict:
        """The columns this result adds to the team's row of the final ranking."""
        t = self.team(team)
        return {"subjective_ci95": t.ci95, "subjective_low": t.low, "subjective_high": t.high,
                "mos": t.mos, "mos_ci95": t.mos_ci95}

    def to_json(self) -> dict:
        return {
            "status": self.status, "reason": self.reason,
            "model": {"type": self.model_type, "version": self.model_version},
            "method": self.method,
            "teams": [t.to_dict() for t in self.teams],
            "images": [s.to_dict() for s in self.stimuli],
            "judges": [j.to_dict() for j in self.judges],
            "rejected_judges": self.rejected_judges,
            "flagged_judges": self.flagged_judges,
        }


class SubjectiveModel(ABC):
    """The shared pipeline; subclasses set TYPE and VERSION and implement ``_estimate``."""

    TYPE: ClassVar[str]
    VERSION: ClassVar[str]
    INTERVAL: ClassVar[str]
    RESAMPLED: ClassVar[str] = "accepted judges and judged images, with replacement"

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
        """Screen judges, drop the rejected ones, estimate scores and label everything.

        With no accepted judge, or a team no accepted judge rated, the result has no scores
        and its ``status`` and ``reason`` say so."""
        screened = screen_observers(table.judges, table.scores) if self.screening else None
        consistency = judge_consistency(table.judges, table.repeats)
        reasons = self._reasons(table.judges, screened, consistency)
        kept = table.without_judges(j for j, why in reasons.items() if why)
        counts = dict(zip(table.judges, np.sum(~np.isnan(table.scores), axis=1).tolist(),
                          strict=True))
        if not kept.judges:
            return self._without_scores(table, reasons, screened, consistency, counts,
                                        NO_ACCEPTED_JUDGES, all_rejected_reason(
                                            (j, reasons[j]) for j in table.judges))
        estimate = self._estimate(self.prepare(kept.scores), kept.team_of, len(kept.teams))
        unrated = [team for team, n in zip(kept.teams, estimate.team_n, strict=True) if n == 0]
        if unrated:
            return self._without_scores(
                table, reasons, screened, consistency, counts, UNRATED_TEAMS,
                f"no accepted judge rated team(s) {', '.join(unrated)}: their only judges were "
                f"rejected by screening. Invite more judges for them, or relax the screening.")
        mos = _mos(kept.scores, kept.team_of, len(kept.teams))
        return SubjectiveResult(
            model_type=self.TYPE, model_version=self.VERSION, method=self.method,
            judges=_judge_reports(table.judges, kept.judges, reasons, screened, consistency,
                                  counts, self._notes(kept), estimate),
            teams=tuple(TeamScore(team, float(s), _finite(c), int(n), float(m), _finite(mc))
                        for team, s, c, n, m, mc in zip(
                            kept.teams, estimate.team_score, estimate.team_ci, estimate.team_n,
                            mos.team_score, mos.team_ci, strict=True)),
            stimuli=tuple(StimulusScore(image, team, float(s), _finite(c), int(n), float(m),
                                        _finite(mc))
                          for (image, team), s, c, n, m, mc in zip(
                              kept.stimuli, estimate.stimulus_score, estimate.stimulus_ci,
                              estimate.stimulus_n, mos.stimulus_score, mos.stimulus_ci,
                              strict=True) if n > 0),
        )

    def team_scores(self, scores: np.ndarray, team_of: np.ndarray, n_teams: int) -> np.ndarray:
        """Team scores for a raw judges x stimuli matrix (used by the bootstrap); NaN if unrated."""
        return self._estimate(self.prepare(scores), team_of, n_teams).team_score

    def resample_team_scores(self, table: RatingsTable, rng: np.random.Generator) -> np.ndarray:
        """One bootstrap draw: judges and images resampled with replacement, the model re-run."""
        by_image = [np.flatnonzero(table.image_of == i) for i in range(len(table.images))]
        rows = rng.integers(0, len(table.judges), len(table.judges))
        images = rng.integers(0, len(by_image), len(by_image))
        columns = np.concatenate([by_image[i] for i in images])
        return self.team_scores(table.scores[np.ix_(rows, columns)], table.team_of[columns],
                                len(table.teams))

    def prepare(self, scores: np.ndarray) -> np.ndarray:
        return zscore_per_judge(scores) if self.normalisation == "zscore" else scores

    def _without_scores(self, table: RatingsTable, reasons: dict[str, list[str]],
                        screened: list[ObserverScreening] | None, consistency: list[Consistency],
                        counts: dict[str, int], status: str, reason: str) -> SubjectiveResult:
        kept = tuple(j for j in table.judges if not reasons[j])
        empty = Estimate(*(np.zeros(0) for _ in range(6)))
        return SubjectiveResult(
            model_type=self.TYPE, model_version=self.VERSION, method=self.method,
            judges=_judge_reports(table.judges, kept, reasons, screened, consistency, counts,
                                  {}, empty),
            teams=(), stimuli=(), status=status, reason=reason)

    def _notes(self, kept: RatingsTable) -> dict[str, tuple[str, ...]]:
        """Pipeline notes per kept judge: z-scores that one rating or one value cannot define."""
        if self.normalisation != "zscore":
            return {}
        notes = {}
        for judge, row in zip(kept.judges, kept.scores, strict=True):
            values = row[~np.isnan(row)]
            if values.size < 2 or np.all(values == values[0]):
                notes[judge] = (f"z-scores undefined ({values.size} rating(s), "
                                f"{'one value' if values.size else 'none'}): every rating "
                                f"counts as the judge's mean, 0",)
        return notes

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
        return _mos(scores, team_of, n_teams)


def _mos(scores: np.ndarray, team_of: np.ndarray, n_teams: int) -> Estimate:
    """Means and Student-t intervals per column and per team (the MOS of any matrix)."""
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
    VERSION = "1.1"  # 1.1: judges under min_ratings take the panel's pooled inconsistency
    INTERVAL = "normal, from the Fisher information"

    def __init__(self, *, normalisation: str = "none", screening: bool = True,
                 max_repeat_diff: float | None = None, max_iterations: int = 1000,
                 tolerance: float = 1e-9, min_inconsistency: float = 1e-3,
                 min_ratings: int = 10) -> None:
        super().__init__(normalisation=normalisation, screening=screening,
                         max_repeat_diff=max_repeat_diff)
        if min_ratings < 2:
            raise ValueError(f"min_ratings must be at least 2 (one rating leaves no residual "
                             f"once the judge's bias is fitted), not {min_ratings}")
        self.max_iterations = max_iterations
        self.tolerance = tolerance
        self.min_inconsistency = min_inconsistency
        self.min_ratings = min_ratings

    @property
    def method(self) -> dict:
        return {**super().method, "min_ratings": self.min_ratings,
                "few_ratings": "judges with fewer ratings than min_ratings take the pooled "
                               "inconsistency of the panel"}

    def _estimate(self, scores: np.ndarray, team_of: np.ndarray, n_teams: int) -> Estimate:
        rated = ~np.isnan(scores)
        quality, bias, inconsistency, pooled = self._fit(scores, rated)
        weight = np.where(rated, 1.0 / inconsistency[:, None] ** 2, 0.0)
        information = weight.sum(axis=0)
        defined = math.isfinite(pooled) or not self._few(rated).any()
        variance = np.where((information > 0) & defined,
                            1.0 / np.maximum(information, 1e-300), np.nan)
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
                        {"bias": bias, "inconsistency": inconsistency},
                        self._few_notes(rated, pooled))

    def _few(self, rated: np.ndarray) -> np.ndarray:
        """Judges (rows) with too few ratings to estimate an inconsistency of their own."""
        return rated.sum(axis=1) < self.min_ratings

    def _few_notes(self, rated: np.ndarray, pooled: float) -> dict[int, tuple[str, ...]]:
        value = f"{pooled:.3f}" if math.isfinite(pooled) else "undefined (intervals omitted)"
        return {int(row): (f"{int(rated[row].sum())} rating(s), fewer than {self.min_ratings}: "
                           f"inconsistency not estimated from their own ratings; the panel's "
                           f"pooled inconsistency {value} is used",)
                for row in np.flatnonzero(self._few(rated))}

    def _fit(self, scores: np.ndarray, rated: np.ndarray) -> tuple[np.ndarray, np.ndarray,
                                                                  np.ndarray, float]:
        """Alternate the closed-form updates of each parameter group until they settle."""
        u = np.where(rated, scores, 0.0)
        per_judge = np.maximum(rated.sum(axis=1), 1)
        per_stimulus = rated.sum(axis=0)
        quality = np.where(per_stimulus > 0, u.sum(axis=0) / np.maximum(per_stimulus, 1), np.nan)
        bias = np.zeros(scores.shape[0])
        inconsistency = np.ones(scores.shape[0])
        pooled = math.nan
        few = self._few(rated)
        anchors = ~few if not few.all() else np.ones_like(few)  # whose biases average 0
        for _ in range(self.max_iterations):
            q = np.where(per_stimulus > 0, quality, 0.0)
            new_bias = np.where(rated, u - q[None, :], 0.0).sum(axis=1) / per_judge
            new_inc, pooled = self._inconsistency(u - new_bias[:, None], rated, inconsistency)
            weight = np.where(rated, 1.0 / new_inc[:, None] ** 2, 0.0)
            total = weight.sum(axis=0)
            new_quality = np.where(
                total > 0,
                (weight * (u - new_bias[:, None])).sum(axis=0) / np.maximum(total, 1e-300), np.nan)
            shift = new_bias[anchors].mean()
            new_bias, new_quality = new_bias - shift, new_quality + shift
            change = max(_max_change(new_quality, quality), _max_change(new_bias, bias),
                         _max_change(new_inc, inconsistency))
            quality, bias, inconsistency = new_quality, new_bias, new_inc
            if change < self.tolerance:
                break
        return quality, bias, inconsistency, pooled

    def _inconsistency(self, corrected: np.ndarray, rated: np.ndarray,
                       previous: np.ndarray) -> tuple[np.ndarray, float]:
        """RMS residual of each judge against the weighted quality of the other judges; judges
        with fewer than ``min_ratings`` ratings get the pooled value (see ``_pooled``)."""
        weight = np.where(rated, 1.0 / previous[:, None] ** 2, 0.0)
        others = weight.sum(axis=0)[None, :] - weight
        weighted = np.where(rated, weight * corrected, 0.0)
        usable = rated & (others > 0)
        loo_quality = (weighted.sum(axis=0)[None, :] - weighted) / np.where(usable, others, 1.0)
        residual = np.where(usable, corrected - loo_quality, 0.0)
        squares = (residual**2).sum(axis=1)
        count = usable.sum(axis=1)
        rms = np.sqrt(squares / np.maximum(count, 1))
        own = np.where(count > 0, np.maximum(rms, self.min_inconsistency), previous)
        few = self._few(rated)
        if not few.any():
            return own, math.nan
        pooled = self._pooled(squares, count, few)
        fallback = max(pooled, self.min_inconsistency) if math.isfinite(pooled) else 1.0
        return np.where(few, fallback, own), pooled

    @staticmethod
    def _pooled(squares: np.ndarray, count: np.ndarray, few: np.ndarray) -> float:
        """The panel's inconsistency: pooled residual variance of the judges with enough
        ratings (of every judge when none has), each judge's bias having used one degree of
        freedom; NaN when no judge rated twice."""
        panel = ~few & (count > 0)
        if not panel.any():
            panel = count > 0
        freedom = np.maximum(count[panel] - 1, 0).sum()
        return math.sqrt(float(squares[panel].sum()) / freedom) if freedom > 0 else math.nan


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
                   consistency: list[Consistency], counts: dict[str, int],
                   notes: dict[str, tuple[str, ...]], estimate: Estimate,
                   ) -> tuple[JudgeReport, ...]:
    row = {judge: i for i, judge in enumerate(kept)}
    by_screen = {s.judge: s for s in screened or []}
    by_consistency = {c.judge: c for c in consistency}
    reports = []
    for judge in judges:
        params = ({name: float(v[row[judge]]) for name, v in estimate.judge_params.items()}
                  if judge in row else {})
        flagged = (*notes.get(judge, ()),
                   *(estimate.judge_notes.get(row[judge], ()) if judge in row else ()))
        reports.append(JudgeReport(judge, judge in row, tuple(reasons[judge]),
                                   by_screen.get(judge), by_consistency[judge], params,
                                   counts[judge], flagged))
    return tuple(reports)
