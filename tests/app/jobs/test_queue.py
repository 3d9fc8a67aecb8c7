"""End to end over HTTP: real `raim serve` and `raim worker` (Celery on Redis) on PostgreSQL.

Redis database 13 at 127.0.0.1:6379 is this module's own (flushed before and after).
"""

import signal
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import func, select

from app.db import session_scope
from app.jobs.broker import celery_app
from app.models import AuditLog, ImageResult, Submission
from metrics.samples import write_sample_set
from tests.utils.arena import Arena, build_arena, zip_folder
from tests.utils.processes import (
    free_port,
    service_env,
    start_serve,
    start_worker,
    stop,
    wait_until,
)

BROKER = "redis://127.0.0.1:6379/13"
pytestmark = [pytest.mark.slow, pytest.mark.redis, pytest.mark.postgres]


@pytest.fixture
def redis_broker() -> Iterator[str]:
    import redis

    client = redis.Redis.from_url(BROKER)
    try:
        client.ping()
    except redis.exceptions.ConnectionError as exc:
        pytest.skip(f"Redis not reachable at 127.0.0.1:6379: {exc}")
    client.flushdb()
    yield BROKER
    client.flushdb()


@pytest.fixture
def stack(db_url, redis_broker, tmp_path, monkeypatch, weights_dir) -> Iterator[dict]:
    """`raim serve` with a broker; tests start their own workers."""
    monkeypatch.setenv("RAIM_BROKER_URL", redis_broker)
    monkeypatch.setenv("RAIM_DEVICE", "cpu")
    from app.config import get_settings

    get_settings.cache_clear()
    celery_app.cache_clear()
    port = free_port()
    env = service_env()
    server = start_serve(port, env, tmp_path / "serve.log")
    yield {"url": f"http://127.0.0.1:{port}", "env": env, "logs": tmp_path}
    stop(server)
    celery_app.cache_clear()


@pytest.fixture
def arena(stack, tmp_path) -> Arena:
    return build_arena(write_sample_set(tmp_path / "s", count=3, size=128))


def upload(stack: dict, arena: Arena, tmp_path: Path) -> dict:
    good = zip_folder(arena.samples.pred, tmp_path / "results.zip")
    response = httpx.post(f"{stack['url']}/score", headers=arena.auth("alpha"), timeout=120,
                          files={"file": ("results.zip", good.read_bytes(), "application/zip")})
    assert response.status_code == 202, response.text
    return response.json()


def status(stack: dict, arena: Arena, sub_id: int) -> dict:
    return httpx.get(f"{stack['url']}/api/submissions/{sub_id}", headers=arena.auth("alpha"),
                     timeout=30).json()


def result_rows(sub_id: int) -> int:
    with session_scope() as session:
        return session.scalar(select(func.count(ImageResult.id))
                              .where(ImageResult.submission_id == sub_id)) or 0


@pytest.mark.parametrize("db_url", ["postgresql"], indirect=True)
def test_upload_is_scored_by_a_celery_worker_and_ranked(stack, arena, tmp_path):
    log = stack["logs"] / "worker.log"
    worker = start_worker(stack["env"], log)
    try:
        accepted = upload(stack, arena, tmp_path)
        assert accepted["status"] == "queued"
        done = wait_until(lambda: (s := status(stack, arena, accepted["id"]))["status"]
                          in ("scored", "failed") and s, "scoring", worker, log)
    finally:
        stop(worker)
    assert done["status"] == "scored", done
    assert len(done["images"]) == 3 and done["attempts"] == 1
    board = httpx.get(f"{stack['url']}/api/challenges/raim-test/phases/validation/leaderboard",
                      timeout=30).json()
    assert [(r["team"], r["submission_id"]) for r in board["rows"]] == [("alpha", accepted["id"])]
    assert board["rows"][0]["score"] == pytest.approx(done["mean"]["score"])


@pytest.mark.parametrize("db_url", ["postgresql"], indirect=True)
def test_worker_killed_mid_job_the_submission_is_still_scored_exactly_once(stack, arena,
                                                                           tmp_path):
    hold = tmp_path / "hold-scoring"
    hold.touch()  # the first worker claims the job, then waits here: "mid-job"
    env = stack["env"]
    first_log, second_log = stack["logs"] / "worker1.log", stack["logs"] / "worker2.log"
    first = start_worker(env, first_log, hold=hold)
    try:
        sub_id = upload(stack, arena, tmp_path)["id"]
        wait_until(lambda: status(stack, arena, sub_id)["status"] == "scoring", "the claim",
                   first, first_log)
    finally:
        stop(first, signal.SIGKILL)
    hold.unlink()
    second = start_worker(env, second_log)
    try:
        done = wait_until(lambda: (s := status(stack, arena, sub_id))["status"]
                          in ("scored", "failed") and s, "rescoring", second, second_log)
    finally:
        stop(second)
    assert done["status"] == "scored", done
    assert done["attempts"] == 2 and len(done["images"]) == 3
    assert result_rows(sub_id) == 3  # one set of results, not two
    with session_scope() as session:
        sub = session.get_one(Submission, sub_id)
        assert sub.worker.endswith(f":{second.pid}")
        sweep = session.scalars(select(AuditLog).where(AuditLog.action == "sweep")).one()
        assert f":{first.pid} is gone" in sweep.details["reason"]
