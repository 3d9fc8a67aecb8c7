"""Screening best-k judges: agreement with the rest of the panel, and consistency on repeated images.

**Agreement.** On an image, ``q[t]`` is the share of the *other* judges (those who did that
image and were shown team t) who picked t. A judge's agreement on the image is the mean ``q`` of
the k teams they picked (``O``): 1 when everyone else picked the same, about ``k/m`` when the
others' picks are spread evenly. Two references make it readable:

- chance ``R``: the mean ``q`` over the teams shown, what random picks would score;
- panel ``E``: what a judge who picks like the others would score. If such a judge picks t with
  probability ``p[t]``, ``E[O] = sum(p[t]^2) / k``; ``p[t]^2`` is estimated without bias from the
  others' counts ``c`` of ``n`` as ``c (c - 1) / (n (n - 1))`` (so an image needs two others).

Over the images the judge did, ``index = (sum O - sum R) / (sum E - sum R)`` (1: agrees like a
panel member, 0: like chance; None when the panel itself shows no preference) and
``z = (sum O - sum E) / sqrt(sum V)`` with ``V = sum_t q[t]^3 (1 - q[t]) / k^2`` (independent
picks, which overstates the variance of exactly-k picks, so the test errs towards keeping).
A judge is rejected when ``z`` is below ``-max_disagreement_z`` (default 2.326: one-sided 1%),
that is, when they agree with the others markedly less than the others agree among themselves,
over at least ``min_images`` images. A panel without consensus rejects nobody: there is nothing
to disagree with.

**Consistency.** On a hidden repeated image, the overlap is the share of the k picks made both
times; chance is ``k / m`` for m results shown. A judge is rejected when the mean overlap is
below ``min_repeat_overlap`` (off unless the organiser sets it).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from scoring.picks import PicksTable


@dataclass(frozen=True)
class PickAgreement:
    """A judge's agreement with the leave-one-out panel; means are per image compared."""

    judge: str
    images: int  # images with a panel of at least two other judges
    observed: float | None  # mean share of the others who picked the judge's picks
    panel: float | None  # what a judge picking like the others would score
    chance: float | None  # what random picks would score
    index: float | None  # (observed - chance) / (panel - chance)
    z: float | None

    def reason(self, limit: float) -> str:
        return (f"panel agreement: the others picked the judge's picks {_pct(self.observed)} "
                f"of the time on average, against {_pct(self.panel)} expected of a judge like "
                f"them and {_pct(self.chance)} by chance (index {_num(self.index)}, "
                f"z = {_num(self.z)} < -{limit}, {self.images} images)")

    def to_dict(self) -> dict:
        return {"judge": self.judge, "images": self.images, "observed": self.observed,
                "panel": self.panel, "chance": self.chance, "index": self.index, "z": self.z}


@dataclass(frozen=True)
class PickConsistency:
    """A judge's overlap with their own picks on repeated images."""

    judge: str
    pairs: int
    overlap: float | None  # mean share of the picks made both times
    chance: float | None  # mean k / m

    def to_dict(self) -> dict:
        return {"judge": self.judge, "pairs": self.pairs, "overlap": self.overlap,
                "chance": self.chance}


def panel_agreement(table: PicksTable) -> list[PickAgreement]:
    """Every judge's agreement with the others, in the table's judge order."""
    picked = table.picked.astype(float)
    shown = table.shown.astype(float)
    total_picked, total_shown = picked.sum(axis=0), shown.sum(axis=0)  # images x teams
    results = []
    for j, judge in enumerate(table.judges):
        sums = np.zeros(4)  # O, E, R, V
        images = 0
        for i in np.flatnonzero(table.trials[j]):
            mine = table.shown[j, i]
            c = (total_picked[i] - picked[j, i])[mine]
            n = (total_shown[i] - shown[j, i])[mine]
            if n.min() < 2:
                continue
            q = c / n
            k = table.k
            sums += (q[table.picked[j, i][mine]].sum() / k,
                     (c * (c - 1) / (n * (n - 1))).sum() / k,
                     q.mean(),
                     (q**3 * (1 - q)).sum() / k**2)
            images += 1
        results.append(_agreement(judge, images, *sums))
    return results


def repeat_consistency(table: PicksTable) -> list[PickConsistency]:
    """Every judge's overlap on repeated images, in the table's judge order."""
    by_judge: dict[str, list[tuple[float, float]]] = {}
    for r in table.repeats:
        by_judge.setdefault(r.judge, []).append((len(r.first & r.again) / table.k,
                                                 table.k / r.shown))
    out = []
    for judge in table.judges:
        pairs = by_judge.get(judge, [])
        if not pairs:
            out.append(PickConsistency(judge, 0, None, None))
            continue
        overlap, chance = np.mean(pairs, axis=0)
        out.append(PickConsistency(judge, len(pairs), float(overlap), float(chance)))
    return out


def _agreement(judge: str, images: int, observed: float, panel: float, chance: float,
               variance: float) -> PickAgreement:
    if images == 0:
        return PickAgreement(judge, 0, None, None, None, None, None)
    spread = panel - chance
    index = (observed - chance) / spread if spread > 1e-12 else None
    gap = observed - panel
    if variance > 0:
        z = gap / math.sqrt(variance)
    else:  # the others were unanimous on every team: any departure is a real one
        z = 0.0 if abs(gap) <= 1e-12 else math.copysign(math.inf, gap)
    return PickAgreement(judge, images, float(observed / images), float(panel / images),
                         float(chance / images), None if index is None else float(index),
                         float(z))


def _pct(value: float | None) -> str:
    return "n/a" if value is None else f"{100 * value:.1f}%"


def _num(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.2f}"
