"""Leaderboard ordering (pure) and visibility rules."""

from datetime import UTC, datetime, timedelta

import pytest

from app.leaderboard import Entry, rank_entries, visible_rows

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def entry(sub_id: int, team: str, score: float | None, *, minutes: int = 0,
          status: str = "scored") -> Entry:
    mean = None if score is None else {"psnr": 30.0, "ssim": 0.9, "lpips": 0.1, "dists": 0.1,
                                       "niqe": 5.0, "score": score}
    return Entry(sub_id, ord(team[0]), team, status, score, mean, T0 + timedelta(minutes=minutes))


def test_rank_entries_best_keeps_each_teams_highest_score():
    rows = rank_entries([entry(1, "a", 50.0), entry(2, "a", 70.0, minutes=1),
                         entry(3, "b", 60.0, minutes=2)], "best")
    assert [(r.rank, r.entry.team, r.entry.submission_id) for r in rows] == [
        (1, "a", 2), (2, "b", 3)]


def test_rank_entries_latest_takes_the_latest_scored_not_the_latest_failed():
    rows = rank_entries([entry(1, "a", 70.0), entry(2, "a", 40.0, minutes=1),
                         entry(3, "a", None, minutes=2, status="failed"),
                         entry(4, "b", 50.0, minutes=3)], "latest")
    assert [(r.entry.team, r.entry.submission_id) for r in rows] == [("b", 4), ("a", 2)]


def test_rank_entries_never_ranks_failed_queued_or_scoring():
    rows = rank_entries([entry(1, "a", None, status="failed"),
                         entry(2, "b", None, status="queued"),
                         entry(3, "c", None, status="scoring"),
                         entry(4, "d", -5.0)], "best")
    assert [r.entry.team for r in rows] == ["d"]


def test_rank_entries_tie_goes_to_the_earlier_submission():
    rows = rank_entries([entry(7, "late", 60.0, minutes=5), entry(9, "early", 60.0, minutes=1)],
                        "best")
    assert [r.entry.team for r in rows] == ["early", "late"]
    assert [r.rank for r in rows] == [1, 2]


def test_rank_entries_best_tie_within_a_team_keeps_the_earlier_submission():
    rows = rank_entries([entry(2, "a", 60.0, minutes=3), entry(1, "a", 60.0, minutes=1)], "best")
    assert rows[0].entry.submission_id == 1


def test_rank_entries_rejects_an_unknown_rule():
    with pytest.raises(ValueError, match="rank_by"):
        rank_entries([], "average")


def test_row_to_json_has_the_contract_keys():
    row = rank_entries([entry(1, "a", 50.0)], "best")[0].to_json()
    assert list(row) == ["rank", "team", "submission_id", "score", "psnr", "ssim", "lpips",
                         "dists", "niqe", "submitted_at"]
    assert row["submitted_at"] == T0.isoformat()


def test_visible_rows_private_shows_a_team_only_its_own_row():
    rows = rank_entries([entry(1, "a", 50.0), entry(2, "b", 60.0)], "best")
    mine = visible_rows(rows, "private", organiser=False, team_ids={ord("a")})
    assert [(r.rank, r.entry.team) for r in mine] == [(2, "a")]
    assert visible_rows(rows, "private", organiser=False, team_ids=set()) == []
    assert visible_rows(rows, "private", organiser=True, team_ids=set()) == rows


def test_visible_rows_hidden_exists_for_organisers_only():
    rows = rank_entries([entry(1, "a", 50.0)], "best")
    assert visible_rows(rows, "hidden", organiser=False, team_ids={ord("a")}) is None
    assert visible_rows(rows, "hidden", organiser=True, team_ids=set()) == rows
    assert visible_rows(rows, "public", organiser=False, team_ids=set()) == rows
