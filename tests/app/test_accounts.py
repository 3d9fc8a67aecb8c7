"""Users, sign-in, API tokens, teams and members, against both databases."""

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from app import accounts
from app.models import ApiToken, Challenge, User
from scoring.formula import RAIM_2024


@pytest.fixture
def challenge(session):
    row = Challenge(slug="raim", title="RAIM", formula=RAIM_2024.to_dict())
    session.add(row)
    session.flush()
    return row


def test_create_user_normalises_email_and_hashes_password(session):
    user = accounts.create_user(session, "  Alice@Example.ORG ", password="a long password")
    assert user.email == "alice@example.org"
    assert user.name == "alice"
    assert user.password_hash and "a long password" not in user.password_hash
    assert not user.is_organiser


def test_create_user_refuses_duplicate_email(session):
    accounts.create_user(session, "bob@example.org")
    with pytest.raises(accounts.AccountError, match="already exists"):
        accounts.create_user(session, "BOB@example.org")


def test_create_user_refuses_bad_email_and_weak_password(session):
    with pytest.raises(accounts.AccountError, match="not an email"):
        accounts.create_user(session, "bob")
    with pytest.raises(accounts.AccountError, match="at least 8"):
        accounts.create_user(session, "bob@example.org", password="123")


def test_authenticate_accepts_only_right_password(session):
    accounts.create_user(session, "carol@example.org", password="carol's secret")
    assert accounts.authenticate(session, "Carol@example.org", "carol's secret").email == \
        "carol@example.org"
    assert accounts.authenticate(session, "carol@example.org", "wrong secret") is None
    assert accounts.authenticate(session, "nobody@example.org", "carol's secret") is None
    assert accounts.authenticate(session, "not an email", "carol's secret") is None


def test_authenticate_refuses_password_less_user(session):
    accounts.create_user(session, "svc@example.org")
    assert accounts.authenticate(session, "svc@example.org", "") is None


def test_create_token_stores_only_its_hash(session):
    user = accounts.create_user(session, "dan@example.org")
    row, token = accounts.create_token(session, user, name="laptop")
    session.commit()
    stored = session.scalars(select(ApiToken)).one()
    assert token not in (stored.token_hash, stored.prefix)
    assert token.startswith(stored.prefix)
    assert accounts.user_for_token(session, token).id == user.id
    assert stored.last_used_at is not None


def test_find_token_reads_only_and_says_when_last_use_is_due(session):
    user = accounts.create_user(session, "dan@example.org")
    row, token = accounts.create_token(session, user)
    session.commit()
    t0 = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
    found = accounts.find_token(session, token, now=t0)
    assert found.user.id == user.id and found.row_id == row.id and found.stale
    assert not session.dirty and not session.new
    session.refresh(row)
    assert row.last_used_at is None  # looking up wrote nothing
    accounts.record_token_use(session, row.id, now=t0)
    session.refresh(row)
    assert row.last_used_at == t0
    assert not accounts.find_token(session, token, now=t0 + timedelta(seconds=59)).stale
    assert accounts.find_token(session, token, now=t0 + timedelta(seconds=60)).stale


def test_record_token_use_writes_at_most_once_a_minute_and_never_back(session):
    user = accounts.create_user(session, "dan@example.org")
    row, _ = accounts.create_token(session, user)
    t0 = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
    accounts.record_token_use(session, row.id, now=t0)
    for now in (t0 + timedelta(seconds=30), t0 - timedelta(minutes=5)):
        accounts.record_token_use(session, row.id, now=now)  # a request that looked earlier
        session.refresh(row)
        assert row.last_used_at == t0
    accounts.record_token_use(session, row.id, now=t0 + timedelta(minutes=1))
    session.refresh(row)
    assert row.last_used_at == t0 + timedelta(minutes=1)


def test_user_for_token_refuses_revoked_and_unknown(session):
    user = accounts.create_user(session, "eve@example.org")
    row, token = accounts.create_token(session, user)
    accounts.revoke_token(row)
    session.flush()
    assert accounts.user_for_token(session, token) is None
    assert accounts.user_for_token(session, "raim_unknownunknownunknown") is None
    assert accounts.user_for_token(session, "garbage") is None


def test_create_team_without_member_issues_service_account_token(session, challenge):
    team, token = accounts.create_team(session, challenge, " Team Alpha ")
    session.commit()
    holder = accounts.user_for_token(session, token)
    assert team.name == "Team Alpha"
    assert holder.email == "team-raim-team-alpha@teams.local"
    assert holder.password_hash is None
    assert accounts.team_of(session, holder, challenge).id == team.id


def test_create_team_with_member_issues_member_token(session, challenge):
    member = accounts.create_user(session, "fay@example.org")
    team, token = accounts.create_team(session, challenge, "Beta", member)
    assert accounts.user_for_token(session, token).id == member.id
    assert accounts.team_of(session, member, challenge).id == team.id
    assert session.scalar(select(User).where(User.email.like("team-%"))) is None


def test_create_team_refuses_duplicate_and_empty_names(session, challenge):
    accounts.create_team(session, challenge, "Gamma")
    with pytest.raises(accounts.AccountError, match="already exists"):
        accounts.create_team(session, challenge, "Gamma")
    with pytest.raises(accounts.AccountError, match="empty"):
        accounts.create_team(session, challenge, "   ")


def test_add_member_one_team_per_challenge(session, challenge):
    person = accounts.create_user(session, "gus@example.org")
    accounts.create_team(session, challenge, "Delta", person)
    other, _ = accounts.create_team(session, challenge, "Epsilon")
    with pytest.raises(accounts.AccountError, match="already in team 'Delta'"):
        accounts.add_member(session, other, person)


def test_ensure_organiser_creates_then_promotes(session):
    user, created = accounts.ensure_organiser(session, "org@example.org", password="org password")
    assert created and user.is_organiser
    person = accounts.create_user(session, "hal@example.org")
    promoted, created = accounts.ensure_organiser(session, "hal@example.org", name="Hal")
    assert not created and promoted.id == person.id
    assert promoted.is_organiser and promoted.name == "Hal"


def test_change_password_checks_the_current_one_and_ends_other_sessions(session):
    from app import browser_sessions

    user = accounts.create_user(session, "dan@example.org", password="dan's old secret")
    here = browser_sessions.start(session, user, max_age_seconds=3600)
    there = browser_sessions.start(session, user, max_age_seconds=3600)
    with pytest.raises(accounts.WrongPassword):
        accounts.change_password(session, user, "a wrong guess", "dan's new secret")
    assert accounts.change_password(session, user, "dan's old secret", "dan's new secret",
                                    keep_session=here) == 1
    assert browser_sessions.resolve(session, here) is not None
    assert browser_sessions.resolve(session, there) is None
    assert accounts.authenticate(session, "dan@example.org", "dan's new secret") is not None


def test_ensure_organiser_password_reset_ends_every_session(session):
    from app import browser_sessions

    user = accounts.create_user(session, "eve@example.org", password="eve's old secret")
    signed_in = browser_sessions.start(session, user, max_age_seconds=3600)
    accounts.ensure_organiser(session, "eve@example.org", password="eve's new secret")
    assert browser_sessions.resolve(session, signed_in) is None
