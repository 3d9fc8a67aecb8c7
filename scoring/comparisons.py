"""Pairwise comparisons as data: which of two teams' results a judge preferred on an image, or a tie.

A ``Comparison`` shows a judge two teams' results for one image (side by side, or flicking
against the reference) and records ``outcome``: ``"first"``, ``"second"`` or ``"tie"``.
Hidden repeats of a pair (``repeat=1, 2...``; the teams may be swapped) measure the judge's
consistency and never enter the scores, as with ratings. The same pair may be compared more
than once as first comparisons (active sampling may ask for it again): each counts.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np

from scoring.study import InvalidJudgements

OUTCOMES = ("first", "second", "tie")


class InvalidComparisons(InvalidJudgements):
    KIND = "comparisons"


@dataclass(frozen=True)
class Comparison:
    """One judge's preference between two teams' results for one image."""

    judge: str
    image: str
    first: str
    second: str
    outcome: str  # "first", "second" or "tie"
    repeat: int = 0


@dataclass(frozen=True)
class RepeatedPair:
    """A hidden repeat and the judge's first comparison of the same pair on the same image;
    outcomes as the first team's result: 1 won, 0 lost, 0.5 tie."""

    judge: str
    image: str
    first_team: str
    second_team: str
    first: float
    again: float


@dataclass(frozen=True)
class ComparisonsTable:
    """First comparisons as index arrays (one entry per comparison), plus the hidden repeats."""

    judges: tuple[str, ...]
    images: tuple[str, ...]
    teams: tuple[str, ...]
    judge_of: np.ndarray  # index into judges
    image_of: np.ndarray  # index into images
    a: np.ndarray  # index into teams of the first team
    b: np.ndarray  # ... of the second team
    outcome: np.ndarray  # float: 1 the first team won, 0 the second, 0.5 a tie
    repeats: tuple[RepeatedPair, ...] = ()

    @property
    def has_ties(self) -> bool:
        return bool(np.any(self.outcome == 0.5))

    def take(self, index: np.ndarray) -> ComparisonsTable:
        """The table with only the comparisons at ``index`` (in that order, repeats allowed)."""
        return ComparisonsTable(self.judges, self.images, self.teams, self.judge_of[index],
                                self.image_of[index], self.a[index], self.b[index],
                                self.outcome[index], self.repeats)

    def without_judges(self, rejected: Iterable[str]) -> ComparisonsTable:
        """The same table without the named judges (their comparisons and repeats)."""
        drop = set(rejected)
        keep_judges = tuple(j for j in self.judges if j not in drop)
        new_index = {j: i for i, j in enumerate(keep_judges)}
        old = np.array([new_index.get(j, -1) for j in self.judges], dtype=int)
        mask = old[self.judge_of] >= 0 if self.judge_of.size else np.zeros(0, dtype=bool)
        return ComparisonsTable(keep_judges, self.images, self.teams, old[self.judge_of[mask]],
                                self.image_of[mask], self.a[mask], self.b[mask],
                                self.outcome[mask],
                                tuple(r for r in self.repeats if r.judge not in drop))

    def counts(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Wins, losses and ties of each team over the first comparisons."""
        n = len(self.teams)
        wins = (np.bincount(self.a, self.outcome == 1, n) + np.bincount(self.b, self.outcome == 0, n))
        losses = (np.bincount(self.a, self.outcome == 0, n)
                  + np.bincount(self.b, self.outcome == 1, n))
        ties = np.bincount(self.a, self.outcome == 0.5, n) + np.bincount(self.b, self.outcome == 0.5, n)
        return wins.astype(int), losses.astype(int), ties.astype(int)

    @classmethod
    def from_comparisons(cls, comparisons: Iterable[Comparison], *,
                         teams: Sequence[str] | None = None,
                         ties: bool = True) -> ComparisonsTable:
        """Build the table; every bad comparison is reported at once, naming its position.

        ``teams`` names every team of the study (a team nobody compared yet is still one; with
        ``teams`` the comparisons may be none yet, as when active sampling starts);
        ``ties=False`` refuses tie outcomes (a forced-choice study)."""
        records = list(comparisons)
        universe = tuple(sorted(set(teams) if teams is not None else
                                {t for r in records for t in (r.first, r.second)}))
        problems = _problems(records, universe, ties)
        if problems:
            raise InvalidComparisons(problems)
        return _assemble(records, universe)


def _problems(records: Sequence[Comparison], universe: tuple[str, ...], ties: bool) -> list[str]:
    problems: list[str] = []
    known = set(universe)
    allowed = OUTCOMES if ties else OUTCOMES[:2]
    for i, r in enumerate(records):
        where = f"comparison {i} (judge {r.judge!r}, image {r.image!r}, {r.first!r} vs {r.second!r})"
        if not (r.judge and r.image):
            problems.append(f"{where}: judge and image must be non-empty")
        if r.first == r.second:
            problems.append(f"{where}: a team cannot be compared with itself")
        strangers = sorted({r.first, r.second} - known)
        if strangers:
            problems.append(f"{where}: unknown team(s) {', '.join(map(str, strangers))}")
        if r.outcome not in allowed:
            problems.append(f"{where}: outcome {r.outcome!r}, need one of {', '.join(allowed)}")
        if not isinstance(r.repeat, int) or r.repeat < 0:
            problems.append(f"{where}: repeat {r.repeat!r} must be an integer >= 0")
    firsts = {(r.judge, r.image, frozenset((r.first, r.second))) for r in records
              if r.repeat == 0}
    for i, r in enumerate(records):
        key = (r.judge, r.image, frozenset((r.first, r.second)))
        if isinstance(r.repeat, int) and r.repeat > 0 and key not in firsts:
            problems.append(f"comparison {i} (judge {r.judge!r}, image {r.image!r}): repeat "
                            f"{r.repeat} of {r.first!r} vs {r.second!r} has no first comparison")
    if not records and not universe:
        problems.append("no comparisons and no teams")
    return problems


def _as_first(r: Comparison, first_team: str) -> float:
    """The outcome as ``first_team``'s result: 1 won, 0 lost, 0.5 tie."""
    if r.outcome == "tie":
        return 0.5
    winner = r.first if r.outcome == "first" else r.second
    return 1.0 if winner == first_team else 0.0


def _assemble(records: Sequence[Comparison], universe: tuple[str, ...]) -> ComparisonsTable:
    judges = tuple(sorted({r.judge for r in records}))
    images = tuple(sorted({r.image for r in records}))
    row = {name: i for i, name in enumerate(judges)}
    col = {name: i for i, name in enumerate(images)}
    team = {name: i for i, name in enumerate(universe)}
    firsts = [r for r in records if r.repeat == 0]
    earliest: dict[tuple[str, str, frozenset[str]], Comparison] = {}
    for r in firsts:
        earliest.setdefault((r.judge, r.image, frozenset((r.first, r.second))), r)
    repeats = []
    for r in records:
        if r.repeat > 0:
            base = earliest[(r.judge, r.image, frozenset((r.first, r.second)))]
            repeats.append(RepeatedPair(r.judge, r.image, base.first, base.second,
                                        _as_first(base, base.first), _as_first(r, base.first)))
    return ComparisonsTable(
        judges=judges, images=images, teams=universe,
        judge_of=np.array([row[r.judge] for r in firsts], dtype=int),
        image_of=np.array([col[r.image] for r in firsts], dtype=int),
        a=np.array([team[r.first] for r in firsts], dtype=int),
        b=np.array([team[r.second] for r in firsts], dtype=int),
        outcome=np.array([_as_first(r, r.first) for r in firsts], dtype=float),
        repeats=tuple(repeats))
