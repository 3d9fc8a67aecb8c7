"""A remote worker's job store: downloads checked by hash, the ground-truth cache, the worker API
spoken over real HTTP (a service on a loopback port), and no database on the worker."""

import hashlib
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select

from app.config import Settings, get_settings
from app.db import session_scope
from app.evaluation import Evaluation
from app.jobs import worker
from app.jobs.remote import (
    DOWNLOAD_ATTEMPTS,
    GroundTruthCache,
    HttpStore,
    WrongHash,
    fetch_verified,
)
from app.jobs.store import Outcome, WorkerRefused
from app.main import create_app
from app.models import AuditLog, Submission
from metrics.registry import METRIC_NAMES
from scoring.formula import RAIM_2024
from scoring.report import build_report
from tests.utils.arena import Arena, build_arena
from tests.utils.jobs import load, result_count, submit
from tests.utils.sqlite_race import interloper
from tests.utils.workers import measurements, new_worker_token, revoke_worker_token, service_in_thread


@pytest.fixture
def arena(settings, sample_set) -> Arena:
    return build_arena(sample_set)


@pytest.fixture
def service(arena) -> Iterator[str]:
    with service_in_thread(create_app(background=False)) as url:
        yield url


def remote_settings(tmp_path: Path, url: str, token: str) -> Settings:
    """What a remote worker has: the service's URL, a token, a data dir of its own."""
    return Settings(data_dir=tmp_path / "worker-data", service_url=url, worker_token=token,
                    database_url=None, broker_url=None)


@pytest.fixture
def store(service, tmp_path) -> HttpStore:
    remote = HttpStore(remote_settings(tmp_path, service, new_worker_token("lab-gpu")))
    remote.hello("test", "cpu")
    return remote


def evaluation_for(names: list[str]) -> Evaluation:
    report = build_report(((row["name"], {m: row[m] for m in METRIC_NAMES})
                           for row in measurements(names)), RAIM_2024)
    return Evaluation(report, [], dict.fromkeys(METRIC_NAMES, "t"))


def test_fetch_verified_fetches_again_after_a_wrong_hash(tmp_path):
    calls = []

    def flaky(dest: Path) -> None:
        calls.append(dest)
        dest.write_bytes(b"x")
        if len(calls) == 1:
            raise WrongHash("bytes changed on the way")

    fetch_verified(flaky, tmp_path / "f.zip", "the upload")
    assert len(calls) == 2 and (tmp_path / "f.zip").read_bytes() == b"x"


def test_fetch_verified_gives_up_after_the_attempts_and_keeps_nothing(tmp_path):
    def corrupt(dest: Path) -> None:
        dest.write_bytes(b"garbage")
        raise WrongHash("sha256 abc, expected def")

    with pytest.raises(WrongHash, match=f"the sha256 was wrong {DOWNLOAD_ATTEMPTS} times"):
        fetch_verified(corrupt, tmp_path / "f.zip", "the upload")
    assert not (tmp_path / "f.zip").exists()


def test_ground_truth_cache_fetches_once_then_serves_from_disk(tmp_path):
    cache = GroundTruthCache(tmp_path / "gt", max_bytes=10**9)
    fetched = []
    first = cache.get("ab" * 32, lambda dest: fetched.append(dest.write_bytes(b"zip")))
    again = cache.get("ab" * 32, lambda dest: fetched.append(dest))
    assert first == again == tmp_path / "gt" / f"{'ab' * 32}.zip" and len(fetched) == 1
    assert cache.stats() == {"hits": 1, "misses": 1, "entries": 1, "bytes": 3}


def test_ground_truth_cache_leaves_no_partial_file_when_a_fetch_fails(tmp_path):
    cache = GroundTruthCache(tmp_path / "gt", max_bytes=10**9)

    def broken(dest: Path) -> None:
        dest.write_bytes(b"half")
        raise WrongHash("no")

    with pytest.raises(WrongHash):
        cache.get("cd" * 32, broken)
    assert list((tmp_path / "gt").iterdir()) == []


def test_ground_truth_cache_evicts_the_least_recently_used_beyond_its_budget(tmp_path):
    import os

    cache = GroundTruthCache(tmp_path / "gt", max_bytes=25)  # room for two 10-byte zips
    for n, key in enumerate(("a", "b")):
        path = cache.get(key * 64, lambda dest: dest.write_bytes(b"0123456789"))
        os.utime(path, (1000 + n, 1000 + n))
    cache.get("a" * 64, lambda dest: None)  # a hit makes "a" the most recent
    cache.get("c" * 64, lambda dest: dest.write_bytes(b"0123456789"))
    assert sorted(p.name[0] for p in (tmp_path / "gt").glob("*.zip")) == ["a", "c"]


def test_http_store_claims_fetches_checks_and_stores_through_the_api(arena, store, tmp_path):
    sub_id = submit(arena, arena.samples.pred, tmp_path)
    job = store.claim()
    assert job is not None and job.submission_id == sub_id and job.worker == store.name
    fetched = store.fetch(job)
    with session_scope() as session:
        sha = session.get_one(Submission, sub_id).upload_sha256
    assert hashlib.sha256(fetched.upload.read_bytes()).hexdigest() == sha
    assert fetched.ground_truth.parent == tmp_path / "worker-data" / "ground-truth"
    assert hashlib.sha256(fetched.ground_truth.read_bytes()).hexdigest() == \
        fetched.ground_truth.stem
    assert store.heartbeat(fetched, 2) and load(sub_id).progress_done == 2
    assert store.store(fetched, evaluation_for(["001", "002", "003"]))
    store.finish(fetched)
    assert load(sub_id).status == "scored" and result_count(sub_id) == 3
    assert not fetched.upload.exists()  # the upload goes; the ground truth stays cached
    assert store.store(fetched, evaluation_for(["001", "002", "003"])) is False  # lease gone
    data = tmp_path / "worker-data"
    assert sorted(p.name for p in data.iterdir()) == ["ground-truth", "work"]
    assert not list((data / "work").rglob("*.zip"))
    assert not list(data.rglob("*.db")) and not list(data.rglob("*.db-*"))


def test_worker_requests_that_read_then_write_wait_for_other_workers_commits(
        arena, store, tmp_path):
    """Hello, heartbeats, progress and goodbye read the worker's row, then write. On SQLite
    another worker's commit in between would make a plain BEGIN fail at once; they hold the
    write lock from their first read instead."""
    submit(arena, arena.samples.pred, tmp_path)
    job = store.fetch(store.claim())
    with interloper(get_settings().sqlalchemy_url, "workers") as outcomes:
        store.hello("test", "cpu")
        store.alive({})
        assert store.heartbeat(job, 1)
        store.goodbye()
    assert len(outcomes) >= 4 and not any(outcomes), "a write landed between read and write"


def test_a_corrupt_upload_is_fetched_again_then_the_job_goes_back_with_the_reason(
        arena, store, tmp_path):
    sub_id = submit(arena, arena.samples.pred, tmp_path)
    with session_scope() as session:
        path = get_settings().data_dir / session.get_one(Submission, sub_id).upload_path
    path.write_bytes(path.read_bytes()[:-1] + b"!")  # the service's copy rotted on disk
    assert worker.score_next(store, settings=store.settings) is Outcome.RETRY
    sub = load(sub_id)
    assert sub.status == "queued" and sub.attempts == 1
    with session_scope() as session:  # the job left no trace but the worker token's creation
        actions = session.scalars(select(AuditLog.action)).all()
    assert actions == ["worker_token.add"]
    assert not list((tmp_path / "worker-data" / "work").rglob("*.zip"))


def test_a_revoked_token_stops_the_remote_worker(arena, store, tmp_path):
    submit(arena, arena.samples.pred, tmp_path)
    revoke_worker_token("lab-gpu")
    with pytest.raises(WorkerRefused, match="was revoked"):
        worker.score_next(store, settings=store.settings)
    with pytest.raises(WorkerRefused):
        store.alive({})


def test_a_killed_worker_s_leftover_upload_is_removed_at_the_next_start(service, tmp_path):
    dead = tmp_path / "worker-data" / "work" / "999999999"
    dead.mkdir(parents=True)
    (dead / "submission-1.zip").write_bytes(b"half")
    HttpStore(remote_settings(tmp_path, service, new_worker_token("lab-gpu")))
    assert not dead.exists()


def test_the_lease_lost_mid_job_stops_the_remote_job_quietly(arena, store, tmp_path):
    sub_id = submit(arena, arena.samples.pred, tmp_path)
    job = store.fetch(store.claim())
    with session_scope() as session:
        session.get_one(Submission, sub_id).status = "queued"  # swept meanwhile
    assert store.heartbeat(job, 1) is False
    assert store.store(job, evaluation_for(["001", "002", "003"])) is False
