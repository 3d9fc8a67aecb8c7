"""Broker down during POST /score: 202 (stored), and scored once it is back, without a restart.

Everything is real: `raim serve` and `raim worker` processes, Celery on a private redis-server
started on a free port by the test (the shared Redis on 6379 is never touched), stopped and
started again under them.
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import func, select

from app.config import get_settings
from app.db import session_scope
from app.jobs.broker import celery_app
from app.models import ImageResult, Submission
from metrics.samples import write_sample_set
from tests.utils.arena import Arena, build_arena, zip_folder
from tests.utils.processes import (
    free_port,
    service_env,
    start_redis,
    start_serve,
    start_worker,
    stop,
    wait_until,
)

SWEEP_SECONDS = 2
# Once the broker is back, the next sweep sends the job: within the interval, plus the time a
# sweep and a send take on a busy machine. Scoring it then (the worker reconnecting, three
# small images on a CPU) is only bounded loosely: speed is not what is tested.
SEND_SLACK_SECONDS = 20
SCORING_LIMIT_SECONDS = 300

pytestmark = pytest.mark.skipif(shutil.which("redis-server") is None,
                                reason="redis-server is not installed")


@pytest.fixture
def broker(db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[dict]:
    """A port for a private Redis (not started yet) and the environment that points at it
    (after ``db_url``, whose settings fixture clears RAIM_BROKER_URL)."""
    port = free_port()
    url = f"redis://127.0.0.1:{port}/0"
    monkeypatch.setenv("RAIM_BROKER_URL", url)
    monkeypatch.setenv("RAIM_SWEEP_INTERVAL_SECONDS", str(SWEEP_SECONDS))
    monkeypatch.setenv("RAIM_DEVICE", "cpu")
    from app.config import get_settings

    get_settings.cache_clear()
    celery_app.cache_clear()
    started: list = []
    state = {"port": port, "url": url, "log": tmp_path / "redis.log", "started": started}
    yield state
    for process in started:
        stop(process)
    celery_app.cache_clear()


def redis_up(broker: dict):  # type: ignore[no-untyped-def]
    process = start_redis(broker["port"], broker["log"])
    broker["started"].append(process)
    return process


def upload(url: str, arena: Arena, tmp_path: Path) -> httpx.Response:
    good = zip_folder(arena.samples.pred, tmp_path / "results.zip")
    return httpx.post(f"{url}/score", headers=arena.auth("alpha"), timeout=60,
                      files={"file": ("results.zip", good.read_bytes(), "application/zip")})


def row(sub_id: int) -> Submission:
    with session_scope() as session:
        return session.get_one(Submission, sub_id)


def queued_messages(port: int) -> int:
    import redis

    return int(redis.Redis(host="127.0.0.1", port=port).llen(get_settings().queue_name))


@pytest.fixture
def serve(broker: dict, tmp_path: Path) -> Iterator[dict]:
    """`raim serve` with the broker URL set; the test decides when the broker runs."""
    port = free_port()
    env = service_env()
    log = tmp_path / "serve.log"
    yield {"url": f"http://127.0.0.1:{port}", "env": env, "log": log,
           "start": lambda: start_serve(port, env, log)}


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_serve_starts_without_its_broker_says_so_and_sends_the_upload_once_it_is_back(
        broker, serve, tmp_path):
    server = serve["start"]()  # no broker yet
    try:
        arena = build_arena(write_sample_set(tmp_path / "s", count=3, size=128))
        log = serve["log"].read_text()
        assert f"broker redis://127.0.0.1:{broker['port']}/0: NOT reachable" in log, log
        began = time.monotonic()
        accepted = upload(serve["url"], arena, tmp_path)
        assert accepted.status_code == 202, accepted.text
        assert time.monotonic() - began < 30  # the send failed fast
        sub_id = accepted.json()["id"]
        assert row(sub_id).status == "queued" and row(sub_id).enqueued_at is None
        assert "broker unreachable" in serve["log"].read_text()  # logged, not a 500

        redis_up(broker)
        back = time.monotonic()
        wait_until(lambda: row(sub_id).enqueued_at is not None, "the sweeper's send", server,
                   serve["log"], limit=SWEEP_SECONDS + SEND_SLACK_SECONDS)
        assert time.monotonic() - back <= SWEEP_SECONDS + SEND_SLACK_SECONDS
        assert queued_messages(broker["port"]) >= 1
        assert server.poll() is None  # the same process all along
    finally:
        stop(server)


@pytest.mark.slow
@pytest.mark.parametrize("db_url", ["sqlite", pytest.param("postgresql",
                                                           marks=pytest.mark.postgres)],
                         indirect=True)
def test_broker_down_during_upload_is_202_and_scored_once_it_is_back(broker, serve, tmp_path,
                                                                      weights_dir):
    redis_up(broker)
    server = serve["start"]()
    worker_log = tmp_path / "worker.log"
    worker = start_worker(serve["env"], worker_log)
    try:
        assert f"broker redis://127.0.0.1:{broker['port']}/0: reachable" in \
            serve["log"].read_text()
        arena = build_arena(write_sample_set(tmp_path / "s", count=3, size=128))
        wait_until(lambda: " ready." in worker_log.read_text(), "the worker", worker, worker_log)

        stop(broker["started"].pop())  # the broker goes away, and its messages with it
        accepted = upload(serve["url"], arena, tmp_path)
        assert accepted.status_code == 202, accepted.text
        sub_id = accepted.json()["id"]
        assert row(sub_id).status == "queued" and row(sub_id).enqueued_at is None

        redis_up(broker)
        back = time.monotonic()
        wait_until(lambda: row(sub_id).enqueued_at is not None, "the sweeper's send", worker,
                   worker_log, limit=SWEEP_SECONDS + SEND_SLACK_SECONDS)
        assert time.monotonic() - back <= SWEEP_SECONDS + SEND_SLACK_SECONDS
        wait_until(lambda: row(sub_id).status in ("scored", "failed"), "scoring", worker,
                   worker_log, limit=SCORING_LIMIT_SECONDS)
        assert server.poll() is None and worker.poll() is None  # no restart
    finally:
        stop(worker)
        stop(server)
    done = row(sub_id)
    assert done.status == "scored", done.error
    assert done.attempts == 1  # exactly once
    with session_scope() as session:
        assert session.scalar(select(func.count(ImageResult.id))
                              .where(ImageResult.submission_id == sub_id)) == 3
