"""The final ranking: phase scores on a common scale, blended by weight, with rank stability.

Each phase's scores are first brought to a common scale over the finalists (``minmax`` by
default, ``rank`` or ``zscore``: see ``scoring.scales``), then blended:
``final = sum(weight[phase] * scaled[phase])`` (0.4 objective + 0.6 subjective by default).
Teams whose final scores are equal (within 1e-9, relative) share the better rank (1, 2, 2, 4)
and are listed by name.

Rank stability: the accepted judges and the judged images are resampled with replacement
(seeded), the subjective model is re-run on each sample and the blend redone; the objective
scores and the screening verdicts stay fixed. A team's stability is the share of samples in
which it keeps its official rank; its rank interval spans the 2.5th to 97.5th percentiles of
its sampled ranks.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from scoring.ratings import RatingsTable
from scoring.scales import COMMON_SCALES, common_scale
from scoring.subjective import MosModel, SubjectiveModel, SubjectiveResult

DEFAULT_WEIGHTS: Mapping[str, float] = {"objective": 0.4, "subjective": 0.6}
TIE_TOLERANCE = 1e-9
SCALE_DESCRIPTIONS = {
    "minmax": "(x - min) / (max - min) over the finalists; all equal gives 0.5",
    "rank": "(n - rank) / (n - 1), ties sharing their mean rank; all tied gives 0.5",
    "zscore": "(x - mean) / std over the finalists (population std); all equal gives 0",
}


@dataclass(frozen=True)
class FinalRanking:
    rows: list[dict]
    method: dict
    subjective: SubjectiveResult

    def to_json(self) -> dict:
        """``{"rows": [...], "method": {...}, "rejected_judges": [...]}``."""
        return {"rows": self.rows, "method": self.method,
                "rejected_judges": self.subjective.rejected_judges}


def competition_ranks(values: np.ndarray) -> np.ndarray:
    """1-based ranks, highest value first; values equal within the tolerance share a rank."""
    values = np.asarray(values, dtype=float)
    order = np.argsort(-values, kind="stable")
    ranks = np.zeros(values.size, dtype=int)
    for position, index in enumerate(order):
        previous = order[position - 1] if position else None
        if previous is not None and _tied(values[index], values[previous]):
            ranks[index] = ranks[previous]
        else:
            ranks[index] = position + 1
    return ranks


def blend(phases: Mapping[str, Mapping[str, float]], weights: Mapping[str, float],
          normalisation: str = "minmax") -> dict[str, float]:
    """Weighted sum of each phase's scores on the common scale; phases must score the same teams."""
    teams = _check_phases(phases, weights)
    total = np.zeros(len(teams))
    for phase, scores in phases.items():
        total += weights[phase] * common_scale(np.array([scores[t] for t in teams]), normalisation)
    return {team: float(v) for team, v in zip(teams, total, strict=True)}


def final_ranking(
    objective: Mapping[str, float], ratings: RatingsTable, *, model: SubjectiveModel | None = None,
    weights: Mapping[str, float] = DEFAULT_WEIGHTS, normalisation: str = "minmax",
    samples: int = 1000, seed: int = 0,
) -> FinalRanking:
    """Rank the finalists (the teams of ``objective``) by the blend, with bootstrap stability."""
    if set(weights) != {"objective", "subjective"}:
        raise ValueError(f"weights must name 'objective' and 'subjective', not {sorted(weights)}")
    if normalisation not in COMMON_SCALES:
        raise ValueError(f"unknown normalisation {normalisation!r}; "
                         f"choose one of {', '.join(COMMON_SCALES)}")
    if samples < 1:
        raise ValueError(f"bootstrap samples must be at least 1, not {samples}")
    _check_finalists(objective, ratings)
    model = model or MosModel()
    subjective = model.run(ratings)
    teams = list(ratings.teams)
    phases = {"objective": {t: float(objective[t]) for t in teams},
              "subjective": subjective.team_scores}
    final = blend(phases, weights, normalisation)
    ranks = competition_ranks(np.array([final[t] for t in teams]))
    sampled = _bootstrap_ranks(ratings.without_judges(_rejected(subjective)), model, phases,
                               weights, normalisation, samples, seed)
    rows = _rows(teams, phases, normalisation, final, ranks, sampled, subjective)
    method = _method(model, weights, normalisation, samples, seed, len(sampled))
    return FinalRanking(rows, method, subjective)


def _bootstrap_ranks(table: RatingsTable, model: SubjectiveModel,
                     phases: Mapping[str, Mapping[str, float]], weights: Mapping[str, float],
                     normalisation: str, samples: int, seed: int) -> np.ndarray:
    """Ranks per valid sample (samples x teams); samples leaving a team unrated are dropped."""
    rng = np.random.default_rng(seed)
    teams, team_of, image_of = list(table.teams), table.team_of, table.image_of
    by_image = [np.flatnonzero(image_of == i) for i in range(len(table.images))]
    fixed = weights["objective"] * common_scale(
        np.array([phases["objective"][t] for t in teams]), normalisation)
    kept: list[np.ndarray] = []
    for _ in range(samples):
        rows = rng.integers(0, len(table.judges), len(table.judges))
        images = rng.integers(0, len(by_image), len(by_image))
        columns = np.concatenate([by_image[i] for i in images])
        scores = model.team_scores(table.scores[np.ix_(rows, columns)], team_of[columns],
                                   len(teams))
        if np.isnan(scores).any():
            continue
        kept.append(competition_ranks(fixed + weights["subjective"] * common_scale(
            scores, normalisation)))
    return np.array(kept, dtype=int).reshape(len(kept), len(teams))


def _rows(teams: list[str], phases: Mapping[str, Mapping[str, float]], normalisation: str,
          final: Mapping[str, float], ranks: np.ndarray, sampled: np.ndarray,
          subjective: SubjectiveResult) -> list[dict]:
    scaled = {p: dict(zip(teams, common_scale(np.array([s[t] for t in teams]), normalisation),
                          strict=True)) for p, s in phases.items()}
    ci = {t.team: t.ci95 for t in subjective.teams}
    rows = []
    for k, team in enumerate(teams):
        column = sampled[:, k]
        stable = float(np.mean(column == ranks[k])) if column.size else None
        interval = ([int(np.quantile(column, q, method="inverted_cdf")) for q in (0.025, 0.975)]
                    if column.size else None)
        rows.append({
            "rank": int(ranks[k]), "team": team,
            "objective": phases["objective"][team], "subjective": phases["subjective"][team],
            "final": final[team], "rank_stability": stable, "rank_interval": interval,
            "objective_scaled": float(scaled["objective"][team]),
            "subjective_scaled": float(scaled["subjective"][team]), "subjective_ci95": ci[team],
        })
    return sorted(rows, key=lambda r: (r["rank"], r["team"]))


def _method(model: SubjectiveModel, weights: Mapping[str, float], normalisation: str,
            samples: int, seed: int, valid: int) -> dict:
    return {
        "normalisation": normalisation,
        "normalisation_formula": SCALE_DESCRIPTIONS[normalisation],
        "weights": dict(weights),
        "subjective": model.method,
        "screening": model.method["screening"],
        "model": model.method["model"],
        "ties": f"final scores equal within {TIE_TOLERANCE} (relative) share the better rank",
        "bootstrap": {
            "samples": samples, "valid_samples": valid, "seed": seed,
            "resampled": "accepted judges and judged images, with replacement",
            "fixed": "objective scores and screening verdicts",
            "rank_interval": "2.5th to 97.5th percentile of the sampled ranks",
        },
    }


def _check_phases(phases: Mapping[str, Mapping[str, float]],
                  weights: Mapping[str, float]) -> list[str]:
    if not phases:
        raise ValueError("no phases to blend")
    if set(phases) != set(weights):
        raise ValueError(f"phases {sorted(phases)} and weights {sorted(weights)} must match")
    negative = [p for p, w in weights.items() if w < 0]
    if negative:
        raise ValueError(f"negative weight for phase(s) {', '.join(negative)}")
    teams = sorted(next(iter(phases.values())))
    for phase, scores in phases.items():
        if sorted(scores) != teams:
            missing = sorted(set(teams) ^ set(scores))
            raise ValueError(f"phase {phase!r} does not score the same teams: {', '.join(missing)}")
        bad = [t for t, v in scores.items() if not np.isfinite(v)]
        if bad:
            raise ValueError(f"phase {phase!r}: score of {', '.join(bad)} is not a finite number")
    return teams


def _check_finalists(objective: Mapping[str, float], ratings: RatingsTable) -> None:
    without_ratings = sorted(set(objective) - set(ratings.teams))
    without_objective = sorted(set(ratings.teams) - set(objective))
    if without_ratings or without_objective:
        raise ValueError(f"finalists differ: no ratings for {without_ratings or 'none'}; "
                         f"no objective score for {without_objective or 'none'}")


def _rejected(subjective: SubjectiveResult) -> list[str]:
    return [j.judge for j in subjective.judges if not j.accepted]


def _tied(a: float, b: float) -> bool:
    return abs(a - b) <= TIE_TOLERANCE * max(1.0, abs(a), abs(b))
