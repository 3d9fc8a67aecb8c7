"""The queue dashboard: workers with their heartbeats and caches, teams waiting, the no-worker
warning (``app.organiser.queue_dashboard``, shown by GET /api/organiser/queue and the page)."""

from datetime import timedelta

import pytest
from sqlalchemy import update

from app.config import get_settings
from app.db import session_scope
from app.jobs import worker
from app.jobs.worker import DatabaseStore
from app.models import Worker, utcnow
from app.organiser import queue_dashboard
from tests.utils.arena import Arena, build_arena
from tests.utils.pages import scored_submission


@pytest.fixture
def arena(db_url, sample_set) -> Arena:
    return build_arena(sample_set)


def board() -> dict:
    with session_scope() as session:
        return queue_dashboard(session, mode="celery", settings=get_settings())


def registered(name: str, *, silent_for: timedelta | None = None, kind: str = "celery") -> None:
    DatabaseStore(get_settings(), kind=kind, name=name).hello("raim-arena 0.1.0", "cpu")
    if silent_for is not None:
        with session_scope() as session:
            session.execute(update(Worker).where(Worker.name == name)
                            .values(heartbeat_at=utcnow() - silent_for))


def test_jobs_waiting_without_a_live_worker_are_warned_about(arena):
    scored_submission(arena.phase_id, arena.team_ids["alpha"], {}, status="queued")
    registered("dead:1", silent_for=timedelta(minutes=10))
    answer = board()
    assert answer["live_workers"] == 0
    assert answer["warning"].startswith("1 submission(s) wait") and "no worker is alive" in \
        answer["warning"]
    registered("alive:2")
    assert board()["warning"] is None and board()["live_workers"] == 1


def test_workers_show_state_kind_heartbeat_and_caches_and_long_dead_ones_go(arena):
    registered("alive:1")
    DatabaseStore(get_settings(), name="alive:1").alive(
        {"features": {"hits": 4, "misses": 1, "bytes": 2048, "entries": 2, "stores": 1}})
    registered("quiet:2", silent_for=timedelta(minutes=5))
    registered("gone:3", silent_for=timedelta(hours=2))
    entries = {w["worker"]: w for w in board()["workers"]}
    assert sorted(entries) == ["alive:1", "quiet:2"]
    assert entries["alive:1"]["state"] == "live" and entries["quiet:2"]["state"] == "silent"
    assert entries["alive:1"]["kind"] == "celery" and entries["alive:1"]["device"] == "cpu"
    assert entries["alive:1"]["cache"]["hits"] == 4
    assert entries["quiet:2"]["since_heartbeat_seconds"] >= 300
    assert board()["cache"] == {"hits": 4, "misses": 1, "bytes": 2048, "entries": 2,
                                "workers": 1}


def test_a_long_silent_worker_holding_a_job_stays_listed_with_the_job(arena):
    sub_id = scored_submission(arena.phase_id, arena.team_ids["alpha"], {}, status="queued")
    registered("stuck:4")
    job = worker.claim_next("stuck:4", get_settings())
    assert job is not None and job.submission_id == sub_id
    with session_scope() as session:
        session.execute(update(Worker).values(heartbeat_at=utcnow() - timedelta(hours=3)))
    [entry] = board()["workers"]
    assert entry["worker"] == "stuck:4" and entry["state"] == "silent"
    assert entry["jobs"][0]["submission_id"] == sub_id


def test_each_team_s_waiting_jobs_are_counted(arena):
    for minutes in (30, 20, 10):
        scored_submission(arena.phase_id, arena.team_ids["alpha"], {}, status="queued",
                          minutes_ago=minutes)
    scored_submission(arena.phase_id, arena.team_ids["beta"], {}, status="queued", minutes_ago=5)
    scored_submission(arena.phase_id, arena.team_ids["beta"], {"001": 1.0})
    teams = board()["teams"]
    assert [(t["team"], t["waiting"], t["running"]) for t in teams] == \
        [("alpha", 3, 0), ("beta", 1, 0)]
    assert teams[0]["oldest_waiting_seconds"] >= 30 * 60
