"""Who is asking: a token request reads its caller without a write lock and records its use
at most once a minute; a state-changing request's session takes the write lock before it reads."""

from datetime import UTC, datetime, timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import event, select

from app import accounts, last_use
from app.db import get_engine, session_scope
from app.main import create_app
from app.models import ApiToken
from tests.utils.arena import build_arena
from tests.utils.sqlite_race import interloper


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    fake = Clock()
    monkeypatch.setattr(accounts, "utcnow", fake)
    monkeypatch.setattr(last_use, "utcnow", fake)
    return fake


def test_optional_user_token_writes_last_used_at_at_most_once_a_minute(migrated, clock):
    with session_scope() as session:
        organiser, _ = accounts.ensure_organiser(session, "org@example.org")
        _, token = accounts.create_token(session, organiser)
    statements: list[str] = []
    engine = get_engine()
    listener = lambda *args: statements.append(args[2].split()[0:2])  # noqa: E731
    event.listen(engine, "before_cursor_execute", listener)
    try:
        with TestClient(create_app(background=False)) as client:
            auth = {"Authorization": f"Bearer {token}"}

            def writes() -> int:
                statements.clear()
                assert client.get("/api/organiser/queue", headers=auth).status_code == 200
                assert ["BEGIN", "IMMEDIATE"] not in statements
                return sum(1 for words in statements if words[0].upper() == "UPDATE")

            assert writes() == 1  # never used: recorded
            clock.now += timedelta(seconds=59)
            assert writes() == 0 and writes() == 0
            clock.now += timedelta(seconds=1)
            assert writes() == 1
    finally:
        event.remove(engine, "before_cursor_execute", listener)
    with session_scope() as session:
        assert session.scalar(select(ApiToken.last_used_at)) == clock.now


def test_optional_user_refuses_a_revoked_token_without_writing(migrated, clock):
    with session_scope() as session:
        organiser, _ = accounts.ensure_organiser(session, "org@example.org")
        row, token = accounts.create_token(session, organiser)
        accounts.revoke_token(row)
    with TestClient(create_app(background=False)) as client:
        response = client.get("/api/organiser/queue", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 401
    with session_scope() as session:
        assert session.scalar(select(ApiToken.last_used_at)) is None


def test_a_state_changing_request_holds_the_write_lock_from_its_first_read(settings, sample_set):
    """A POST reads (the challenge of its path), then writes (a judge). On SQLite another
    connection's commit in between would make it fail with "database is locked"; its session
    begins with the write lock, so the other writer waits instead."""
    arena = build_arena(sample_set)
    client = TestClient(create_app(background=False))
    with interloper(settings.sqlalchemy_url, "challenges") as outcomes:
        answer = client.post("/api/organiser/challenges/raim-test/judges",
                             headers=arena.auth("organiser"), json={"name": "Judge One"})
    assert answer.status_code == 201, answer.text
    assert outcomes and not any(outcomes), "a write landed between the request's read and write"
    with interloper(settings.sqlalchemy_url, "challenges") as outcomes:
        assert client.get("/api/organiser/challenges/raim-test/judges",
                          headers=arena.auth("organiser")).status_code == 200
    assert outcomes and all(outcomes), "a read-only request took the write lock"
