"""The ratings table: matrix layout, repeated trials, and validation that names every bad record."""

import math

import numpy as np
import pytest

from scoring.ratings import InvalidRatings, Rating, RatingsTable


def test_ratings_table_lays_out_judges_by_stimuli_with_gaps_as_nan():
    table = RatingsTable.from_ratings([
        Rating("ann", "img2", "teamB", 7), Rating("bob", "img1", "teamA", 4),
        Rating("ann", "img1", "teamA", 5),
    ])
    assert table.judges == ("ann", "bob")
    assert table.stimuli == (("img1", "teamA"), ("img2", "teamB"))
    assert table.scores[0].tolist() == [5.0, 7.0]
    assert table.scores[1, 0] == 4.0 and math.isnan(table.scores[1, 1])
    assert table.team_of.tolist() == [0, 1] and table.image_of.tolist() == [0, 1]


def test_ratings_table_keeps_repeats_beside_first_ratings():
    table = RatingsTable.from_ratings([
        Rating("ann", "img1", "teamA", 5), Rating("ann", "img1", "teamA", 6, repeat=1),
        Rating("ann", "img1", "teamA", 4, repeat=2),
    ])
    assert table.scores.tolist() == [[5.0]]
    assert [(p.first, p.again) for p in table.repeats] == [(5.0, 6.0), (5.0, 4.0)]


def test_ratings_table_reports_every_bad_record_with_its_position():
    with pytest.raises(InvalidRatings) as caught:
        RatingsTable.from_ratings([
            Rating("ann", "img1", "teamA", float("nan")),
            Rating("ann", "img1", "teamB", 11),
            Rating("ann", "img1", "teamB", 3),
            Rating("bob", "img1", "teamA", 5, repeat=1),
            Rating("", "img1", "teamA", 5),
        ], scale=(1, 10))
    problems = caught.value.problems
    assert any(p.startswith("rating 0") and "not a finite number" in p for p in problems)
    assert any(p.startswith("rating 1") and "outside the scale 1..10" in p for p in problems)
    assert any(p.startswith("rating 2") and "rated twice" in p for p in problems)
    assert any(p.startswith("rating 3") and "no first rating" in p for p in problems)
    assert any(p.startswith("rating 4") and "non-empty" in p for p in problems)


def test_ratings_table_rejects_an_empty_study():
    with pytest.raises(InvalidRatings, match="no ratings"):
        RatingsTable.from_ratings([])


def test_ratings_table_without_judges_drops_their_rows_and_repeats():
    table = RatingsTable.from_ratings([
        Rating("ann", "img1", "teamA", 5), Rating("bob", "img1", "teamA", 2),
        Rating("bob", "img1", "teamA", 9, repeat=1),
    ])
    kept = table.without_judges(["bob"])
    assert kept.judges == ("ann",)
    assert np.array_equal(kept.scores, np.array([[5.0]]))
    assert kept.repeats == ()
