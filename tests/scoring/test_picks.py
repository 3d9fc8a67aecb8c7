"""Best-k picks as data: validation naming every bad trial, arrays and repeats kept apart."""

import pytest

from scoring.picks import InvalidPicks, PicksTable, PickTrial
from tests.scoring.studies import hand_picks


def test_picks_table_arrays_as_listed_by_hand():
    table = hand_picks()
    assert (table.judges, table.images, table.teams, table.k) == (
        ("j1", "j2", "j3"), ("i1", "i2"), ("A", "B", "C", "D"), 2)
    assert table.picked.sum(axis=(0, 1)).tolist() == [6, 3, 2, 1]
    assert table.shown.sum(axis=(0, 1)).tolist() == [6, 6, 6, 6]
    assert table.trials.all()


def test_picks_table_keeps_repeats_apart_and_drops_judges():
    trials = [PickTrial("j1", "i1", ("A", "B")), PickTrial("j1", "i1", ("A", "C"), repeat=1),
              PickTrial("j2", "i1", ("C", "D"), shown=("B", "C", "D"))]
    table = PicksTable.from_trials(trials, k=2, teams="ABCD")
    assert table.picked.sum() == 4  # the repeat is not a pick
    (repeat,) = table.repeats
    assert (repeat.first, repeat.again, repeat.shown) == (frozenset("AB"), frozenset("AC"), 4)
    assert table.shown[1, 0].tolist() == [False, True, True, True]
    kept = table.without_judges(["j1"])
    assert kept.judges == ("j2",) and kept.repeats == () and kept.picked.shape == (1, 1, 4)


def test_picks_table_reports_every_bad_trial_at_once():
    trials = [PickTrial("j1", "i1", ("A",)),  # one pick of two
              PickTrial("j1", "i2", ("A", "A")),  # the same team twice
              PickTrial("j1", "i3", ("A", "Z")),  # unknown team
              PickTrial("j1", "i4", ("A", "D"), shown=("A", "B", "C")),  # D not shown
              PickTrial("j1", "i5", ("A", "B"), shown=("A", "B")),  # nothing to choose from
              PickTrial("j1", "i6", ("A", "B")), PickTrial("j1", "i6", ("A", "C")),  # twice
              PickTrial("j2", "i1", ("A", "B"), repeat=1)]  # a repeat with no first trial
    with pytest.raises(InvalidPicks) as caught:
        PicksTable.from_trials(trials, k=2, teams="ABCD")
    problems = caught.value.problems
    assert problems == [
        "trial 0 (judge 'j1', image 'i1'): 1 team(s) picked, need exactly 2",
        "trial 1 (judge 'j1', image 'i2'): a team is picked twice in ['A', 'A']",
        "trial 1 (judge 'j1', image 'i2'): 1 team(s) picked, need exactly 2",
        "trial 2 (judge 'j1', image 'i3'): unknown team(s) Z",
        "trial 3 (judge 'j1', image 'i4'): picked team(s) D were not shown",
        "trial 4 (judge 'j1', image 'i5'): 2 team(s) shown, need more than the 2 picked",
        "trial 6 (judge 'j1', image 'i6'): picked twice with repeat=0",
        "trial 7 (judge 'j2', image 'i1'): repeat 1 has no first trial (repeat=0)",
    ]
    assert str(caught.value).startswith("invalid picks: trial 0")
    with pytest.raises(InvalidPicks, match="no picks"):
        PicksTable.from_trials([], k=3)
    with pytest.raises(InvalidPicks, match="k 0"):
        PicksTable.from_trials(trials, k=0)
