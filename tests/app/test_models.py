"""The models and migrations on SQLite and PostgreSQL: schema, constraints, time zones, locking."""

import sqlite3
import threading
from datetime import UTC, datetime, timedelta, timezone

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect, make_url, select
from sqlalchemy.exc import IntegrityError, StatementError

from app import db
from app.models import (
    Challenge,
    ImageResult,
    Phase,
    Submission,
    Team,
    User,
    utcnow,
)
from metrics.registry import METRIC_NAMES
from scoring.formula import RAIM_2024


def _challenge(session, slug="c1"):
    challenge = Challenge(slug=slug, title="C", formula=RAIM_2024.to_dict())
    session.add(challenge)
    session.flush()
    return challenge


def _submission(session):
    challenge = _challenge(session)
    phase = Phase(challenge_id=challenge.id, slug="p", title="P", kind="paired")
    team = Team(challenge_id=challenge.id, name="t")
    user = User(email="u@example.org", name="u")
    session.add_all([phase, team, user])
    session.flush()
    submission = Submission(phase_id=phase.id, team_id=team.id, user_id=user.id,
                            upload_path="u.zip", upload_bytes=1, upload_sha256="0" * 64,
                            original_filename="u.zip", image_count=1)
    session.add(submission)
    session.flush()
    return submission


def test_image_results_have_one_column_per_registry_metric():
    columns = {c.name for c in ImageResult.__table__.columns}
    assert columns - {"id", "submission_id", "name", "score"} == set(METRIC_NAMES)


def test_utcnow_is_timezone_aware():
    assert utcnow().tzinfo is not None
    assert utcnow().utcoffset() == timedelta(0)


def test_migrations_upgrade_to_head_matching_models(db_url):
    db.ensure_schema(db_url)
    assert db.current_revision(db_url) == db.head_revision()
    with db.get_engine(db_url).connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn, opts={"compare_type": True}),
                                db.all_metadata())
    assert diff == []


def test_migrations_downgrade_removes_every_table(db_url):
    db.ensure_schema(db_url)
    db.downgrade(db_url, "base")
    tables = set(inspect(db.get_engine(db_url)).get_table_names()) - {"alembic_version"}
    assert tables == set()
    assert db.current_revision(db_url) is None
    db.ensure_schema(db_url)
    assert db.current_revision(db_url) == db.head_revision()


def test_upgrading_from_0006_stores_the_leaderboards_existing_submissions_make(db_url):
    from app.leaderboard import phase_entries, phase_leaderboard, rank_entries

    db.upgrade(db_url, "0006")
    t0 = datetime(2026, 3, 1, tzinfo=UTC)
    with db.get_engine(db_url).begin() as conn:
        conn.execute(Challenge.__table__.insert().values(id=1, slug="c", title="C", formula={},
                                                         ranking=[], description="", created_at=t0))
        conn.execute(Phase.__table__.insert().values(id=1, challenge_id=1, slug="p", title="P",
                                                     kind="paired", position=0, leaderboard="public",
                                                     rank_by="best"))
        conn.execute(Team.__table__.insert(), [{"id": i, "challenge_id": 1, "name": f"t{i}",
                                                "created_at": t0} for i in (1, 2, 3)])
        conn.execute(Submission.__table__.insert(), [
            {"phase_id": 1, "team_id": team, "status": status, "score": score,
             "mean": None if score is None else {"score": score},
             "created_at": t0 + timedelta(minutes=i), "upload_path": "u", "upload_bytes": 1,
             "upload_sha256": "0" * 64, "original_filename": "r.zip", "image_count": 1}
            for i, (team, status, score) in enumerate([(1, "scored", 50.0), (1, "scored", 70.0),
                                                       (2, "failed", None), (2, "scored", 60.0),
                                                       (3, "queued", None)])])
    db.upgrade(db_url)
    with db.session_factory(db_url)() as session:
        phase = session.get_one(Phase, 1)
        stored = phase_leaderboard(session, phase)
        assert [(r.entry.team, r.entry.score) for r in stored] == [("t1", 70.0), ("t2", 60.0)]
        assert stored == rank_entries(phase_entries(session, phase), "best")


def test_upgrade_concurrent_callers_all_succeed(db_url):
    errors = []

    def run():
        try:
            db.upgrade(db_url)
        except Exception as exc:  # collected and asserted below
            errors.append(exc)

    threads = [threading.Thread(target=run) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert db.current_revision(db_url) == db.head_revision()


def test_timestamps_read_back_aware_utc(session):
    other_zone = datetime(2024, 2, 1, 12, 0, tzinfo=timezone(timedelta(hours=2)))
    challenge = _challenge(session)
    phase = Phase(challenge_id=challenge.id, slug="p", title="P", kind="paired", start=other_zone)
    session.add(phase)
    session.commit()
    session.expire_all()
    loaded = session.get(Phase, phase.id)
    assert loaded.start == datetime(2024, 2, 1, 10, 0, tzinfo=UTC)
    assert loaded.start.tzinfo is not None
    assert loaded.challenge.created_at.tzinfo is not None


def test_naive_timestamp_refused(session):
    challenge = _challenge(session)
    session.add(Phase(challenge_id=challenge.id, slug="p", title="P", kind="paired",
                      start=datetime(2024, 2, 1)))
    with pytest.raises(StatementError, match="naive datetime"):
        session.flush()


def test_user_email_unique(session):
    session.add(User(email="a@example.org", name="a"))
    session.flush()
    session.add(User(email="a@example.org", name="b"))
    with pytest.raises(IntegrityError):
        session.flush()


def test_team_name_unique_per_challenge_only(session):
    first, second = _challenge(session, "c1"), _challenge(session, "c2")
    session.add_all([Team(challenge_id=first.id, name="x"), Team(challenge_id=second.id, name="x")])
    session.flush()
    session.add(Team(challenge_id=first.id, name="x"))
    with pytest.raises(IntegrityError):
        session.flush()


def test_submission_status_outside_set_refused(session):
    submission = _submission(session)
    submission.status = "lost"
    with pytest.raises(IntegrityError):
        session.flush()


def test_phase_kind_outside_set_refused(session):
    challenge = _challenge(session)
    session.add(Phase(challenge_id=challenge.id, slug="p", title="P", kind="paird"))
    with pytest.raises(IntegrityError):
        session.flush()


def test_submission_defaults_and_json_round_trip(session):
    submission = _submission(session)
    submission.mean = {"psnr": 30.5, "score": 90.25}
    submission.notes = ["a note"]
    session.commit()
    session.expire_all()
    loaded = session.get(Submission, submission.id)
    assert (loaded.status, loaded.attempts) == ("queued", 0)
    assert loaded.mean == {"psnr": 30.5, "score": 90.25}
    assert loaded.notes == ["a note"]


def test_deleting_submission_deletes_its_image_results(session):
    submission = _submission(session)
    session.add(ImageResult(submission_id=submission.id, name="001", psnr=30.0, score=80.0))
    session.commit()
    session.delete(submission)
    session.commit()
    assert session.scalars(select(ImageResult)).all() == []


def test_foreign_keys_enforced(session):
    session.add(Team(challenge_id=12345, name="orphan"))
    with pytest.raises(IntegrityError):
        session.flush()


def test_session_scope_never_migrates(db_url):
    with db.session_scope(db_url) as s:
        assert inspect(s.connection()).get_table_names() == []
    assert db.current_revision(db_url) is None


def test_session_scope_rolls_back_on_error(db_url):
    db.ensure_schema(db_url)
    with pytest.raises(RuntimeError), db.session_scope(db_url) as s:
        _challenge(s)
        raise RuntimeError("boom")
    with db.session_scope(db_url) as s:
        assert s.scalars(select(Challenge)).all() == []


def test_session_scope_immediate_holds_sqlite_write_lock(db_url):
    if not db_url.startswith("sqlite"):
        pytest.skip("BEGIN IMMEDIATE is the SQLite locking strategy")
    db.ensure_schema(db_url)
    path = make_url(db_url).database
    with db.session_scope(db_url, immediate=True) as s:
        s.execute(select(Challenge)).all()
        other = sqlite3.connect(path, timeout=0, isolation_level=None)
        try:
            with pytest.raises(sqlite3.OperationalError, match="locked"):
                other.execute("BEGIN IMMEDIATE")
        finally:
            other.close()


def test_session_scope_immediate_takes_the_lock_at_its_first_statement(db_url):
    """A request's session that the route never uses holds no lock, so code the route hands
    the work to can open write sessions of its own."""
    if not db_url.startswith("sqlite"):
        pytest.skip("BEGIN IMMEDIATE is the SQLite locking strategy")
    db.ensure_schema(db_url)
    with db.session_scope(db_url, immediate=True) as unused:
        with db.session_scope(db_url, immediate=True) as inner:
            _challenge(inner)
        assert unused.scalars(select(Challenge)).one().slug


def test_sqlite_runs_in_wal_mode(db_url):
    if not db_url.startswith("sqlite"):
        pytest.skip("SQLite only")
    with db.get_engine(db_url).connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1


def test_database_url_maps_plain_postgresql_to_psycopg():
    assert db.database_url("postgresql://u@h/d") == "postgresql+psycopg://u@h/d"
    assert db.database_url("postgres://u@h/d") == "postgresql+psycopg://u@h/d"
    assert db.database_url("sqlite:////x.db") == "sqlite:////x.db"
