"""GET /api/challenges/{c}/phases/{p}/leaderboard: rows, ordering, visibility per phase."""

import pytest
from sqlalchemy import update

from app.db import session_scope
from app.jobs import worker
from app.models import Phase, Submission
from tests.app.api.test_submissions import post_zip
from tests.utils.arena import zip_folder

URL = "/api/challenges/raim-test/phases/validation/leaderboard"


def finish(sub_id: int, status: str, score: float | None) -> None:
    """Record a finished submission directly (the ranking only reads the row)."""
    mean = None if score is None else {"psnr": 30.0, "ssim": 0.9, "lpips": 0.1, "dists": 0.1,
                                       "niqe": 5.0, "score": score}
    with session_scope() as session:
        sub = session.get_one(Submission, sub_id)
        sub.status, sub.score, sub.mean = status, score, mean


def set_visibility(value: str) -> None:
    with session_scope() as session:
        session.execute(update(Phase).values(leaderboard=value))


@pytest.fixture
def ranked(client, arena, tmp_path):
    """alpha: 40 then a failed one; beta: 60. Returns their submission ids."""
    good = zip_folder(arena.samples.pred, tmp_path / "r.zip")
    ids = {name: [post_zip(client, arena, good, who=name).json()["id"] for _ in range(2)]
           for name in ("alpha", "beta")}
    finish(ids["alpha"][0], "scored", 40.0)
    finish(ids["alpha"][1], "failed", None)
    finish(ids["beta"][0], "scored", 60.0)
    return ids


def test_read_leaderboard_public_ranks_one_row_per_team_without_failures(client, arena, ranked):
    body = client.get(URL).json()
    assert [(r["rank"], r["team"], r["submission_id"], r["score"]) for r in body["rows"]] == [
        (1, "beta", ranked["beta"][0], 60.0), (2, "alpha", ranked["alpha"][0], 40.0)]
    assert body["rows"][0]["psnr"] == 30.0 and body["rows"][0]["submitted_at"]


def test_read_leaderboard_private_shows_teams_only_their_row(client, arena, ranked):
    set_visibility("private")
    assert client.get(URL).json()["rows"] == []
    mine = client.get(URL, headers=arena.auth("alpha")).json()["rows"]
    assert [(r["rank"], r["team"]) for r in mine] == [(2, "alpha")]
    assert len(client.get(URL, headers=arena.auth("organiser")).json()["rows"]) == 2


def test_read_leaderboard_hidden_is_404_except_for_organisers(client, arena, ranked):
    set_visibility("hidden")
    assert client.get(URL).status_code == 404
    assert client.get(URL, headers=arena.auth("alpha")).status_code == 404
    assert client.get(URL, headers=arena.auth("organiser")).status_code == 200


def test_read_leaderboard_unknown_phase_is_404(client, arena):
    response = client.get("/api/challenges/raim-test/phases/nope/leaderboard")
    assert response.status_code == 404 and "nope" in response.json()["detail"]


@pytest.mark.slow
def test_read_leaderboard_ranks_a_really_scored_submission(client, arena, tmp_path, weights_dir):
    good = zip_folder(arena.samples.pred, tmp_path / "r.zip")
    sub_id = post_zip(client, arena, good).json()["id"]
    assert worker.score_submission(sub_id) is worker.Outcome.SCORED
    row = client.get(URL).json()["rows"][0]
    detail = client.get(f"/api/submissions/{sub_id}", headers=arena.auth("alpha")).json()
    assert row["submission_id"] == sub_id and row["score"] == pytest.approx(detail["mean"]["score"])
