"""End to end: `raim serve` and two remote `raim worker` processes that have only the broker, the
service's URL and a worker token (no database, no shared folder), on Redis and on RabbitMQ.

Twenty submissions of three teams are each scored exactly once with the reference numbers (the
same files scored here by app.evaluation, compared at the tolerances of docs/fidelity.md), while
one worker is killed with SIGKILL in the middle of a job, which the other then finishes. A
revoked worker token is refused, and a team's token gets 403 on every worker route.

Brokers: Redis database 12 at 127.0.0.1:6379 (flushed before and after) and RabbitMQ at
127.0.0.1:5672 (guest), each run on a queue of its own name, deleted afterwards; nothing else
on either server is touched.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import func, select

from app.config import get_settings
from app.db import session_scope
from app.models import AuditLog, ImageResult, Submission
from metrics.registry import METRIC_NAMES
from metrics.samples import write_sample_set
from tests.utils.arena import Arena, build_arena, zip_folder
from tests.utils.processes import RAIM, REPO, free_port, service_env, spawn, start_serve, stop, wait_until
from tests.utils.workers import WORKER_PREFIX, fill, worker_routes

pytestmark = [pytest.mark.slow]

REDIS = "redis://127.0.0.1:6379/12"
RABBITMQ = "amqp://guest:guest@127.0.0.1:5672//"
SUBMISSIONS = 20
TEAMS = ("alpha", "beta", "gamma")
LEASE_SECONDS = 12  # RAIM_STALE_AFTER_SECONDS: heartbeats every 2 s
# docs/fidelity.md: exact metrics to 1e-9, the float32 networks to 1e-6, the score to 1e-9
# plus the formula's share of the networks' difference (50 x LPIPS + 133 x DISTS).
TOLERANCE = {"psnr": 1e-9, "ssim": 1e-9, "niqe": 1e-9, "lpips": 1e-6, "dists": 1e-6,
             "score": 1e-9 + 50e-6 + 133e-6}


def _redis(queue: str) -> Iterator[str]:
    import redis

    client = redis.Redis.from_url(REDIS)
    try:
        client.ping()
    except redis.exceptions.ConnectionError as exc:
        pytest.skip(f"Redis not reachable at 127.0.0.1:6379: {exc}")
    client.flushdb()
    yield REDIS
    client.flushdb()


def _rabbitmq(queue: str) -> Iterator[str]:
    from kombu import Connection

    try:
        with Connection(RABBITMQ, connect_timeout=3) as conn:
            conn.ensure_connection(max_retries=1)
    except Exception as exc:
        pytest.skip(f"RabbitMQ not reachable at 127.0.0.1:5672: {exc}")
    yield RABBITMQ
    with Connection(RABBITMQ) as conn:  # this run's queue and its exchange, nothing else
        channel = conn.default_channel
        channel.queue_delete(queue)
        channel.exchange_delete(queue)


@pytest.fixture(params=[pytest.param("redis", marks=pytest.mark.redis),
                        pytest.param("rabbitmq", marks=pytest.mark.rabbitmq)])
def broker(request) -> Iterator[tuple[str, str]]:
    queue = f"raim.e2e-{uuid.uuid4().hex[:12]}"
    opened = _redis(queue) if request.param == "redis" else _rabbitmq(queue)
    url = next(opened)
    yield url, queue
    next(opened, None)


@pytest.fixture
def stack(settings, broker, tmp_path, monkeypatch, weights_dir) -> Iterator[dict]:
    """`raim serve` with the broker, a short lease and a quick sweeper; workers start later."""
    url, queue = broker
    for name, value in {"RAIM_BROKER_URL": url, "RAIM_QUEUE_NAME": queue,
                        "RAIM_STALE_AFTER_SECONDS": str(LEASE_SECONDS),
                        "RAIM_SWEEP_INTERVAL_SECONDS": "1"}.items():
        monkeypatch.setenv(name, value)
    get_settings.cache_clear()
    port = free_port()
    env = service_env()
    server = start_serve(port, env, tmp_path / "serve.log")
    yield {"url": f"http://127.0.0.1:{port}", "env": env, "broker": url, "queue": queue}
    stop(server)


def worker_token(stack: dict, name: str) -> str:
    """`raim worker token add NAME`, as an organiser runs it; the token is the last word."""
    done = subprocess.run([RAIM, "worker", "token", "add", name], env=stack["env"], cwd=REPO,
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    return done.stdout.strip().splitlines()[-1].split()[-1]


def remote_env(stack: dict, token: str, data_dir: Path) -> dict[str, str]:
    """A remote worker's whole RAIM_ environment: broker, service, token, its own data dir,
    the weights. No database URL, nothing of the service's data folder."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("RAIM_")}
    env.update(RAIM_BROKER_URL=stack["broker"], RAIM_QUEUE_NAME=stack["queue"],
               RAIM_SERVICE_URL=stack["url"], RAIM_WORKER_TOKEN=token,
               RAIM_DATA_DIR=str(data_dir), RAIM_WEIGHTS_DIR=str(get_settings().weights_dir))
    assert "RAIM_DATABASE_URL" not in env
    return env


def start_remote(env: dict[str, str], log: Path, hold: Path | None = None) -> subprocess.Popen:
    args = [RAIM, "worker", "--loglevel", "INFO"] if hold is None else \
        [sys.executable, "-m", "tests.utils.held_worker", str(hold), "--loglevel", "INFO"]
    return spawn(args, env, log)


def variants(samples, root: Path) -> list[Path]:
    """Three different result sets (restored, degraded, one of each) as zips."""
    mixed = root / "mixed"
    mixed.mkdir()
    shutil.copy(samples.pred / "001.png", mixed / "001.png")
    shutil.copy(samples.lq / "002.png", mixed / "002.png")
    return [zip_folder(folder, root / f"{folder.name}.zip")
            for folder in (samples.pred, samples.lq, mixed)]


def upload(stack: dict, arena: Arena, team: str, zipped: Path) -> int:
    answer = httpx.post(f"{stack['url']}/score", headers=arena.auth(team), timeout=120,
                        files={"file": (zipped.name, zipped.read_bytes(), "application/zip")})
    assert answer.status_code == 202, answer.text
    return answer.json()["id"]


def rows() -> dict[int, Submission]:
    with session_scope(immediate=True) as session:
        return {s.id: s for s in session.scalars(select(Submission))}


def holder(sub_id: int, prefix: str) -> bool:
    sub = rows()[sub_id]
    return sub.status == "scoring" and (sub.worker or "").startswith(prefix)


def reference(zips: list[Path], gt: Path) -> list[dict[str, dict[str, float]]]:
    """Each variant scored here, as `raim score` scores it (app.evaluation)."""
    from app.evaluation import build_scorer, evaluate

    settings = get_settings()
    scorer = build_scorer(settings, device="cpu")
    return [{row["name"]: row for row in evaluate(
        z, gt, scorer, max_pixels=settings.max_pixels).report.images} for z in zips]


def test_twenty_submissions_scored_once_by_two_remote_workers_one_killed_mid_job(
        stack, tmp_path):
    samples = write_sample_set(tmp_path / "s", count=2, size=112)
    arena = build_arena(samples, teams=TEAMS)
    zips = variants(samples, tmp_path)
    logs = {"a": tmp_path / "worker-a.log", "b": tmp_path / "worker-b.log"}
    data = {"a": tmp_path / "worker-a-data", "b": tmp_path / "worker-b-data"}
    env_a = remote_env(stack, worker_token(stack, "gpu-a"), data["a"])
    env_b = remote_env(stack, worker_token(stack, "gpu-b"), data["b"])

    # Worker A claims the first job, downloads its files, then holds it (a slow GPU).
    hold = tmp_path / "hold-scoring"
    hold.touch()
    worker_a = start_remote(env_a, logs["a"], hold)
    worker_b = None
    try:
        plan = [(TEAMS[i % 3], zips[i % 3]) for i in range(SUBMISSIONS)]
        first = upload(stack, arena, *plan[0])
        wait_until(lambda: holder(first, "gpu-a@"), "worker A's claim", worker_a, logs["a"])
        ids = [first] + [upload(stack, arena, team, z) for team, z in plan[1:]]
        worker_b = start_remote(env_b, logs["b"])
        wait_until(lambda: sum(s.status == "scored" for s in rows().values()) >= 3,
                   "worker B's first jobs", worker_b, logs["b"])
        assert holder(first, "gpu-a@")  # A still holds its job, heart-beating
        stop(worker_a, signal.SIGKILL)  # killed in the middle of the job
        wait_until(lambda: all(s.status in ("scored", "failed") for s in rows().values()),
                   "every submission", worker_b, logs["b"], limit=540)
        board = httpx.get(f"{stack['url']}/api/organiser/queue", headers=arena.auth("organiser"),
                          timeout=30).json()
    finally:
        stop(worker_a, signal.SIGKILL)
        if worker_b is not None:
            stop(worker_b)

    done = rows()
    assert sorted(done) == sorted(ids)
    assert {s.status for s in done.values()} == {"scored"}, \
        {i: s.error for i, s in done.items() if s.status != "scored"}
    # exactly once: one set of results each; the killed job was attempted twice, the rest once
    with session_scope(immediate=True) as session:
        counts = dict(session.execute(select(ImageResult.submission_id, func.count())
                                      .group_by(ImageResult.submission_id)).all())
        sweep = session.scalars(select(AuditLog).where(AuditLog.action == "sweep")).one()
    assert counts == dict.fromkeys(ids, 2)
    assert sweep.target == f"submission:{first}"
    assert "no progress from worker gpu-a@" in sweep.details["reason"]  # the lease decided
    assert done[first].attempts == 2 and done[first].worker.startswith("gpu-b@")
    assert {done[i].attempts for i in ids if i != first} == {1}
    assert {s.worker.split("@")[0] for s in done.values()} == {"gpu-b"}

    # the reference numbers: the same files scored here, at docs/fidelity.md's tolerances
    expected = reference(zips, samples.gt)
    with session_scope(immediate=True) as session:
        for index, sub_id in enumerate(ids):
            for image in session.scalars(select(ImageResult)
                                         .where(ImageResult.submission_id == sub_id)):
                want = expected[index % 3][image.name]
                for metric in (*METRIC_NAMES, "score"):
                    assert getattr(image, metric) == pytest.approx(
                        want[metric], abs=TOLERANCE[metric]), (sub_id, image.name, metric)

    # what the workers kept: ground truth by hash and nothing else; never a database
    for name, folder in data.items():
        assert not list(folder.rglob("*.db")) and not list(folder.rglob("*.db-*")), name
        assert {p.name for p in folder.iterdir()} <= {"ground-truth", "work", "dists-cache"}
    assert not list((data["b"] / "work").rglob("*.zip"))  # A's stays until it starts again
    assert len(list((data["b"] / "ground-truth").glob("*.zip"))) == 1

    # the queue page's view of them: A fell silent, B said goodbye
    states = {w["worker"].split("@")[0]: w["state"] for w in board["workers"]}
    assert states.get("gpu-a") == "silent" and states.get("gpu-b") == "live"

    refused_everywhere(stack, arena, tmp_path, zips[0])


def refused_everywhere(stack: dict, arena: Arena, tmp_path: Path, zipped: Path) -> None:
    """A revoked worker token stops `raim worker` at once and is refused by every worker route;
    a team's token gets 403 on every one (the routes read from the application)."""
    token = worker_token(stack, "old-box")
    revoked = subprocess.run([RAIM, "worker", "token", "revoke", "old-box"], env=stack["env"],
                             cwd=REPO, capture_output=True, text=True)
    assert revoked.returncode == 0, revoked.stderr
    refused = subprocess.run([RAIM, "worker"], env=remote_env(stack, token, tmp_path / "old"),
                             cwd=REPO, capture_output=True, text=True, timeout=300)
    assert refused.returncode == 2, refused.stderr
    assert "the worker token 'old-box' was revoked" in refused.stderr
    assert not list((tmp_path / "old").rglob("*.db"))

    from app.main import create_app

    routes = worker_routes(create_app(background=False))
    assert len(routes) == 9 and all(path.startswith(WORKER_PREFIX) for _, path in routes)
    waiting = upload(stack, arena, "alpha", zipped)  # no worker runs now: it stays queued
    for method, path in routes:
        for who, headers, status in [("team", arena.auth("beta"), 403),
                                     ("revoked", {"Authorization": f"Bearer {token}"}, 401)]:
            answer = httpx.request(method, stack["url"] + fill(path, waiting), headers=headers,
                                   json={"worker": "old-box@x:1"}, timeout=30)
            assert answer.status_code == status, (method, path, who, answer.text)
    assert rows()[waiting].status == "queued"
