"""The ratings table of a subjective study: validated (judge, image, team, score) records.

A *stimulus* is one team's result for one test image. Each judge rates a stimulus once
(``repeat=0``); hidden repeated trials show the same stimulus again and are recorded with
``repeat=1, 2, ...``. The table keeps first ratings in a judges x stimuli matrix (NaN where
a judge did not rate) and repeated ratings beside it, for the consistency check.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np

from scoring.study import InvalidJudgements


class InvalidRatings(InvalidJudgements):
    """Ratings that cannot be analysed; ``problems`` lists every bad record with its position."""

    KIND = "ratings"


@dataclass(frozen=True)
class Rating:
    """One score given by one judge to one team's result for one image."""

    judge: str
    image: str
    team: str
    score: float
    repeat: int = 0


@dataclass(frozen=True)
class RepeatPair:
    """A judge's first and repeated score for the same stimulus."""

    judge: str
    image: str
    team: str
    first: float
    again: float


@dataclass(frozen=True)
class RatingsTable:
    """First ratings as a judges x stimuli matrix, plus the repeated-trial pairs."""

    judges: tuple[str, ...]
    images: tuple[str, ...]
    teams: tuple[str, ...]
    stimuli: tuple[tuple[str, str], ...]  # (image, team) per column
    scores: np.ndarray  # shape (judges, stimuli), NaN where not rated
    repeats: tuple[RepeatPair, ...] = ()

    @property
    def image_of(self) -> np.ndarray:
        """Index into ``images`` of each column."""
        index = {name: i for i, name in enumerate(self.images)}
        return np.array([index[image] for image, _ in self.stimuli], dtype=int)

    @property
    def team_of(self) -> np.ndarray:
        """Index into ``teams`` of each column."""
        index = {name: i for i, name in enumerate(self.teams)}
        return np.array([index[team] for _, team in self.stimuli], dtype=int)

    def without_judges(self, rejected: Iterable[str]) -> RatingsTable:
        """The same table with the named judges' rows (and repeats) removed."""
        drop = set(rejected)
        keep = [i for i, judge in enumerate(self.judges) if judge not in drop]
        return RatingsTable(
            judges=tuple(self.judges[i] for i in keep), images=self.images, teams=self.teams,
            stimuli=self.stimuli, scores=self.scores[keep],
            repeats=tuple(p for p in self.repeats if p.judge not in drop),
        )

    @classmethod
    def from_ratings(
        cls, ratings: Iterable[Rating], *, scale: tuple[float, float] | None = None
    ) -> RatingsTable:
        """Build the table; every bad record is reported at once, naming its position and values."""
        records = list(ratings)
        problems = _problems(records, scale)
        if problems:
            raise InvalidRatings(problems)
        if not records:
            raise InvalidRatings(["no ratings"])
        return _assemble(records)


def _problems(records: Sequence[Rating], scale: tuple[float, float] | None) -> list[str]:
    problems: list[str] = []
    seen: set[tuple[str, str, str, int]] = set()
    for i, r in enumerate(records):
        where = f"rating {i} (judge {r.judge!r}, image {r.image!r}, team {r.team!r})"
        if not (r.judge and r.image and r.team):
            problems.append(f"{where}: judge, image and team must be non-empty")
        if not isinstance(r.score, numbers.Real) or not math.isfinite(r.score):
            problems.append(f"{where}: score {r.score!r} is not a finite number")
        elif scale is not None and not scale[0] <= r.score <= scale[1]:
            problems.append(f"{where}: score {r.score} is outside the scale {scale[0]}..{scale[1]}")
        if not isinstance(r.repeat, int) or r.repeat < 0:
            problems.append(f"{where}: repeat {r.repeat!r} must be an integer >= 0")
        key = (r.judge, r.image, r.team, r.repeat)
        if key in seen:
            problems.append(f"{where}: rated twice with repeat={r.repeat}")
        seen.add(key)
    firsts = {(r.judge, r.image, r.team) for r in records if r.repeat == 0}
    for i, r in enumerate(records):
        if isinstance(r.repeat, int) and r.repeat > 0 and (r.judge, r.image, r.team) not in firsts:
            problems.append(f"rating {i} (judge {r.judge!r}, image {r.image!r}, team {r.team!r}): "
                            f"repeat {r.repeat} has no first rating (repeat=0)")
    return problems


def _assemble(records: Sequence[Rating]) -> RatingsTable:
    judges = tuple(sorted({r.judge for r in records}))
    stimuli = tuple(sorted({(r.image, r.team) for r in records}))
    row = {judge: i for i, judge in enumerate(judges)}
    col = {stimulus: j for j, stimulus in enumerate(stimuli)}
    scores = np.full((len(judges), len(stimuli)), np.nan)
    first: dict[tuple[str, str, str], float] = {}
    for r in records:
        if r.repeat == 0:
            scores[row[r.judge], col[(r.image, r.team)]] = float(r.score)
            first[(r.judge, r.image, r.team)] = float(r.score)
    repeats = tuple(
        RepeatPair(r.judge, r.image, r.team, first[(r.judge, r.image, r.team)], float(r.score))
        for r in sorted(records, key=lambda r: (r.judge, r.image, r.team, r.repeat))
        if r.repeat > 0
    )
    return RatingsTable(
        judges=judges, images=tuple(sorted({r.image for r in records})),
        teams=tuple(sorted({r.team for r in records})), stimuli=stimuli, scores=scores,
        repeats=repeats,
    )
