"""The best-k picks model: teams scored by how often the accepted judges picked their results.

``BestKPicksModel`` (TYPE ``BEST_K_PICKS``) screens the judges (``scoring.picks_screening``),
then over the accepted judges' first trials (``scoring.picks.PicksTable``):

- ``picks``: how many times each team was picked, overall and per image;
- ``rate``: picks / times shown, the share of showings in which the team was picked (with every
  team shown on every trial, the counts divided by a common number);
- ``score``: the rate, or with a ``band`` ``(low, high)`` the rates mapped linearly onto it
  (``scoring.scales.band_scale``: most picks to ``high``, fewest to ``low``, equal rates equal
  scores, all equal the middle of the band). With a complete design that is exactly RAIM
  2026's linear normalisation of the counts (to 80-90);
- 95% intervals for the rate and the score, and a rank interval, from a bootstrap over images
  (images resampled with replacement, seeded; each draw normalised to the band again).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from scoring.picks import PicksTable
from scoring.picks_screening import (
    PickAgreement,
    PickConsistency,
    panel_agreement,
    repeat_consistency,
)
from scoring.scales import band_scale, check_band
from scoring.study import (
    CONFIDENCE,
    NO_ACCEPTED_JUDGES,
    OK,
    UNRATED_TEAMS,
    JudgedResult,
    all_rejected_reason,
    bootstrap,
    competition_ranks,
    percentile_interval,
    rank_interval,
    sampled_ranks,
)


@dataclass(frozen=True)
class PickTeam:
    team: str
    picks: int
    shown: int
    rate: float
    rate_low: float | None
    rate_high: float | None
    score: float
    low: float | None
    high: float | None
    rank: int
    rank_interval: tuple[int, int] | None

    def to_dict(self) -> dict:
        return {"team": self.team, "picks": self.picks, "shown": self.shown, "rate": self.rate,
                "rate_low": self.rate_low, "rate_high": self.rate_high, "score": self.score,
                "low": self.low, "high": self.high, "rank": self.rank,
                "rank_interval": None if self.rank_interval is None else list(self.rank_interval)}


@dataclass(frozen=True)
class PickJudge:
    judge: str
    accepted: bool
    reasons: tuple[str, ...]
    images: int
    agreement: PickAgreement
    consistency: PickConsistency
    notes: tuple[str, ...] = ()

    def to_dict(self) -> dict:
        return {"judge": self.judge, "accepted": self.accepted, "reasons": list(self.reasons),
                "images": self.images, "agreement": self.agreement.to_dict(),
                "consistency": self.consistency.to_dict(), "notes": list(self.notes)}


@dataclass(frozen=True)
class PicksResult(JudgedResult):
    JUDGE_COUNT = "images"

    model_type: str
    model_version: str
    method: dict
    judges: tuple[PickJudge, ...]
    teams: tuple[PickTeam, ...]  # empty unless status is "ok"
    image_counts: dict[str, dict[str, int]] = field(default_factory=dict)  # image -> team -> picks
    status: str = OK
    reason: str | None = None

    def final_columns(self, team: str) -> dict:
        t = self.team(team)
        return {"subjective_low": t.low, "subjective_high": t.high, "picks": t.picks,
                "shown": t.shown, "pick_rate": t.rate}

    def to_json(self) -> dict:
        return {"status": self.status, "reason": self.reason,
                "model": {"type": self.model_type, "version": self.model_version},
                "method": self.method, "teams": [t.to_dict() for t in self.teams],
                "images": self.image_counts, "judges": [j.to_dict() for j in self.judges],
                "rejected_judges": self.rejected_judges, "flagged_judges": self.flagged_judges}


class BestKPicksModel:
    """Teams by how often the accepted judges picked them (see the module text)."""

    TYPE = "BEST_K_PICKS"
    VERSION = "1.0"
    RESAMPLED = "judged images, with replacement"

    def __init__(self, *, band: tuple[float, float] | None = None, screening: bool = True,
                 max_disagreement_z: float = 2.326, min_images: int = 5,
                 min_repeat_overlap: float | None = None, samples: int = 1000,
                 seed: int = 0) -> None:
        if band is not None:
            band = check_band(band)
        if max_disagreement_z <= 0:
            raise ValueError(f"max_disagreement_z must be > 0, not {max_disagreement_z}")
        if min_repeat_overlap is not None and not 0 <= min_repeat_overlap <= 1:
            raise ValueError(f"min_repeat_overlap must be in 0..1, not {min_repeat_overlap}")
        if samples < 1:
            raise ValueError(f"bootstrap samples must be at least 1, not {samples}")
        self.band = band
        self.screening = screening
        self.max_disagreement_z = max_disagreement_z
        self.min_images = min_images
        self.min_repeat_overlap = min_repeat_overlap
        self.samples = samples
        self.seed = seed

    @property
    def method(self) -> dict:
        return {
            "model": {"type": self.TYPE, "version": self.VERSION},
            "score": (f"pick rate mapped linearly onto the band {list(self.band)}" if self.band
                      else "pick rate (picks / times shown)"),
            "band": None if self.band is None else list(self.band),
            "screening": (f"panel agreement: rejected when z < -{self.max_disagreement_z} "
                          f"over at least {self.min_images} images" if self.screening
                          else "none"),
            "min_repeat_overlap": self.min_repeat_overlap,
            "confidence": CONFIDENCE,
            "interval": f"bootstrap percentiles over images ({self.samples} samples, "
                        f"seed {self.seed})",
        }

    def run(self, table: PicksTable) -> PicksResult:
        """Screen the judges, count the accepted judges' picks, score and bootstrap."""
        agreement = panel_agreement(table)
        consistency = repeat_consistency(table)
        reasons = self._reasons(table, agreement, consistency)
        notes = {a.judge: (f"{a.images} image(s) with a panel to compare, fewer than "
                           f"{self.min_images}: not screened for agreement",)
                 for a in agreement if self.screening and a.images < self.min_images}
        images = dict(zip(table.judges, table.trials.sum(axis=1).tolist(), strict=True))
        judges = tuple(PickJudge(j, not reasons[j], tuple(reasons[j]), images[j], a, c,
                                 notes.get(j, ()))
                       for j, a, c in zip(table.judges, agreement, consistency, strict=True))
        kept = table.without_judges(j for j in table.judges if reasons[j])
        if not kept.judges:
            return self._result(judges, (), {}, NO_ACCEPTED_JUDGES, all_rejected_reason(
                (j.judge, j.reasons) for j in judges))
        picks, shown = kept.picked.sum(axis=(0, 1)), kept.shown.sum(axis=(0, 1))
        unseen = [t for t, n in zip(kept.teams, shown, strict=True) if n == 0]
        if unseen:
            return self._result(judges, (), {}, UNRATED_TEAMS,
                                f"no accepted judge was shown team(s) {', '.join(unseen)}")
        rates = picks / shown
        sampled_rates = bootstrap(lambda rng: self._draw_rates(kept, rng), self.samples,
                                  self.seed, len(kept.teams))
        sampled = np.array([self._scale(r) for r in sampled_rates]).reshape(sampled_rates.shape)
        scores = self._scale(rates)
        ranks = competition_ranks(scores)
        draws_ranks = sampled_ranks(sampled)
        teams = []
        for k, team in enumerate(kept.teams):
            r_int = percentile_interval(sampled_rates[:, k])
            s_int = percentile_interval(sampled[:, k])
            teams.append(PickTeam(
                team, int(picks[k]), int(shown[k]), float(rates[k]),
                *(r_int or (None, None)), float(scores[k]), *(s_int or (None, None)),
                int(ranks[k]), rank_interval(draws_ranks[:, k])))
        per_image = kept.picked.sum(axis=0)
        counts = {image: {team: int(per_image[i, k]) for k, team in enumerate(kept.teams)}
                  for i, image in enumerate(kept.images)}
        return self._result(judges, tuple(teams), counts, OK, None)

    def resample_team_scores(self, table: PicksTable, rng: np.random.Generator) -> np.ndarray:
        """One bootstrap draw of the team scores, images resampled with replacement."""
        rates = self._draw_rates(table, rng)
        return rates if np.isnan(rates).any() else self._scale(rates)

    def _draw_rates(self, table: PicksTable, rng: np.random.Generator) -> np.ndarray:
        images = rng.integers(0, len(table.images), len(table.images))
        picks = table.picked[:, images].sum(axis=(0, 1))
        shown = table.shown[:, images].sum(axis=(0, 1))
        return np.where(shown > 0, picks / np.maximum(shown, 1), np.nan)

    def _scale(self, rates: np.ndarray) -> np.ndarray:
        return band_scale(rates, self.band) if self.band is not None else np.asarray(rates, float)

    def _reasons(self, table: PicksTable, agreement: list[PickAgreement],
                 consistency: list[PickConsistency]) -> dict[str, list[str]]:
        reasons: dict[str, list[str]] = {judge: [] for judge in table.judges}
        for a in agreement:
            if (self.screening and a.images >= self.min_images and a.z is not None
                    and a.z < -self.max_disagreement_z):
                reasons[a.judge].append(a.reason(self.max_disagreement_z))
        limit = self.min_repeat_overlap
        for c in consistency:
            if limit is not None and c.overlap is not None and c.overlap < limit:
                reasons[c.judge].append(
                    f"repeated images: mean overlap {c.overlap:.3f} of the picks over "
                    f"{c.pairs} repeat(s) is below {limit} (chance {c.chance:.3f})")
        return reasons

    def _result(self, judges: tuple[PickJudge, ...], teams: tuple[PickTeam, ...],
                counts: dict[str, dict[str, int]], status: str,
                reason: str | None) -> PicksResult:
        return PicksResult(self.TYPE, self.VERSION, self.method, judges, teams, counts, status,
                           reason)
