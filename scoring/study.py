"""What every judging protocol shares: the confidence level, result statuses, ranks, bootstrap intervals.

A protocol (absolute ratings, best-k picks, pairwise comparisons) has a table of judgements and
models that turn it into one score per team. Whatever the protocol, its result says whether
scores could be made (``status``, with a ``reason`` for the organiser when not), and intervals
that come from resampling are drawn here, from one seeded generator, so they are deterministic.

``StudyModel`` and ``StudyResult`` are the interface ``scoring.final`` relies on.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Any, ClassVar, Protocol

import numpy as np

CONFIDENCE = 0.95
TIE_TOLERANCE = 1e-9

OK = "ok"
NO_ACCEPTED_JUDGES = "no_accepted_judges"
UNRATED_TEAMS = "unrated_teams"
STATUSES = (OK, NO_ACCEPTED_JUDGES, UNRATED_TEAMS)


class InvalidJudgements(ValueError):
    """Judgements that cannot be analysed; ``problems`` lists every bad record with its position."""

    KIND: ClassVar[str] = "judgements"

    def __init__(self, problems: Sequence[str]) -> None:
        self.problems = list(problems)
        super().__init__(f"invalid {self.KIND}: " + "; ".join(self.problems))


class StudyResult(Protocol):
    """A protocol's result as the final ranking reads it."""

    status: str
    reason: str | None

    @property
    def team_scores(self) -> dict[str, float]: ...

    @property
    def rejected_judges(self) -> list[dict]: ...

    @property
    def flagged_judges(self) -> list[dict]: ...

    def final_columns(self, team: str) -> dict[str, Any]: ...

    def to_json(self) -> dict: ...


class JudgedResult:
    """What every protocol's result derives from its ``judges`` and ``teams`` the same way.

    A result class sets ``JUDGE_COUNT`` (the judge field that counts their judgements:
    ``ratings``, ``comparisons``, ``images``) and ``HIDDEN_JUDGE_KEYS`` (keys of a judge's
    ``to_dict`` that the rejected-judge list leaves out).
    """

    JUDGE_COUNT: ClassVar[str]
    HIDDEN_JUDGE_KEYS: ClassVar[tuple[str, ...]] = ("accepted",)
    judges: tuple[Any, ...]
    teams: tuple[Any, ...]

    @property
    def team_scores(self) -> dict[str, float]:
        return {t.team: t.score for t in self.teams}

    @property
    def accepted_judges(self) -> tuple[str, ...]:
        return tuple(j.judge for j in self.judges if j.accepted)

    @property
    def rejected_judges(self) -> list[dict]:
        """Every rejected judge's ``to_dict``, less ``HIDDEN_JUDGE_KEYS``."""
        return [{k: v for k, v in j.to_dict().items() if k not in self.HIDDEN_JUDGE_KEYS}
                for j in self.judges if not j.accepted]

    @property
    def flagged_judges(self) -> list[dict]:
        """``[{"judge", "accepted", <JUDGE_COUNT>, "notes"}]`` for every judge to flag."""
        return [{"judge": j.judge, "accepted": j.accepted,
                 self.JUDGE_COUNT: getattr(j, self.JUDGE_COUNT), "notes": list(j.notes)}
                for j in self.judges if j.notes]

    def team(self, name: str) -> Any:
        """The team's scores (StopIteration when the team has none)."""
        return next(t for t in self.teams if t.team == name)


class StudyModel(Protocol):
    """A protocol's model: scores from a table, and one bootstrap draw of them."""

    TYPE: ClassVar[str]
    VERSION: ClassVar[str]
    RESAMPLED: ClassVar[str]

    @property
    def method(self) -> dict: ...

    def run(self, table: Any) -> StudyResult: ...

    def resample_team_scores(self, table: Any, rng: np.random.Generator) -> np.ndarray:
        """Team scores (in ``table.teams`` order) from one resample; NaN where not defined."""
        ...


def tied(a: float, b: float) -> bool:
    """Equal within ``TIE_TOLERANCE``, relative (so 0.1 + 0.2 ties 0.3)."""
    return abs(a - b) <= TIE_TOLERANCE * max(1.0, abs(a), abs(b))


def competition_ranks(values: np.ndarray) -> np.ndarray:
    """1-based ranks, highest value first; values equal within the tolerance share a rank."""
    values = np.asarray(values, dtype=float)
    order = np.argsort(-values, kind="stable")
    ranks = np.zeros(values.size, dtype=int)
    for position, index in enumerate(order):
        previous = order[position - 1] if position else None
        if previous is not None and tied(values[index], values[previous]):
            ranks[index] = ranks[previous]
        else:
            ranks[index] = position + 1
    return ranks


def bootstrap(draw: Callable[[np.random.Generator], np.ndarray], samples: int, seed: int,
              width: int) -> np.ndarray:
    """``samples`` draws of a vector of ``width`` scores from one generator seeded with
    ``seed``; draws with a NaN (a team left without judgements) are dropped.
    Returns valid draws x width."""
    if samples < 1:
        raise ValueError(f"bootstrap samples must be at least 1, not {samples}")
    rng = np.random.default_rng(seed)
    kept = [v for v in (np.asarray(draw(rng), dtype=float) for _ in range(samples))
            if not np.isnan(v).any()]
    return np.array(kept, dtype=float).reshape(len(kept), width)


def percentile_interval(column: np.ndarray) -> tuple[float, float] | None:
    """The 2.5th and 97.5th percentiles (linear interpolation) of one team's bootstrap scores."""
    if column.size == 0:
        return None
    tail = (1 - CONFIDENCE) / 2
    low, high = np.quantile(column, [tail, 1 - tail])
    return float(low), float(high)


def rank_interval(column: np.ndarray) -> tuple[int, int] | None:
    """The 2.5th and 97.5th percentiles of one team's bootstrap ranks (an observed rank each)."""
    if column.size == 0:
        return None
    tail = (1 - CONFIDENCE) / 2
    return (int(np.quantile(column, tail, method="inverted_cdf")),
            int(np.quantile(column, 1 - tail, method="inverted_cdf")))


def sampled_ranks(sampled: np.ndarray) -> np.ndarray:
    """Competition ranks within each bootstrap draw (draws x teams)."""
    return np.array([competition_ranks(row) for row in sampled], dtype=int).reshape(sampled.shape)


def all_rejected_reason(rejected: Iterable[tuple[str, Sequence[str]]]) -> str:
    """The organiser's message when screening leaves no judge: each judge with the first reason."""
    listed = "; ".join(f"{judge}: {reasons[0] if reasons else 'rejected'}"
                       for judge, reasons in rejected)
    return (f"every judge was rejected by screening, so no subjective score can be made "
            f"({listed}). Review the verdicts, then relax the screening or invite more judges.")
