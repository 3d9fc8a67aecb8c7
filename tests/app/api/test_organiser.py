"""Organiser API: rescoring with the audit trail, visibility, downloads, CSV, queue dashboard."""

import csv
import io

import pytest
from sqlalchemy import select

from app.db import session_scope
from app.jobs import worker
from app.models import AuditLog, Phase, Submission
from tests.utils.arena import post_zip, zip_folder
from tests.utils.jobs import finish

PHASE = "/api/organiser/challenges/raim-test/phases/validation"


@pytest.fixture
def good_zip(arena, tmp_path):
    return zip_folder(arena.samples.pred, tmp_path / "results.zip")


def test_organiser_api_refuses_team_members_and_anonymous_callers(client, arena):
    assert client.get("/api/organiser/queue").status_code == 401
    response = client.get("/api/organiser/queue", headers=arena.auth("alpha"))
    assert response.status_code == 403 and response.json()["detail"] == "organisers only"


@pytest.mark.slow
def test_rescore_submission_keeps_old_results_in_the_audit_log(client, arena, good_zip,
                                                               weights_dir):
    sub_id = post_zip(client, arena, good_zip).json()["id"]
    worker.score_next()
    before = client.get(f"/api/submissions/{sub_id}", headers=arena.auth("alpha")).json()
    response = client.post(f"/api/organiser/submissions/{sub_id}/rescore",
                           headers=arena.auth("organiser"))
    assert response.status_code == 202 and response.json() == {"queued": [sub_id]}
    queued = client.get(f"/api/submissions/{sub_id}", headers=arena.auth("alpha")).json()
    assert queued["status"] == "queued" and queued["images"] == [] and queued["mean"] == {}
    with session_scope() as session:
        entry = session.scalars(select(AuditLog)
                                .where(AuditLog.action == "submission.rescore")).one()
        assert entry.details["previous"]["mean"] == before["mean"]
        assert entry.details["previous"]["images"] == before["images"]
    assert worker.score_next() is worker.Outcome.SCORED
    after = client.get(f"/api/submissions/{sub_id}", headers=arena.auth("alpha")).json()
    assert after["mean"] == pytest.approx(before["mean"]) and len(after["images"]) == 3


def test_rescore_submission_in_flight_is_409(client, arena, good_zip):
    sub_id = post_zip(client, arena, good_zip).json()["id"]
    response = client.post(f"/api/organiser/submissions/{sub_id}/rescore",
                           headers=arena.auth("organiser"))
    assert response.status_code == 409 and "queued" in response.json()["detail"]


def test_rescore_phase_requeues_every_finished_submission(client, arena, good_zip):
    ids = [post_zip(client, arena, good_zip, who=who).json()["id"] for who in ("alpha", "beta")]
    finish(ids[0], "scored", 50.0)
    finish(ids[1], "failed", None)
    waiting = post_zip(client, arena, good_zip).json()["id"]
    response = client.post(f"{PHASE}/rescore", headers=arena.auth("organiser"))
    assert response.status_code == 202 and response.json() == {"queued": ids}
    with session_scope() as session:
        statuses = {s.id: s.status for s in session.scalars(select(Submission))}
        actions = [a.action for a in session.scalars(select(AuditLog).order_by(AuditLog.id))]
    assert statuses == {ids[0]: "queued", ids[1]: "queued", waiting: "queued"}
    assert actions.count("submission.rescore") == 2 and "phase.rescore" in actions


def test_set_leaderboard_visibility_hides_it_and_is_audited(client, arena):
    response = client.post(f"{PHASE}/leaderboard", json={"visibility": "hidden"},
                           headers=arena.auth("organiser"))
    assert response.status_code == 200 and response.json()["visibility"] == "hidden"
    leaderboard = "/api/challenges/raim-test/phases/validation/leaderboard"
    assert client.get(leaderboard).status_code == 404
    with session_scope() as session:
        assert session.scalars(select(Phase.leaderboard)).one() == "hidden"
        entry = session.scalars(select(AuditLog)
                                .where(AuditLog.action == "phase.leaderboard")).one()
        assert entry.details == {"from": "public", "to": "hidden"}
    bad = client.post(f"{PHASE}/leaderboard", json={"visibility": "secret"},
                      headers=arena.auth("organiser"))
    assert bad.status_code == 422


def test_request_validation_errors_answer_the_one_error_shape(client, arena):
    bad = client.post(f"{PHASE}/leaderboard", json={"visibility": "secret"},
                      headers=arena.auth("organiser"))
    body = bad.json()
    assert bad.status_code == 422 and body["problems"] == []
    assert body["detail"].startswith("body.visibility: ") and "'public'" in body["detail"]


def test_download_submission_returns_the_stored_zip(client, arena, good_zip):
    sub_id = post_zip(client, arena, good_zip).json()["id"]
    url = f"/api/organiser/submissions/{sub_id}/download"
    assert client.get(url, headers=arena.auth("alpha")).status_code == 403
    response = client.get(url, headers=arena.auth("organiser"))
    assert response.status_code == 200 and response.content == good_zip.read_bytes()
    assert "results.zip" in response.headers["content-disposition"]


def test_export_submissions_csv_has_one_line_per_submission_with_means(client, arena, good_zip):
    ids = [post_zip(client, arena, good_zip, who=who).json()["id"] for who in ("alpha", "beta")]
    finish(ids[0], "scored", 55.5)
    response = client.get("/api/organiser/challenges/raim-test/submissions.csv",
                          headers=arena.auth("organiser"))
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(response.text)))
    assert [(r["submission_id"], r["team"], r["status"]) for r in rows] == [
        (str(ids[0]), "alpha", "scored"), (str(ids[1]), "beta", "queued")]
    assert float(rows[0]["score"]) == 55.5 and float(rows[0]["psnr"]) == 30.0
    assert rows[1]["score"] == ""
    missing = client.get("/api/organiser/challenges/nope/submissions.csv",
                         headers=arena.auth("organiser"))
    assert missing.status_code == 404


def test_queue_dashboard_counts_states_and_lists_workers(client, arena, good_zip):
    ids = [post_zip(client, arena, good_zip).json()["id"] for _ in range(3)]
    finish(ids[0], "failed", None)
    job = worker.claim_next("gpu-host-1:42", worker.get_settings())  # the oldest waiting
    assert job is not None and job.submission_id == ids[1]
    worker.record_progress(job, 1)
    body = client.get("/api/organiser/queue", headers=arena.auth("organiser")).json()
    assert (body["waiting"], body["running"], body["failed"], body["mode"]) == (1, 1, 1, "local")
    assert body["oldest_waiting_seconds"] >= 0
    [entry] = body["workers"]
    assert entry["worker"] == "gpu-host-1:42"
    assert entry["jobs"][0]["submission_id"] == ids[1]
    assert entry["jobs"][0]["progress"] == {"done": 1, "total": 3}


def test_phase_dates_and_visibility_are_patched_and_audited(client, arena):
    url = "/api/organiser/challenges/raim-test/phases/validation"
    answer = client.patch(url, headers=arena.auth("organiser"),
                          json={"end": "2024-03-15T12:00:00+02:00", "leaderboard": "hidden"})
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["end"].startswith("2024-03-15T10:00:00") and body["leaderboard"] == "hidden"
    assert body["changed"]["leaderboard"] == ["public", "hidden"]
    assert body["start"] is None  # left out: unchanged
    naive = client.patch(url, headers=arena.auth("organiser"), json={"start": "2024-01-01T00:00"})
    assert naive.json()["start"].startswith("2024-01-01T00:00:00") and naive.json()["end"]
    backwards = client.patch(url, headers=arena.auth("organiser"),
                             json={"start": "2024-04-01T00:00:00Z"})
    assert backwards.status_code == 400 and "must come after the start" in backwards.json()["detail"]
    assert client.patch(url, headers=arena.auth("alpha"), json={}).status_code == 403
    with session_scope() as session:
        assert len(session.scalars(select(AuditLog).where(
            AuditLog.action == "phase.update")).all()) == 2


def test_teams_and_audit_log_are_listed(client, arena):
    teams = client.get("/api/organiser/challenges/raim-test/teams",
                       headers=arena.auth("organiser")).json()
    assert [t["name"] for t in teams] == ["alpha", "beta"]
    assert teams[0]["members"][0].startswith("team-raim-test-alpha")
    client.post("/api/organiser/challenges/raim-test/phases/validation/leaderboard",
                headers=arena.auth("organiser"), json={"visibility": "private"})
    log = client.get("/api/organiser/audit?action=phase.", headers=arena.auth("organiser")).json()
    assert log["total"] == 1 and log["entries"][0]["action"] == "phase.leaderboard"
    assert log["entries"][0]["actor"] == "organiser@example.org"
    assert client.get("/api/organiser/audit", headers=arena.auth("alpha")).status_code == 403
def test_worker_tokens_are_created_listed_and_revoked_by_organisers_only(client, arena):
    organiser, team = arena.auth("organiser"), arena.auth("alpha")
    assert client.post("/api/organiser/workers/tokens", headers=team,
                       json={"name": "lab"}).status_code == 403
    created = client.post("/api/organiser/workers/tokens", headers=organiser,
                          json={"name": "lab"})
    assert created.status_code == 201, created.text
    body = created.json()
    token = body["token"]
    assert body["name"] == "lab" and body["prefix"] == token[:9] and body["revoked_at"] is None
    again = client.post("/api/organiser/workers/tokens", headers=organiser, json={"name": "lab"})
    assert again.status_code == 409 and "exists already" in again.json()["detail"]
    listed = client.get("/api/organiser/workers/tokens", headers=organiser).json()["tokens"]
    assert [t["name"] for t in listed] == ["lab"] and token not in str(listed)
    worker = {"Authorization": f"Bearer {token}"}
    hello = {"host": "lab", "pid": 7}
    assert client.post("/api/worker/hello", headers=worker, json=hello).status_code == 200
    revoked = client.post(f"/api/organiser/workers/tokens/{body['id']}/revoke", headers=organiser)
    assert revoked.status_code == 200 and revoked.json()["revoked_at"] is not None
    assert client.post("/api/worker/hello", headers=worker, json=hello).status_code == 401
    assert client.post("/api/organiser/workers/tokens/999999/revoke",
                       headers=organiser).status_code == 404
