"""GET /api/challenges/{c}/phases/{p}/leaderboard: rows, ordering, visibility per phase, and the
board kept while a phase is rescored."""

import pytest
from sqlalchemy import update

from app.config import get_settings
from app.db import session_scope
from app.jobs import worker
from app.models import Phase
from tests.utils.arena import post_zip, zip_folder
from tests.utils.jobs import evaluation, finish

URL = "/api/challenges/raim-test/phases/validation/leaderboard"


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
    assert worker.score_next() is worker.Outcome.SCORED
    row = client.get(URL).json()["rows"][0]
    detail = client.get(f"/api/submissions/{sub_id}", headers=arena.auth("alpha")).json()
    assert row["submission_id"] == sub_id and row["score"] == pytest.approx(detail["mean"]["score"])


def store(sub_id: int, score: float) -> None:
    """The worker claims the queued submission and stores new results scoring ``score``."""
    job = worker.claim(sub_id, "test-worker", get_settings())
    assert job is not None and worker.store_results(job, evaluation(score))


def board(client) -> list[tuple]:
    return [(r["rank"], r["team"], r["submission_id"], r["score"], r["rescore"])
            for r in client.get(URL).json()["rows"]]


def test_phase_rescore_keeps_every_team_on_the_board_until_its_new_score_is_stored(
        client, arena, tmp_path):
    good = zip_folder(arena.samples.pred, tmp_path / "r.zip")
    a1, a2 = (post_zip(client, arena, good, who="alpha").json()["id"] for _ in range(2))
    b1 = post_zip(client, arena, good, who="beta").json()["id"]
    for sub_id, score in ((a1, 40.0), (a2, 70.0), (b1, 60.0)):
        store(sub_id, score)
    assert board(client) == [(1, "alpha", a2, 70.0, None), (2, "beta", b1, 60.0, None)]

    answer = client.post("/api/organiser/challenges/raim-test/phases/validation/rescore",
                         headers=arena.auth("organiser"))
    assert answer.status_code == 202 and answer.json() == {"queued": [a1, a2, b1]}
    assert board(client) == [(1, "alpha", a2, 70.0, "pending"), (2, "beta", b1, 60.0, "pending")]
    mine = client.get(URL, headers=arena.auth("alpha")).json()["rows"][0]
    assert mine["psnr"] == 30.0  # the means are the previous ones too

    store(a1, 45.0)  # alpha's other submission: 70 still stands until a2 is rescored
    assert board(client) == [(1, "alpha", a2, 70.0, "pending"), (2, "beta", b1, 60.0, "pending")]
    store(b1, 65.0)
    assert board(client) == [(1, "alpha", a2, 70.0, "pending"), (2, "beta", b1, 65.0, None)]
    store(a2, 50.0)
    assert board(client) == [(1, "beta", b1, 65.0, None), (2, "alpha", a2, 50.0, None)]


def test_failed_rescore_keeps_the_previous_score_flagged_until_a_rescore_succeeds(
        client, arena, tmp_path):
    good = zip_folder(arena.samples.pred, tmp_path / "r.zip")
    sub_id = post_zip(client, arena, good).json()["id"]
    store(sub_id, 55.0)
    rescore = f"/api/organiser/submissions/{sub_id}/rescore"
    assert client.post(rescore, headers=arena.auth("organiser")).status_code == 202
    job = worker.claim(sub_id, "test-worker", get_settings())
    worker.fail(job, "001.png: the ground truth changed size")
    assert board(client) == [(1, "alpha", sub_id, 55.0, "failed")]
    detail = client.get(f"/api/submissions/{sub_id}", headers=arena.auth("alpha")).json()
    assert detail["status"] == "failed" and detail["mean"] == {}  # the submission says why
    assert client.post(rescore, headers=arena.auth("organiser")).status_code == 202
    assert board(client) == [(1, "alpha", sub_id, 55.0, "pending")]
    store(sub_id, 52.0)
    assert board(client) == [(1, "alpha", sub_id, 52.0, None)]
