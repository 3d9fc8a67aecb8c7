"""Judgement tables for the subjective-scoring tests: ones worked by hand, seeded synthetic ones."""

from __future__ import annotations

import numpy as np

from scoring.comparisons import Comparison, ComparisonsTable
from scoring.picks import PicksTable, PickTrial
from scoring.ratings import Rating, RatingsTable

HAND_JUDGES = tuple(f"J{i:02d}" for i in range(1, 11))

# Ten judges, two images, two teams (four stimuli). Scores per stimulus, judges J01..J10:
HAND_SCORES: dict[tuple[str, str], list[float]] = {
    # mean 7; deviations -1 (x6), +1 (x3), +3 (J10)
    ("i1", "A"): [6, 6, 6, 6, 6, 6, 8, 8, 8, 10],
    # the mirror image: mean 7, J10 three below
    ("i1", "B"): [8, 8, 8, 8, 8, 8, 6, 6, 6, 4],
    # as i1/A with J09 and J10 swapped: J09 three above
    ("i2", "A"): [6, 6, 6, 6, 6, 6, 8, 8, 10, 8],
    # mean 5; eight judges at 5, J08 two below, J09 two above
    ("i2", "B"): [5, 5, 5, 5, 5, 5, 5, 3, 7, 5],
}


def hand_ratings() -> list[Rating]:
    return [Rating(judge, image, team, float(score))
            for (image, team), scores in HAND_SCORES.items()
            for judge, score in zip(HAND_JUDGES, scores, strict=True)]


def hand_table() -> RatingsTable:
    return RatingsTable.from_ratings(hand_ratings())


def synthetic_ratings(*, seed: int = 7, judges: int = 18, teams: int = 10, images: int = 10,
                      erratic: int | None = 17, noise: float = 0.6, swing: float = 3.0,
                      biases: float = 0.4, repeats: int = 4) -> list[Rating]:
    """A 1..10 study: team quality 2.5..8.5 in equal steps, a bias and noise per judge, integer
    scores; the ``erratic`` judge (index) scores ``swing`` above or below the truth in turn.
    Each judge sees ``repeats`` stimuli a second time."""
    rng = np.random.default_rng(seed)
    quality = np.linspace(2.5, 8.5, teams)
    image_effect = rng.normal(0.0, 0.3, images)
    bias = rng.normal(0.0, biases, judges)
    ratings: list[Rating] = []
    for j in range(judges):
        def score(t: int, i: int, j: int = j) -> float:
            if j == erratic:  # far from the truth, above and below in turn
                raw = quality[t] + image_effect[i] + (swing if (t + i) % 2 else -swing)
            else:
                raw = quality[t] + image_effect[i] + bias[j] + rng.normal(0.0, noise)
            return float(np.clip(np.round(raw), 1, 10))
        for i in range(images):
            for t in range(teams):
                ratings.append(Rating(f"judge{j:02d}", f"img{i}", f"team{t}", score(t, i)))
        for k in rng.choice(images * teams, size=repeats, replace=False):
            i, t = divmod(int(k), teams)
            ratings.append(Rating(f"judge{j:02d}", f"img{i}", f"team{t}", score(t, i), repeat=1))
    return ratings


def synthetic_table(**options) -> RatingsTable:
    return RatingsTable.from_ratings(synthetic_ratings(**options), scale=(1, 10))


# Best 2 of 4 (teams A-D), three judges, two images. Picks per team: A 6, B 3, C 2, D 1, each
# team shown 6 times; image i1: A 3, B 2, C 1, D 0; image i2: A 3, B 1, C 1, D 1.
HAND_PICKS = (("j1", "i1", ("A", "B")), ("j1", "i2", ("A", "C")),
              ("j2", "i1", ("A", "C")), ("j2", "i2", ("A", "B")),
              ("j3", "i1", ("B", "A")), ("j3", "i2", ("A", "D")))


def hand_picks() -> PicksTable:
    return PicksTable.from_trials((PickTrial(j, i, p) for j, i, p in HAND_PICKS), k=2,
                                  teams=("A", "B", "C", "D"))


# Bradley-Terry strengths 4 : 2 : 1 and counts proportional to the model's probabilities
# (A beats B 4 of 6 = 4/(4+2); A beats C 4 of 5 = 4/(4+1); B beats C 2 of 3 = 2/(2+1)), so the
# maximum likelihood scores are exactly log 4, log 2, log 1, centred.
TOURNAMENT = (("A", "B", 4, 2), ("A", "C", 4, 1), ("B", "C", 2, 1))


def tournament_comparisons(judge: str = "j1", image: str = "i1") -> list[Comparison]:
    return [Comparison(judge, image, first, second, outcome)
            for first, second, won, lost in TOURNAMENT
            for outcome in ["first"] * won + ["second"] * lost]


def tournament() -> ComparisonsTable:
    return ComparisonsTable.from_comparisons(tournament_comparisons())


def synthetic_picks(*, seed: int = 1, judges: int = 6, teams: int = 12, images: int = 30,
                    k: int = 3, random_judge: int | None = 5) -> PicksTable:
    """Best k of ``teams``: each judge picks the top k of quality (0..3 in equal steps) plus
    Gumbel noise; the ``random_judge`` (index) picks on noise alone."""
    rng = np.random.default_rng(seed)
    quality = np.linspace(0.0, 3.0, teams)
    names = [f"t{t:02d}" for t in range(teams)]
    trials = []
    for j in range(judges):
        for i in range(images):
            noise = rng.gumbel(size=teams)
            utility = noise if j == random_judge else quality + noise
            picked = tuple(names[t] for t in np.argsort(-utility)[:k])
            trials.append(PickTrial(f"judge{j}", f"img{i:02d}", picked))
    return PicksTable.from_trials(trials, k=k, teams=names)


def synthetic_comparisons(*, seed: int = 2, judges: int = 5, teams: int = 6,
                          per_judge: int = 60, contrarian: int | None = 4,
                          tie_share: float = 0.0) -> ComparisonsTable:
    """Random pairs judged by Bradley-Terry with scores 0..2 in equal steps; the
    ``contrarian`` judge (index) prefers the worse team as often as the others the better."""
    rng = np.random.default_rng(seed)
    score = np.linspace(0.0, 2.0, teams)
    names = [f"t{t}" for t in range(teams)]
    records = []
    for j in range(judges):
        for n in range(per_judge):
            a, b = rng.choice(teams, 2, replace=False)
            d = score[a] - score[b]
            p = 1 / (1 + np.exp(d if j == contrarian else -d))
            u = rng.random()
            outcome = ("tie" if u < tie_share else
                       "first" if u < tie_share + (1 - tie_share) * p else "second")
            records.append(Comparison(f"judge{j}", f"img{n % 5}", names[a], names[b], outcome))
    return ComparisonsTable.from_comparisons(records)
