"""The final ranking: phase scores on a common scale, blended by weight, with rank stability.

The subjective phase may be judged by any protocol (absolute ratings, best-k picks, pairwise
comparisons: ``scoring.study.StudyModel``). Each phase's scores are first brought to a common
scale over the finalists (``minmax`` by default, ``rank``, ``zscore``, an organiser's ``band``
or ``none``: see ``scoring.scales``; one method for every phase, or one per phase), then blended:
``final = sum(weight[phase] * scaled[phase])``. Weights are any non-negative numbers with a
positive sum (30/70, 0.4/0.6); they are divided by their sum, so they always add up to 1, and
the method records both. Teams whose final scores are equal (within 1e-9, relative) share the
better rank (1, 2, 2, 4) and are listed by name.

Rank stability: the protocol's own resampling (for ratings: the accepted judges and the judged
images, with replacement; seeded) is redone ``samples`` times, the blend redone on each; the
objective scores and the screening verdicts stay fixed. A team's stability is the share of
samples in which it keeps its official rank; its rank interval spans the 2.5th to 97.5th
percentiles of its sampled ranks.

When the subjective protocol cannot score (every judge rejected by screening, or a finalist
left without an accepted judge), the ranking has no rows and its ``status`` and ``reason`` say
what happened; the judges' verdicts are still there to read.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from scoring.protocols import Table, default_model
from scoring.scales import COMMON_SCALES, check_band, common_scale
from scoring.study import (
    OK,
    TIE_TOLERANCE,
    StudyModel,
    StudyResult,
    bootstrap,
    competition_ranks,
    rank_interval,
)

__all__ = ["DEFAULT_WEIGHTS", "FinalRanking", "blend", "competition_ranks", "final_ranking",
           "normalise_weights"]

DEFAULT_WEIGHTS: Mapping[str, float] = {"objective": 0.4, "subjective": 0.6}
PHASES = ("objective", "subjective")
WEIGHT_SUM_TOLERANCE = 1e-9
SCALE_DESCRIPTIONS = {
    "minmax": "(x - min) / (max - min) over the finalists; all equal gives 0.5",
    "rank": "(n - rank) / (n - 1), ties sharing their mean rank; all tied gives 0.5",
    "zscore": "(x - mean) / std over the finalists (population std); all equal gives 0",
    "band": "low + (high - low) * (x - min) / (max - min) over the finalists; all equal gives "
            "the middle of the band",
    "none": "the scores as they are",
}

Normalisation = str | Mapping[str, str]


@dataclass(frozen=True)
class FinalRanking:
    rows: list[dict]  # empty unless status is "ok"
    method: dict
    subjective: StudyResult
    status: str = OK
    reason: str | None = None

    def to_json(self) -> dict:
        """``{"status", "reason", "rows": [...], "method": {...}, "rejected_judges": [...],
        "flagged_judges": [...]}``."""
        return {"status": self.status, "reason": self.reason, "rows": self.rows,
                "method": self.method, "rejected_judges": self.subjective.rejected_judges,
                "flagged_judges": self.subjective.flagged_judges}


def normalise_weights(weights: Mapping[str, float]) -> dict[str, float]:
    """Weights divided by their sum; refuses negative, non-finite or all-zero weights."""
    problems = [f"weight of {p!r} is {w!r}, not a finite number" for p, w in weights.items()
                if not isinstance(w, int | float) or not math.isfinite(w)]
    if problems:
        raise ValueError("; ".join(problems))
    negative = [p for p, w in weights.items() if w < 0]
    if negative:
        raise ValueError(f"negative weight for phase(s) {', '.join(negative)}")
    total = math.fsum(weights.values())
    if total <= 0:
        raise ValueError(f"weights {dict(weights)} sum to {total}: at least one must be positive")
    return {p: float(w) / total for p, w in weights.items()}


def blend(phases: Mapping[str, Mapping[str, float]], weights: Mapping[str, float],
          normalisation: Normalisation = "minmax", *,
          band: tuple[float, float] | None = None) -> dict[str, float]:
    """Weighted sum (weights normalised to sum 1) of each phase's scores on its common scale;
    phases must score the same teams."""
    teams = _check_phases(phases, weights)
    used = normalise_weights(weights)
    methods = _methods(normalisation, phases, band)
    total = np.zeros(len(teams))
    for phase, scores in phases.items():
        total += used[phase] * common_scale(np.array([scores[t] for t in teams]),
                                            methods[phase], band=band)
    return {team: float(v) for team, v in zip(teams, total, strict=True)}


def final_ranking(
    objective: Mapping[str, float], table: Table, *,
    model: StudyModel | None = None, weights: Mapping[str, float] = DEFAULT_WEIGHTS,
    normalisation: Normalisation = "minmax", band: tuple[float, float] | None = None,
    samples: int = 1000, seed: int = 0,
) -> FinalRanking:
    """Rank the finalists (the teams of ``objective``) by the blend, with bootstrap stability.

    ``table`` holds the subjective judgements of any protocol; ``model`` defaults to the
    protocol's default (``scoring.protocols.default_model``). ``normalisation`` is one method or one per phase
    (``{"objective": "none", "subjective": "band"}``); ``band`` is ``(low, high)`` for ``band``.
    """
    if set(weights) != set(PHASES):
        raise ValueError(f"weights must name 'objective' and 'subjective', not {sorted(weights)}")
    used = normalise_weights(weights)
    methods = _methods(normalisation, PHASES, band)
    if samples < 1:
        raise ValueError(f"bootstrap samples must be at least 1, not {samples}")
    _check_finalists(objective, table)
    model = model or default_model(table)
    subjective = model.run(table)
    method = _method(model, weights, used, methods, band, samples, seed)
    if subjective.status != OK:
        method["bootstrap"]["valid_samples"] = 0
        return FinalRanking([], method, subjective, subjective.status, subjective.reason)
    teams = list(table.teams)
    phases = {"objective": {t: float(objective[t]) for t in teams},
              "subjective": subjective.team_scores}
    final = blend(phases, used, methods, band=band)
    ranks = competition_ranks(np.array([final[t] for t in teams]))
    fixed = used["objective"] * common_scale(
        np.array([phases["objective"][t] for t in teams]), methods["objective"], band=band)
    kept = table.without_judges(j["judge"] for j in subjective.rejected_judges)
    sampled = bootstrap(lambda rng: model.resample_team_scores(kept, rng), samples, seed,
                        len(teams))
    sampled_ranks = np.array([
        competition_ranks(fixed + used["subjective"] * common_scale(
            s, methods["subjective"], band=band)) for s in sampled], dtype=int).reshape(
        len(sampled), len(teams))
    method["bootstrap"]["valid_samples"] = len(sampled)
    rows = _rows(teams, phases, methods, band, final, ranks, sampled_ranks, subjective)
    return FinalRanking(rows, method, subjective)


def _rows(teams: list[str], phases: Mapping[str, Mapping[str, float]],
          methods: Mapping[str, str], band: tuple[float, float] | None,
          final: Mapping[str, float], ranks: np.ndarray, sampled: np.ndarray,
          subjective: StudyResult) -> list[dict]:
    scaled = {p: dict(zip(teams, common_scale(np.array([s[t] for t in teams]), methods[p],
                                              band=band), strict=True))
              for p, s in phases.items()}
    rows = []
    for k, team in enumerate(teams):
        column = sampled[:, k]
        stable = float(np.mean(column == ranks[k])) if column.size else None
        interval = rank_interval(column)
        rows.append({
            "rank": int(ranks[k]), "team": team,
            "objective": phases["objective"][team], "subjective": phases["subjective"][team],
            "final": final[team], "rank_stability": stable,
            "rank_interval": None if interval is None else list(interval),
            "objective_scaled": float(scaled["objective"][team]),
            "subjective_scaled": float(scaled["subjective"][team]),
            **subjective.final_columns(team),
        })
    return sorted(rows, key=lambda r: (r["rank"], r["team"]))


def _method(model: StudyModel, given: Mapping[str, float], used: Mapping[str, float],
            methods: Mapping[str, str], band: tuple[float, float] | None, samples: int,
            seed: int) -> dict:
    single = len(set(methods.values())) == 1
    return {
        "normalisation": methods["objective"] if single else dict(methods),
        "normalisation_formula": (SCALE_DESCRIPTIONS[methods["objective"]] if single else
                                  {p: SCALE_DESCRIPTIONS[m] for p, m in methods.items()}),
        "band": None if band is None or "band" not in methods.values() else list(band),
        "weights": dict(used),
        "weights_given": dict(given),
        "subjective": model.method,
        "screening": model.method["screening"],
        "model": model.method["model"],
        "ties": f"final scores equal within {TIE_TOLERANCE} (relative) share the better rank",
        "bootstrap": {
            "samples": samples, "valid_samples": None, "seed": seed,
            "resampled": model.RESAMPLED,
            "fixed": "objective scores and screening verdicts",
            "rank_interval": "2.5th to 97.5th percentile of the sampled ranks",
        },
    }


def _methods(normalisation: Normalisation, phases, band: tuple[float, float] | None,
             ) -> dict[str, str]:
    """The common scale of each phase, checked (a band must come with ``band``)."""
    names = list(phases)
    if isinstance(normalisation, str):
        methods = {p: normalisation for p in names}
    else:
        if set(normalisation) != set(names):
            raise ValueError(f"normalisation must name the phases {sorted(names)}, not "
                             f"{sorted(normalisation)}")
        methods = {p: normalisation[p] for p in names}
    for method in set(methods.values()):
        if method not in COMMON_SCALES:
            raise ValueError(f"unknown normalisation {method!r}; "
                             f"choose one of {', '.join(COMMON_SCALES)}")
    if "band" in methods.values():
        check_band(band)
    return methods


def _check_phases(phases: Mapping[str, Mapping[str, float]],
                  weights: Mapping[str, float]) -> list[str]:
    if not phases:
        raise ValueError("no phases to blend")
    if set(phases) != set(weights):
        raise ValueError(f"phases {sorted(phases)} and weights {sorted(weights)} must match")
    teams = sorted(next(iter(phases.values())))
    for phase, scores in phases.items():
        if sorted(scores) != teams:
            missing = sorted(set(teams) ^ set(scores))
            raise ValueError(f"phase {phase!r} does not score the same teams: {', '.join(missing)}")
        bad = [t for t, v in scores.items() if not np.isfinite(v)]
        if bad:
            raise ValueError(f"phase {phase!r}: score of {', '.join(bad)} is not a finite number")
    return teams


def _check_finalists(objective: Mapping[str, float], table: Table) -> None:
    without_ratings = sorted(set(objective) - set(table.teams))
    without_objective = sorted(set(table.teams) - set(objective))
    if without_ratings or without_objective:
        raise ValueError(f"finalists differ: no ratings for {without_ratings or 'none'}; "
                         f"no objective score for {without_objective or 'none'}")
