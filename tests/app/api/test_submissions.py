"""POST /score and GET /api/submissions/{id}: acceptance, every refusal, and the result contract."""

import hashlib
from datetime import timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select, update

from app.config import get_settings
from app.db import session_scope
from app.jobs import worker
from app.main import create_app
from app.models import Challenge, Phase, Submission, utcnow
from metrics.numerics import NUMERICS_VERSION
from tests.utils.arena import Arena, add_phase, post_zip, zip_folder


def submission_count() -> int:
    with session_scope() as session:
        return session.scalar(select(func.count(Submission.id))) or 0


def stored_uploads() -> list[Path]:
    return [p for p in get_settings().uploads_dir.rglob("*") if p.is_file()]


@pytest.fixture
def good_zip(arena: Arena, tmp_path: Path) -> Path:
    return zip_folder(arena.samples.pred, tmp_path / "results.zip")


def test_create_submission_accepts_and_queues(client, arena, good_zip):
    response = post_zip(client, arena, good_zip)
    assert response.status_code == 202, response.text
    body = response.json()
    assert body["status"] == "queued" and body["phase"] == "validation"
    assert body["status_url"].endswith(f"/api/submissions/{body['id']}")
    with session_scope() as session:
        sub = session.get_one(Submission, body["id"])
        stored = get_settings().data_dir / sub.upload_path
        assert sub.upload_sha256 == hashlib.sha256(good_zip.read_bytes()).hexdigest()
        assert sub.upload_bytes == good_zip.stat().st_size and sub.image_count == 3
    assert stored.read_bytes() == good_zip.read_bytes()
    assert stored_uploads() == [stored]  # the temporary file is gone


def test_create_submission_with_explicit_phase(client, arena, good_zip):
    response = post_zip(client, arena, good_zip, phase="raim-test/validation")
    assert response.status_code == 202, response.text


def test_create_submission_names_the_options_when_two_paired_phases_are_open(client, arena,
                                                                             good_zip):
    with session_scope() as session:
        challenge_id = session.scalar(select(Challenge.id))
    add_phase(challenge_id, "second", arena.samples.gt, position=1)
    response = post_zip(client, arena, good_zip)
    assert response.status_code == 400
    assert "raim-test/validation" in response.json()["detail"]
    assert "raim-test/second" in response.json()["detail"]
    assert submission_count() == 0


def test_create_submission_lists_every_problem_and_stores_nothing(client, arena, tmp_path):
    bad = zip_folder(arena.samples.pred, tmp_path / "bad.zip", skip=("002.png",),
                     extra={"003.png.txt": b"x", "004.png": b"not an image"})
    response = post_zip(client, arena, bad)
    assert response.status_code == 400
    problems = {(p["file"], p["message"].split(":")[0]) for p in response.json()["problems"]}
    assert ("002.png", "missing") in problems
    assert any(file == "004.png" for file, _ in problems)
    assert any(file == "003.png.txt" for file, _ in problems)
    assert submission_count() == 0 and stored_uploads() == []


def test_create_submission_refuses_a_file_that_is_not_a_zip(client, arena, tmp_path):
    not_zip = tmp_path / "results.zip"
    not_zip.write_bytes(b"plain text")
    response = post_zip(client, arena, not_zip)
    assert response.status_code == 400
    assert response.json()["problems"] == [{"file": "results.zip", "message": "not a zip archive"}]
    assert stored_uploads() == []


def test_create_submission_bad_token_is_401(client, arena, good_zip):
    arena.tokens["alpha"] = "raim_not-a-real-token-at-all"
    response = post_zip(client, arena, good_zip)
    assert response.status_code == 401
    assert response.json()["detail"] == "invalid or revoked API token"


def test_create_submission_without_credentials_is_401(client, arena):
    assert client.post("/score", files={"file": ("a.zip", b"x")}).status_code == 401


def test_create_submission_closed_phase_is_403(client, arena, good_zip):
    with session_scope() as session:
        session.execute(update(Phase).values(end=utcnow() - timedelta(hours=1)))
    response = post_zip(client, arena, good_zip, phase="validation")
    assert response.status_code == 403
    assert "closed at" in response.json()["detail"]
    assert submission_count() == 0


def test_create_submission_over_the_size_limit_is_413(client, arena, good_zip, monkeypatch):
    monkeypatch.setenv("RAIM_MAX_UPLOAD_BYTES", str(good_zip.stat().st_size - 1))
    get_settings.cache_clear()
    response = post_zip(client, arena, good_zip)
    assert response.status_code == 413
    assert response.json()["problems"][0]["file"] == "results.zip"
    assert submission_count() == 0 and stored_uploads() == []


def test_create_submission_daily_quota_429_and_failed_ones_do_not_count(db_url, scorable_set,
                                                                        tmp_path, client):
    from tests.utils.arena import build_arena

    arena = build_arena(scorable_set, per_day=1)
    good = zip_folder(arena.samples.pred, tmp_path / "r.zip")
    first = post_zip(client, arena, good)
    assert first.status_code == 202
    with session_scope() as session:
        session.get_one(Submission, first.json()["id"]).status = "failed"
    assert post_zip(client, arena, good).status_code == 202  # the failed one cost nothing
    refused = post_zip(client, arena, good)
    assert refused.status_code == 429
    body = refused.json()
    assert body["limit"] == 1 and body["period"] == "day"
    assert body["resets_at"].endswith("T00:00:00+00:00") and body["resets_at"] in body["detail"]
    assert int(refused.headers["retry-after"]) > 0
    assert post_zip(client, arena, good, who="beta").status_code == 202  # per team
    assert submission_count() == 3


def test_create_submission_total_quota_429(db_url, scorable_set, tmp_path, client):
    from tests.utils.arena import build_arena

    arena = build_arena(scorable_set, total=1)
    good = zip_folder(arena.samples.pred, tmp_path / "r.zip")
    assert post_zip(client, arena, good).status_code == 202
    refused = post_zip(client, arena, good)
    assert refused.status_code == 429
    assert refused.json()["period"] == "total" and refused.json()["resets_at"] is None


def test_create_submission_unqualified_team_is_403(client, arena, tmp_path):
    with session_scope() as session:
        challenge_id = session.scalar(select(Challenge.id))
    add_phase(challenge_id, "final", None, kind="unpaired", position=1,
              qualify_from="validation", qualify_top=1)
    good = zip_folder(arena.samples.lq, tmp_path / "final.zip")
    response = post_zip(client, arena, good, phase="final")
    assert response.status_code == 403
    assert "qualified from phase validation (top 1)" in response.json()["detail"]


def test_read_submission_other_team_gets_404_organiser_sees_it(client, arena, good_zip):
    sub_id = post_zip(client, arena, good_zip).json()["id"]
    assert client.get(f"/api/submissions/{sub_id}", headers=arena.auth("beta")).status_code == 404
    mine = client.get(f"/api/submissions/{sub_id}", headers=arena.auth("alpha"))
    theirs = client.get(f"/api/submissions/{sub_id}", headers=arena.auth("organiser"))
    assert mine.status_code == theirs.status_code == 200
    assert client.get("/api/submissions/999999", headers=arena.auth("alpha")).status_code == 404


def test_read_submission_shows_progress_while_scoring(client, arena, good_zip):
    sub_id = post_zip(client, arena, good_zip).json()["id"]
    with session_scope() as session:
        sub = session.get_one(Submission, sub_id)
        sub.status, sub.progress_done = "scoring", 2
    body = client.get(f"/api/submissions/{sub_id}", headers=arena.auth("alpha")).json()
    assert body["status"] == "scoring" and body["progress"] == {"done": 2, "total": 3}


@pytest.mark.slow
def test_read_submission_scored_has_the_engine_shape(client, arena, good_zip, weights_dir):
    sub_id = post_zip(client, arena, good_zip).json()["id"]
    assert worker.score_next() is worker.Outcome.SCORED
    body = client.get(f"/api/submissions/{sub_id}", headers=arena.auth("alpha")).json()
    keys = ["psnr", "ssim", "lpips", "dists", "niqe", "score"]
    assert body["status"] == "scored" and body["error"] is None and body["team"] == "alpha"
    assert sorted(body["mean"]) == sorted(keys)
    assert [img["name"] for img in body["images"]] == ["001", "002", "003"]
    assert all(sorted(img) == sorted(["name", *keys]) for img in body["images"])
    mean_score = sum(img["score"] for img in body["images"]) / 3
    assert body["mean"]["score"] == pytest.approx(mean_score)
    assert "progress" not in body
    assert body["versions"]["numerics"] == NUMERICS_VERSION  # recognisable after a change


@pytest.mark.slow
def test_create_submission_wait_answers_with_the_full_result(db_url, arena, good_zip,
                                                             weights_dir):
    with TestClient(create_app()) as client:  # with the embedded local worker
        response = post_zip(client, arena, good_zip, query="?wait=300")
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["status"] == "scored" and len(body["images"]) == 3
    assert body["status_url"].endswith(f"/api/submissions/{body['id']}")
