"""Rating tables for the subjective-scoring tests: one worked by hand, seeded synthetic ones."""

from __future__ import annotations

import numpy as np

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
