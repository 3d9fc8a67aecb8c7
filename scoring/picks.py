"""Best-k picks as data: each judge's picks of the best k results shown for an image, validated.

RAIM 2026 Track 3: for each of 50 images, each expert picked the best 3 of the 12 finalists'
results. A *trial* is one judge on one image (``PickTrial``): the teams shown and the k picked.
Hidden repeated trials (``repeat=1, 2...``) show an image again to measure the judge's
consistency; they are kept beside the first trials, never counted as picks.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np

from scoring.study import InvalidJudgements


class InvalidPicks(InvalidJudgements):
    KIND = "picks"


@dataclass(frozen=True)
class PickTrial:
    """One judge's picks on one image; ``shown`` empty means every team of the study."""

    judge: str
    image: str
    picked: tuple[str, ...]
    shown: tuple[str, ...] = ()
    repeat: int = 0


@dataclass(frozen=True)
class PickRepeat:
    """A judge's first and repeated picks on the same image."""

    judge: str
    image: str
    first: frozenset[str]
    again: frozenset[str]
    shown: int


@dataclass(frozen=True)
class PicksTable:
    """First trials as judges x images x teams boolean arrays, plus the repeated trials."""

    judges: tuple[str, ...]
    images: tuple[str, ...]
    teams: tuple[str, ...]
    k: int
    picked: np.ndarray  # (judges, images, teams) bool
    shown: np.ndarray  # (judges, images, teams) bool; all False where the judge had no trial
    repeats: tuple[PickRepeat, ...] = ()

    def without_judges(self, rejected: Iterable[str]) -> PicksTable:
        drop = set(rejected)
        keep = [i for i, judge in enumerate(self.judges) if judge not in drop]
        return PicksTable(tuple(self.judges[i] for i in keep), self.images, self.teams, self.k,
                          self.picked[keep], self.shown[keep],
                          tuple(r for r in self.repeats if r.judge not in drop))

    @property
    def trials(self) -> np.ndarray:
        """(judges, images) bool: which judge did which image."""
        return self.shown.any(axis=2)

    @classmethod
    def from_trials(cls, trials: Iterable[PickTrial], *, k: int,
                    teams: Sequence[str] | None = None) -> PicksTable:
        """Build the table; every bad trial is reported at once, naming its position."""
        records = list(trials)
        if not isinstance(k, int) or k < 1:
            raise InvalidPicks([f"k {k!r}: need a whole number of picks >= 1"])
        if not records:
            raise InvalidPicks(["no picks"])
        universe = tuple(sorted(set(teams) if teams is not None else
                                {t for r in records for t in (*r.picked, *r.shown)}))
        problems = _problems(records, k, universe)
        if problems:
            raise InvalidPicks(problems)
        return _assemble(records, k, universe)


def _problems(records: Sequence[PickTrial], k: int, universe: tuple[str, ...]) -> list[str]:
    problems: list[str] = []
    known = set(universe)
    seen: set[tuple[str, str, int]] = set()
    for i, r in enumerate(records):
        where = f"trial {i} (judge {r.judge!r}, image {r.image!r})"
        shown = set(r.shown) or known
        if not (r.judge and r.image):
            problems.append(f"{where}: judge and image must be non-empty")
        if len(set(r.picked)) != len(r.picked):
            problems.append(f"{where}: a team is picked twice in {list(r.picked)}")
        if len(set(r.picked)) != k:
            problems.append(f"{where}: {len(set(r.picked))} team(s) picked, need exactly {k}")
        strangers = sorted((set(r.picked) | set(r.shown)) - known)
        if strangers:
            problems.append(f"{where}: unknown team(s) {', '.join(strangers)}")
        unshown = sorted(set(r.picked) - shown - set(strangers))
        if unshown:
            problems.append(f"{where}: picked team(s) {', '.join(unshown)} were not shown")
        if len(shown) <= k:
            problems.append(f"{where}: {len(shown)} team(s) shown, need more than the {k} picked")
        if not isinstance(r.repeat, int) or r.repeat < 0:
            problems.append(f"{where}: repeat {r.repeat!r} must be an integer >= 0")
        key = (r.judge, r.image, r.repeat)
        if key in seen:
            problems.append(f"{where}: picked twice with repeat={r.repeat}")
        seen.add(key)
    firsts = {(r.judge, r.image) for r in records if r.repeat == 0}
    for i, r in enumerate(records):
        if isinstance(r.repeat, int) and r.repeat > 0 and (r.judge, r.image) not in firsts:
            problems.append(f"trial {i} (judge {r.judge!r}, image {r.image!r}): repeat "
                            f"{r.repeat} has no first trial (repeat=0)")
    return problems


def _assemble(records: Sequence[PickTrial], k: int, universe: tuple[str, ...]) -> PicksTable:
    judges = tuple(sorted({r.judge for r in records}))
    images = tuple(sorted({r.image for r in records}))
    row = {name: i for i, name in enumerate(judges)}
    col = {name: i for i, name in enumerate(images)}
    team = {name: i for i, name in enumerate(universe)}
    picked = np.zeros((len(judges), len(images), len(universe)), dtype=bool)
    shown = np.zeros_like(picked)
    first: dict[tuple[str, str], PickTrial] = {}
    for r in records:
        if r.repeat == 0:
            j, i = row[r.judge], col[r.image]
            shown[j, i, [team[t] for t in (r.shown or universe)]] = True
            picked[j, i, [team[t] for t in r.picked]] = True
            first[(r.judge, r.image)] = r
    repeats = tuple(
        PickRepeat(r.judge, r.image, frozenset(first[(r.judge, r.image)].picked),
                   frozenset(r.picked), len(r.shown or universe))
        for r in sorted(records, key=lambda r: (r.judge, r.image, r.repeat)) if r.repeat > 0)
    return PicksTable(judges, images, universe, k, picked, shown, repeats)
