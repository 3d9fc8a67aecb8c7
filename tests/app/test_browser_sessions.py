"""Server-side browser sessions: only live rows sign anyone in, and last_seen is written rarely."""

from datetime import timedelta

from sqlalchemy import func, select

from app import browser_sessions
from app.accounts import create_user
from app.models import BrowserSession, utcnow
from app.security import hash_token

DAY = 24 * 3600


def _user(session, email="ann@example.org"):
    return create_user(session, email, name="Ann", password="correct-horse-battery")


def test_start_stores_only_a_hash_of_the_id_and_resolves_it(session):
    user = _user(session)
    session_id = browser_sessions.start(session, user, max_age_seconds=DAY)
    row = session.scalar(select(BrowserSession))
    assert row.id_hash == hash_token(session_id) and session_id not in row.id_hash
    assert row.expires_at - row.created_at == timedelta(days=1)
    found = browser_sessions.resolve(session, session_id)
    assert found is not None and found.user.id == user.id and not found.stale


def test_resolve_refuses_revoked_expired_and_unknown_sessions(session):
    user = _user(session)
    revoked = browser_sessions.start(session, user, max_age_seconds=DAY)
    expired = browser_sessions.start(session, user, max_age_seconds=DAY)
    browser_sessions.revoke(session, revoked)
    later = utcnow() + timedelta(days=1, seconds=1)
    assert browser_sessions.resolve(session, revoked) is None
    assert browser_sessions.resolve(session, expired, now=later) is None
    assert browser_sessions.resolve(session, "not-a-session") is None


def test_resolve_marks_last_seen_stale_only_after_a_minute(session):
    user = _user(session)
    session_id = browser_sessions.start(session, user, max_age_seconds=DAY)
    started = session.scalar(select(BrowserSession.last_seen_at))
    soon = started + timedelta(seconds=30)
    assert not browser_sessions.resolve(session, session_id, now=soon).stale
    later = started + timedelta(minutes=2)
    found = browser_sessions.resolve(session, session_id, now=later)
    assert found.stale
    browser_sessions.touch(session, found.row_id, now=later)
    assert session.scalar(select(BrowserSession.last_seen_at)) == later
    assert not browser_sessions.resolve(session, session_id, now=later + timedelta(seconds=59)).stale
    assert browser_sessions.resolve(session, session_id, now=later + timedelta(seconds=60)).stale


def test_revoke_others_keeps_the_current_session(session):
    user, other = _user(session), _user(session, "bob@example.org")
    mine = browser_sessions.start(session, user, max_age_seconds=DAY)
    for _ in range(2):
        browser_sessions.start(session, user, max_age_seconds=DAY)
    bobs = browser_sessions.start(session, other, max_age_seconds=DAY)
    assert browser_sessions.revoke_others(session, user.id, keep=mine) == 2
    assert browser_sessions.resolve(session, mine) is not None
    assert browser_sessions.resolve(session, bobs) is not None
    assert browser_sessions.revoke_others(session, user.id) == 1


def test_start_deletes_the_users_expired_sessions(session):
    user = _user(session)
    browser_sessions.start(session, user, max_age_seconds=DAY)
    session.execute(BrowserSession.__table__.update().values(
        expires_at=utcnow() - timedelta(seconds=1)))
    browser_sessions.start(session, user, max_age_seconds=DAY)
    assert session.scalar(select(func.count(BrowserSession.id))) == 1
