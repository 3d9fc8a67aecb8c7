"""Screening pairwise judges: agreement with the panel, transitivity, and repeated pairs.

**Agreement with the panel.** For each of a judge's decisive (non-tie) comparisons, the model
fitted to the *other* judges' comparisons gives ``p``, the probability that the first team is
preferred. The judge's agreement on it is the panel's probability of the judge's choice,
``o = p`` or ``1 - p``. A judge who chooses the way the panel's model predicts would score
``E[o] = p^2 + (1 - p)^2`` with variance ``V = p (1 - p) (2p - 1)^2``; a judge choosing at
random scores 0.5. Over the judge's comparisons, ``index = (sum o - n/2) / (sum E - n/2)``
(1: like the panel, 0: like chance; None when the panel sees no difference) and
``z = (sum o - sum E) / sqrt(sum V)``. A judge is rejected when ``z < -max_disagreement_z``
(default 2.326, one-sided 1%) over at least ``min_comparisons`` decisive comparisons: they
side with the panel markedly less often than the panel's own model predicts. Close teams
(``p`` near 0.5) weigh little either way, so nobody is rejected for disagreeing on a toss-up.

**Transitivity.** On each image, the judge's preference between two teams is the sign of their
wins minus losses in the judge's comparisons of that pair. A triad of teams with all three
preferences decided is circular when each team beats exactly one other (A > B > C > A). The
share of circular triads among complete ones is reported (and rejects a judge above
``max_circular_share`` when the organiser sets it). Where the judge compared every pair of the
teams on an image without a tie, Kendall and Babington Smith's coefficient of consistence is
``zeta = 1 - d / d_max`` with d circular triads, ``d_max = (n^3 - n) / 24`` for odd n and
``(n^3 - 4n) / 24`` for even n; the mean over such images is reported.

**Repeated pairs.** A hidden repeat agrees with the first comparison of that pair on that image
when the outcome is the same (1), half when one of the two is a tie (0.5), not at all when it
is reversed (0). A judge is rejected below ``min_repeat_agreement`` (off unless set).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from itertools import combinations

import numpy as np

from scoring.comparisons import ComparisonsTable

LooProbabilities = Callable[[ComparisonsTable, int], "np.ndarray | None"]


@dataclass(frozen=True)
class PairAgreement:
    """A judge's agreement with the leave-one-out panel's model, per decisive comparison."""

    judge: str
    comparisons: int  # decisive comparisons
    observed: float | None  # mean probability the panel gives the judge's choices
    panel: float | None  # what a judge choosing as the panel predicts would score
    chance: float | None  # 0.5
    index: float | None
    z: float | None

    def reason(self, limit: float) -> str:
        return (f"panel agreement: the panel's model gave the judge's choices "
                f"{_num(self.observed, 3)} on average, against {_num(self.panel, 3)} expected "
                f"of a judge like the others and {_num(self.chance, 3)} by chance (index "
                f"{_num(self.index)}, z = {_num(self.z)} < -{limit}, {self.comparisons} "
                f"comparisons)")

    def to_dict(self) -> dict:
        return {"judge": self.judge, "comparisons": self.comparisons, "observed": self.observed,
                "panel": self.panel, "chance": self.chance, "index": self.index, "z": self.z}


@dataclass(frozen=True)
class Transitivity:
    """A judge's circular triads among complete ones, and Kendall's zeta where defined."""

    judge: str
    triads: int
    circular: int
    zeta: float | None  # mean over images compared as complete tournaments
    tournaments: int  # such images

    @property
    def share(self) -> float | None:
        return self.circular / self.triads if self.triads else None

    def to_dict(self) -> dict:
        return {"judge": self.judge, "triads": self.triads, "circular": self.circular,
                "share": self.share, "zeta": self.zeta, "tournaments": self.tournaments}


@dataclass(frozen=True)
class PairConsistency:
    """A judge's agreement with their own first comparisons on hidden repeats."""

    judge: str
    pairs: int
    agreement: float | None

    def to_dict(self) -> dict:
        return {"judge": self.judge, "pairs": self.pairs, "agreement": self.agreement}


def panel_agreement(table: ComparisonsTable, loo: LooProbabilities) -> list[PairAgreement]:
    """Every judge's agreement with the others; ``loo(table, j)`` gives, for judge j's
    comparisons in table order, the others' model's P(first preferred | not a tie), or None
    when there is no panel to compare with."""
    out = []
    for j, judge in enumerate(table.judges):
        mine = np.flatnonzero(table.judge_of == j)
        given = loo(table, j)
        if given is None:
            out.append(PairAgreement(judge, 0, None, None, None, None, None))
            continue
        p = np.asarray(given, dtype=float)
        decisive = table.outcome[mine] != 0.5
        y, p = table.outcome[mine][decisive], p[decisive]
        n = int(y.size)
        if n == 0:
            out.append(PairAgreement(judge, 0, None, None, None, None, None))
            continue
        observed = float(np.sum(y * p + (1 - y) * (1 - p)))
        expected = float(np.sum(p**2 + (1 - p) ** 2))
        variance = float(np.sum(p * (1 - p) * (2 * p - 1) ** 2))
        spread = expected - n / 2
        index = (observed - n / 2) / spread if spread > 1e-12 else None
        gap = observed - expected
        z = (gap / math.sqrt(variance) if variance > 1e-300 else
             0.0 if abs(gap) <= 1e-12 else math.copysign(math.inf, gap))
        out.append(PairAgreement(judge, n, observed / n, expected / n, 0.5, index, z))
    return out


def circular_triads(prefer: np.ndarray) -> tuple[int, int]:
    """Complete and circular triads of a preference matrix (``prefer[i, j]`` 1 when i is
    preferred to j, -1 when j is, 0 when undecided)."""
    complete = circular = 0
    for i, j, k in combinations(range(prefer.shape[0]), 3):
        ij, jk, ki = prefer[i, j], prefer[j, k], prefer[k, i]
        if ij and jk and ki:
            complete += 1
            circular += int(ij == jk == ki)  # i > j > k > i, or the reverse
    return complete, circular


def kendall_zeta(circular: int, n: int) -> float:
    """Kendall and Babington Smith's coefficient of consistence of a complete tournament."""
    most = (n**3 - n) / 24 if n % 2 else (n**3 - 4 * n) / 24
    return 1.0 - circular / most


def transitivity(table: ComparisonsTable) -> list[Transitivity]:
    """Every judge's circular triads over their images, in the table's judge order."""
    n = len(table.teams)
    out = []
    for j, judge in enumerate(table.judges):
        triads = circular = tournaments = 0
        zetas = []
        mine = table.judge_of == j
        for image in np.unique(table.image_of[mine]):
            rows = np.flatnonzero(mine & (table.image_of == image))
            net = np.zeros((n, n))
            seen = np.zeros((n, n), dtype=bool)
            signed = 2 * table.outcome[rows] - 1  # +1 the first team won, -1 lost, 0 tie
            np.add.at(net, (table.a[rows], table.b[rows]), signed)
            np.add.at(net, (table.b[rows], table.a[rows]), -signed)
            seen[table.a[rows], table.b[rows]] = seen[table.b[rows], table.a[rows]] = True
            teams = np.flatnonzero(seen.any(axis=1))
            prefer = np.sign(net[np.ix_(teams, teams)]).astype(int)
            complete, cycles = circular_triads(prefer)
            triads, circular = triads + complete, circular + cycles
            m = teams.size
            if m >= 3 and np.count_nonzero(prefer) == m * (m - 1):
                tournaments += 1
                zetas.append(kendall_zeta(cycles, m))
        out.append(Transitivity(judge, triads, circular,
                                float(np.mean(zetas)) if zetas else None, tournaments))
    return out


def repeat_agreement(table: ComparisonsTable) -> list[PairConsistency]:
    """Every judge's agreement on hidden repeated pairs, in the table's judge order."""
    by_judge: dict[str, list[float]] = {}
    for r in table.repeats:
        by_judge.setdefault(r.judge, []).append(1.0 - abs(r.first - r.again))
    return [PairConsistency(judge, len(by_judge.get(judge, [])),
                            float(np.mean(by_judge[judge])) if by_judge.get(judge) else None)
            for judge in table.judges]


def _num(value: float | None, digits: int = 2) -> str:
    return "n/a" if value is None else f"{value:.{digits}f}"
