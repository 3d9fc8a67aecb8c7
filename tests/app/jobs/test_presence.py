"""Workers you can see: registration, heartbeats, silent and stopped workers, forgetting them."""

from datetime import timedelta

from sqlalchemy import select, update

from app.config import get_settings
from app.db import session_scope
from app.jobs import presence, sweeper
from app.jobs.worker import Beacon, DatabaseStore
from app.models import Worker, utcnow


def test_heartbeats_come_six_times_per_lease_within_bounds(settings, monkeypatch):
    assert presence.heartbeat_seconds(settings) == 30  # the 1800 s default lease
    for lease, beat in ((6, 1), (60, 10), (1, 1)):
        monkeypatch.setenv("RAIM_STALE_AFTER_SECONDS", str(lease))
        get_settings.cache_clear()
        assert presence.heartbeat_seconds(get_settings()) == beat


def test_a_worker_is_live_then_silent_after_three_missed_beats_then_stopped(migrated):
    settings = get_settings()
    store = DatabaseStore(settings, kind="celery", name="box:1")
    store.hello("v1", "cpu")
    with session_scope() as session:
        row = session.scalars(select(Worker)).one()
        assert (row.name, row.kind, row.version, row.device) == ("box:1", "celery", "v1", "cpu")
        now = utcnow()
        assert presence.state(row, now, settings) == "live"
        late = now + timedelta(seconds=presence.silent_after_seconds(settings) + 1)
        assert presence.state(row, late, settings) == "silent"
    store.alive({"features": {"hits": 2, "misses": 1, "bytes": 5, "entries": 1}})
    store.goodbye()
    with session_scope() as session:
        row = session.scalars(select(Worker)).one()
        assert row.caches["features"]["hits"] == 2
        assert presence.state(row, utcnow(), settings) == "stopped"


def test_the_beacon_beats_while_the_process_lives(migrated):
    settings = get_settings()
    store = DatabaseStore(settings, kind="celery", name="box:2")
    store.heartbeat_seconds = 0.05
    store.hello("v1", "cpu")
    with session_scope() as session:
        session.execute(update(Worker).values(heartbeat_at=utcnow() - timedelta(hours=1)))
    beacon = Beacon(store, lambda: {"features": {"hits": 7}})
    beacon.start()
    try:
        deadline = utcnow() + timedelta(seconds=20)
        while utcnow() < deadline:
            with session_scope() as session:
                row = session.scalars(select(Worker)).one()
            if row.caches and utcnow() - row.heartbeat_at < timedelta(minutes=1):
                break
    finally:
        beacon.stop()
    assert row.caches == {"features": {"hits": 7}}


def test_the_sweeper_deletes_workers_silent_for_a_week(migrated):
    for name, age in (("old:1", timedelta(days=8)), ("recent:1", timedelta(days=2))):
        DatabaseStore(get_settings(), name=name).hello("v", "cpu")
        with session_scope() as session:
            session.execute(update(Worker).where(Worker.name == name)
                            .values(heartbeat_at=utcnow() - age))
    sweeper.sweep(get_settings())
    with session_scope() as session:
        assert list(session.scalars(select(Worker.name))) == ["recent:1"]
