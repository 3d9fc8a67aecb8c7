"""The worker API: who may call it, the job's life over HTTP, and the checks on posted results."""

import hashlib
import io
import zipfile
from datetime import timedelta

import pytest
from sqlalchemy import func, select, update

from app.config import get_settings
from app.db import session_scope
from app.jobs import sweeper
from app.models import ImageResult, Submission, Worker, utcnow
from metrics.registry import METRIC_NAMES
from scoring.formula import RAIM_2024
from tests.utils.arena import post_zip, zip_folder
from tests.utils.workers import (
    WorkerClient,
    fill,
    measurements,
    new_worker_token,
    revoke_worker_token,
    worker_routes,
)

NAMES = ["001", "002", "003"]


@pytest.fixture
def good_zip(arena, tmp_path):
    return zip_folder(arena.samples.pred, tmp_path / "results.zip")


@pytest.fixture
def gpu(client, arena) -> WorkerClient:
    """A remote worker that said hello."""
    remote = WorkerClient(client, new_worker_token("lab-gpu"))
    assert remote.hello().status_code == 200
    return remote


@pytest.fixture
def queued(client, arena, good_zip) -> int:
    answer = post_zip(client, arena, good_zip)
    assert answer.status_code == 202, answer.text
    return answer.json()["id"]


def row(sub_id: int) -> Submission:
    with session_scope() as session:
        return session.get_one(Submission, sub_id)


def image_rows(sub_id: int) -> int:
    with session_scope() as session:
        return session.scalar(select(func.count(ImageResult.id))
                              .where(ImageResult.submission_id == sub_id)) or 0


def test_worker_hello_claim_download_progress_results_scores_once(gpu, queued, good_zip):
    assert gpu.name == "lab-gpu@gpu-box:4242"
    job = gpu.claim()
    assert job["submission_id"] == queued and job["worker"] == gpu.name and job["paired"]
    assert job["upload"]["sha256"] == hashlib.sha256(good_zip.read_bytes()).hexdigest()
    upload = gpu.get(job["upload"]["url"])
    assert upload.status_code == 200 and upload.content == good_zip.read_bytes()
    truth = gpu.get(job["ground_truth"]["url"])
    assert truth.status_code == 200
    assert hashlib.sha256(truth.content).hexdigest() == job["ground_truth"]["sha256"]
    assert len(truth.content) == job["ground_truth"]["bytes"]
    assert sorted(zipfile.ZipFile(io.BytesIO(truth.content)).namelist()) == \
        ["001.png", "002.png", "003.png"]
    assert gpu.post(f"/api/worker/jobs/{queued}/progress", {"done": 2}).status_code == 200
    assert row(queued).progress_done == 2
    images = measurements(NAMES)
    answer = gpu.results(queued, images)
    assert answer.status_code == 200, answer.text
    sub = row(queued)
    assert sub.status == "scored" and image_rows(queued) == 3
    # the service scores the measurements with the challenge's formula itself
    assert sub.score == pytest.approx(RAIM_2024.score(images[0]))
    assert sub.versions == dict.fromkeys(METRIC_NAMES, "t")
    again = gpu.results(queued, images)  # delivered twice: still scored once
    assert again.status_code == 409 and "no longer held" in again.json()["detail"]
    assert image_rows(queued) == 3


def test_claim_with_nothing_waiting_answers_no_job(gpu):
    assert gpu.claim() is None


def test_results_with_problems_are_refused_naming_each_and_nothing_is_stored(gpu, queued):
    gpu.claim()
    images = measurements(["001", "002", "004"])
    images[0]["psnr"] = float("nan")
    images[1]["ssim"] = "high"
    images[1]["sharpness"] = 3.0
    del images[2]["niqe"]
    images.append(dict(images[0]))  # 001 twice
    answer = gpu.results(queued, images)
    assert answer.status_code == 400
    body = answer.json()
    assert body["detail"].startswith(f"results of submission {queued}:")
    problems = {(p["file"], p["message"]) for p in body["problems"]}
    assert ("001", "psnr is not a finite number (nan)") in problems
    assert ("002", "ssim is not a finite number ('high')") in problems
    assert any(f == "002" and "'sharpness' is not a metric of the registry" in m
               for f, m in problems)
    assert ("004", "niqe is missing") in problems
    assert ("004", "not an image of the ground truth") in problems
    assert ("003", "missing: no result for this image") in problems
    assert ("001", "given twice") in problems
    assert row(queued).status == "scoring" and image_rows(queued) == 0
    shapeless = gpu.post(f"/api/worker/jobs/{queued}/results", {"images": "all"})
    assert shapeless.status_code == 422 and "body.images" in shapeless.json()["detail"]


def test_a_lost_lease_answers_409_to_progress_results_and_failure(gpu, client, queued):
    gpu.claim()
    with session_scope() as session:  # the worker fell silent past the lease...
        session.execute(update(Submission).values(
            heartbeat_at=utcnow() - timedelta(seconds=get_settings().stale_after_seconds + 5)))
    assert sweeper.sweep(get_settings()) == [queued]  # ...and the sweeper took its job back
    other = WorkerClient(client, gpu.token)
    other.hello(pid=5353)
    assert other.claim()["submission_id"] == queued
    for path, body in [("progress", {"done": 1}), ("results", {"images": measurements(NAMES)}),
                       ("fail", {"message": "late", "retry": True})]:
        answer = gpu.post(f"/api/worker/jobs/{queued}/{path}", body)
        assert answer.status_code == 409, (path, answer.text)
        assert f"held by {other.name}" in answer.json()["detail"]
    assert other.results(queued, measurements(NAMES)).status_code == 200
    assert row(queued).worker == other.name and row(queued).attempts == 2


def test_failure_with_retry_requeues_until_the_retries_are_spent(gpu, queued, monkeypatch):
    monkeypatch.setenv("RAIM_SCORING_RETRIES", "2")
    get_settings.cache_clear()
    gpu.claim()
    first = gpu.post(f"/api/worker/jobs/{queued}/fail", {"message": "CUDA out of memory",
                                                         "retry": True})
    assert first.json() == {"submission_id": queued, "status": "queued"}
    gpu.claim()
    second = gpu.post(f"/api/worker/jobs/{queued}/fail", {"message": "CUDA out of memory",
                                                          "retry": True})
    assert second.json()["status"] == "failed"
    assert row(queued).error == "scoring failed 2 times; last error: CUDA out of memory"


def test_failure_without_retry_fails_with_the_workers_message(gpu, queued):
    gpu.claim()
    answer = gpu.post(f"/api/worker/jobs/{queued}/fail",
                      {"message": "002.png: truncated image"})
    assert answer.status_code == 200 and answer.json()["status"] == "failed"
    assert row(queued).status == "failed" and row(queued).error == "002.png: truncated image"


def test_files_are_served_only_while_a_worker_of_the_token_holds_the_job(client, gpu, queued):
    paths = [f"/api/worker/jobs/{queued}/upload", f"/api/worker/jobs/{queued}/ground-truth"]
    for path in paths:  # queued: nobody holds it
        assert gpu.get(path).status_code == 409
    stranger = WorkerClient(client, new_worker_token("rented-box"))
    stranger.hello()
    stranger.claim()
    for path in paths:  # held by another token's worker
        answer = gpu.get(path)
        assert answer.status_code == 409 and "not held by a worker of the token" in answer.text
        assert stranger.get(path).status_code == 200
    assert gpu.post("/api/worker/claim").json()["job"] is None


def test_a_worker_name_of_another_token_is_refused(client, gpu):
    other = WorkerClient(client, new_worker_token("rented-box"))
    other.name = gpu.name
    answer = other.post("/api/worker/claim")
    assert answer.status_code == 403 and "is not a worker of the token" in answer.json()["detail"]


def test_every_worker_route_refuses_team_organiser_revoked_and_missing_tokens(client, arena,
                                                                              gpu, queued):
    app = client.app
    routes = worker_routes(app)
    assert len(routes) == 9
    revoked = new_worker_token("old-box")
    revoke_worker_token("old-box")
    wrong = []
    for method, path in routes:
        url = fill(path, queued)
        for who, headers, status in [("team", arena.auth("alpha"), 403),
                                     ("organiser", arena.auth("organiser"), 403),
                                     ("revoked", {"Authorization": f"Bearer {revoked}"}, 401),
                                     ("anonymous", {}, 401)]:
            answer = client.request(method, url, headers=headers, json={"worker": gpu.name})
            if answer.status_code != status or set(answer.json()) != {"detail", "problems"}:
                wrong.append(f"{method} {url} as {who}: {answer.status_code} {answer.text}")
    assert wrong == []
    assert row(queued).status == "queued"  # none of them claimed anything


def test_a_worker_token_is_refused_outside_the_worker_api(client, arena, gpu):
    answer = client.get("/api/organiser/queue", headers=gpu.headers)
    assert answer.status_code == 403 and "worker token" in answer.json()["detail"]


def test_hello_registers_the_worker_and_heartbeats_keep_it_alive(client, gpu):
    beat = gpu.post("/api/worker/heartbeat", {"cache": {"hits": 3, "misses": 1, "bytes": 10,
                                                        "entries": 1, "budget_bytes": 99},
                                              "ground_truth_cache": {"hits": 0, "misses": 1}})
    assert beat.status_code == 200, beat.text
    with session_scope() as session:
        worker = session.scalars(select(Worker)).one()
        assert (worker.kind, worker.host, worker.pid) == ("remote", "gpu-box", 4242)
        assert worker.caches["features"]["hits"] == 3
    bad = gpu.post("/api/worker/heartbeat", {"cache": {"hits": -1}})
    assert bad.status_code == 422 and "body.cache.hits" in bad.json()["detail"]
    assert gpu.post("/api/worker/goodbye").status_code == 200
    with session_scope() as session:
        assert session.scalars(select(Worker)).one().stopped_at is not None


def test_a_body_over_its_cap_is_refused_before_it_is_read_whole(gpu, queued):
    gpu.claim()
    answer = gpu.client.post(f"/api/worker/jobs/{queued}/progress", headers=gpu.headers,
                             content=b"{" + b" " * (128 * 1024) + b"}")
    assert answer.status_code == 413


def test_text_with_a_nul_character_is_refused_before_any_database_sees_it(gpu, queued):
    gpu.claim()
    for path, body in [("/api/worker/heartbeat", {"cache": {"hi\x00ts": 1}}),
                       (f"/api/worker/jobs/{queued}/fail", {"message": "bad\x00"}),
                       (f"/api/worker/jobs/{queued}/results",
                        {"images": measurements(["0\x001"]), "versions": {}, "notes": []})]:
        answer = gpu.post(path, body)
        assert answer.status_code == 422 and "NUL" in answer.json()["detail"], (path, answer.text)
    named = gpu.client.post("/api/worker/claim", headers=gpu.headers, json={"worker": "a\x00"})
    assert named.status_code == 422
    assert row(queued).status == "scoring"
