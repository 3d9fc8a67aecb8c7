"""Active sampling: the pair of teams to compare next, the one whose outcome is expected to teach most.

ASAP (Mikhailiuk, Wilmot, Perez-Ortiz, Yue and Mantiuk, 2020) asks for the pair with the
greatest expected information gain (EIG) about the scores under their current posterior. ASAP
tracks that posterior by TrueSkill-style message passing; this module uses a cheaper
approximation of the same criterion: the Laplace (Gaussian) approximation of the pairwise
model's posterior around its MAP fit (``PairwiseModel.covariance``), so the difference of two
teams' scores is ``d ~ N(mean, variance)``, and

    EIG = H[ E_d P(outcome | d) ] - E_d H[ P(outcome | d) ]

(the mutual information between the next outcome and the scores; outcomes are win, tie and
loss when the model has ties), with the expectations over d by 40-point Gauss-Hermite
quadrature. A pair the panel has already settled (small variance) or whose outcome is a
foregone conclusion (large ``|mean|``) teaches little; a close pair that is still uncertain
teaches most. No batch or minimum-spanning-tree scheduling: one pair at a time.

Pairs whose gains are equal (within 1e-9, relative) are drawn at random, and the side each team
is shown on too, from a generator seeded by the caller, so the choice is deterministic given the
seed. The image is the one on which that pair has been compared least (ties drawn likewise).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from itertools import combinations

import numpy as np

from scoring.comparisons import ComparisonsTable
from scoring.pairwise import BradleyTerryModel, PairwiseModel

NODES, WEIGHTS = np.polynomial.hermite.hermgauss(40)
GAIN_TOLERANCE = 1e-9


@dataclass(frozen=True)
class NextPair:
    """The pair to show next: ``first`` on the left (or first in the flicker), on ``image``."""

    first: str
    second: str
    image: str | None
    gain: float  # expected information gain, in nats

    def to_dict(self) -> dict:
        return {"first": self.first, "second": self.second, "image": self.image,
                "gain": self.gain}


def information_gain(mean: np.ndarray, variance: np.ndarray, model: PairwiseModel,
                     tie: float | None = None) -> np.ndarray:
    """EIG of one more comparison of pairs whose score difference is ``N(mean, variance)``;
    ``tie`` is the model's fitted tie parameter (its log), None without ties."""
    mean = np.atleast_1d(np.asarray(mean, dtype=float))
    spread = np.sqrt(2.0 * np.maximum(np.atleast_1d(np.asarray(variance, dtype=float)), 0.0))
    d = mean[:, None] + spread[:, None] * NODES[None, :]  # pairs x nodes
    p = model.probabilities(d.ravel(), tie).reshape(3, *d.shape)  # outcomes x pairs x nodes
    w = WEIGHTS / np.sqrt(np.pi)
    marginal = np.einsum("opn,n->op", p, w)
    return _entropy(marginal) - np.einsum("pn,n->p", _entropy(p), w)


def pair_gains(table: ComparisonsTable, model: PairwiseModel | None = None,
               ) -> dict[tuple[str, str], float]:
    """The EIG of every pair of teams (in team order) under the posterior of the comparisons
    so far; ``model`` defaults to Bradley-Terry (its prior must be > 0)."""
    model = model or BradleyTerryModel()
    fit = model.fit(table)
    covariance = model.covariance(table, fit)
    pairs = list(combinations(range(len(table.teams)), 2))
    if not pairs:
        return {}
    i, j = np.array(pairs).T
    mean = fit.scores[i] - fit.scores[j]
    variance = covariance[i, i] + covariance[j, j] - 2 * covariance[i, j]
    gains = information_gain(mean, variance, model, fit.tie)
    return {(table.teams[a], table.teams[b]): float(g)
            for a, b, g in zip(i, j, gains, strict=True)}


def next_pair(table: ComparisonsTable, *, model: PairwiseModel | None = None,
              images: Sequence[str] = (), seed: int = 0,
              exclude: Iterable[tuple[str, str]] = ()) -> NextPair:
    """The most informative pair to compare next (see the module text), never one in
    ``exclude`` (either order); ``images`` lists the images to choose from (default: those of
    the table; none gives ``image=None``)."""
    banned = {frozenset(pair) for pair in exclude}
    gains = {pair: g for pair, g in pair_gains(table, model).items()
             if frozenset(pair) not in banned}
    if not gains:
        raise ValueError("no pair of teams is left to compare")
    rng = np.random.default_rng(seed)
    best = max(gains.values())
    candidates = [pair for pair, g in gains.items()
                  if g >= best - GAIN_TOLERANCE * max(1.0, abs(best))]
    first, second = candidates[int(rng.integers(len(candidates)))]
    if rng.random() < 0.5:
        first, second = second, first
    return NextPair(first, second, _least_compared_image(table, first, second,
                                                         list(images) or list(table.images),
                                                         rng), gains[_key(gains, first, second)])


def _least_compared_image(table: ComparisonsTable, first: str, second: str,
                          images: list[str], rng: np.random.Generator) -> str | None:
    if not images:
        return None
    a, b = table.teams.index(first), table.teams.index(second)
    same = ((table.a == a) & (table.b == b)) | ((table.a == b) & (table.b == a))
    done = {table.images[i]: int(n) for i, n in
            zip(*np.unique(table.image_of[same], return_counts=True), strict=True)}
    fewest = min(done.get(image, 0) for image in images)
    choices = [image for image in images if done.get(image, 0) == fewest]
    return choices[int(rng.integers(len(choices)))]


def _key(gains: dict[tuple[str, str], float], first: str, second: str) -> tuple[str, str]:
    return (first, second) if (first, second) in gains else (second, first)


def _entropy(p: np.ndarray) -> np.ndarray:
    """Entropy (nats) over the first axis, 0 log 0 = 0."""
    safe = np.where(p > 0, p, 1.0)
    return -np.sum(np.where(p > 0, p * np.log(safe), 0.0), axis=0)
