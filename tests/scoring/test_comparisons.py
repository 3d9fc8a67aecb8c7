"""Pairwise comparisons as data: validation naming every bad record, outcomes, repeats apart."""

import pytest

from scoring.comparisons import Comparison, ComparisonsTable, InvalidComparisons


def test_comparisons_table_outcomes_counts_and_repeats():
    records = [Comparison("j1", "i1", "A", "B", "first"),
               Comparison("j1", "i1", "B", "C", "tie"),
               Comparison("j2", "i1", "C", "A", "first"),
               Comparison("j1", "i1", "B", "A", "second", repeat=1)]  # swapped sides, A again
    table = ComparisonsTable.from_comparisons(records)
    assert table.teams == ("A", "B", "C") and table.outcome.tolist() == [1.0, 0.5, 1.0]
    wins, losses, ties = table.counts()  # per team A, B, C
    assert (wins.tolist(), losses.tolist(), ties.tolist()) == ([1, 0, 1], [1, 1, 0], [0, 1, 1])
    assert table.has_ties
    (repeat,) = table.repeats
    assert (repeat.first_team, repeat.second_team, repeat.first, repeat.again) == (
        "A", "B", 1.0, 1.0)
    kept = table.without_judges(["j1"])
    assert kept.judges == ("j2",) and kept.judge_of.tolist() == [0] and kept.repeats == ()


def test_comparisons_table_may_start_empty_when_the_teams_are_named():
    table = ComparisonsTable.from_comparisons([], teams=["A", "B"])
    assert table.teams == ("A", "B") and table.outcome.size == 0


def test_comparisons_table_reports_every_bad_record_at_once():
    records = [Comparison("j1", "i1", "A", "A", "first"),
               Comparison("j1", "i1", "A", "Z", "first"),
               Comparison("j1", "", "A", "B", "left"),
               Comparison("j1", "i1", "A", "B", "tie"),
               Comparison("j2", "i1", "A", "B", "first", repeat=1)]
    with pytest.raises(InvalidComparisons) as caught:
        ComparisonsTable.from_comparisons(records, teams="AB", ties=False)
    assert caught.value.problems == [
        "comparison 0 (judge 'j1', image 'i1', 'A' vs 'A'): a team cannot be compared with itself",
        "comparison 1 (judge 'j1', image 'i1', 'A' vs 'Z'): unknown team(s) Z",
        "comparison 2 (judge 'j1', image '', 'A' vs 'B'): judge and image must be non-empty",
        "comparison 2 (judge 'j1', image '', 'A' vs 'B'): outcome 'left', need one of first, second",
        "comparison 3 (judge 'j1', image 'i1', 'A' vs 'B'): outcome 'tie', need one of first, second",
        "comparison 4 (judge 'j2', image 'i1'): repeat 1 of 'A' vs 'B' has no first comparison",
    ]
    with pytest.raises(InvalidComparisons, match="no comparisons and no teams"):
        ComparisonsTable.from_comparisons([])
