"""Team invitations and joining (app.invitations), against both databases: single use, expiry,
revocation, one team per person per challenge, no judge in a team of the challenge they judge."""

from datetime import timedelta

import pytest
from sqlalchemy import select

from app import accounts, invitations, security
from app.judging.models import Judge
from app.models import AuditLog, Challenge, TeamInvitation, utcnow
from scoring.formula import RAIM_2024


def _challenge(session, slug):
    row = Challenge(slug=slug, title=slug.upper(), formula=RAIM_2024.to_dict())
    session.add(row)
    session.flush()
    return row


@pytest.fixture
def challenge(session):
    return _challenge(session, "raim")


@pytest.fixture
def ann(session):
    return accounts.create_user(session, "ann@example.org", name="Ann")


@pytest.fixture
def team(session, challenge, ann):
    team, _ = accounts.create_team(session, challenge, "Alpha", ann)
    return team


@pytest.fixture
def bob(session):
    return accounts.create_user(session, "bob@example.org", name="Bob")


def test_invite_stores_only_the_hash_of_a_code_shown_once(session, team, ann):
    made = invitations.invite(session, team, ann)
    assert security.looks_like_token(made.code)
    row = session.get_one(TeamInvitation, made.invitation.id)
    assert row.code_hash == security.hash_token(made.code) and made.code not in row.code_hash
    assert made.code.startswith(row.prefix) and len(row.prefix) < 16
    assert row.created_by_id == ann.id and row.used_at is None and row.revoked_at is None
    assert timedelta(days=6) < row.expires_at - row.created_at <= timedelta(days=7)
    assert session.scalar(select(AuditLog.action).where(AuditLog.action == "team.invite"))


def test_invite_is_for_members_of_the_team_only(session, team, bob):
    with pytest.raises(accounts.AccountError, match="only members of team 'Alpha'"):
        invitations.invite(session, team, bob)


def test_join_makes_a_second_member_and_uses_the_invitation(session, challenge, team, ann, bob):
    made = invitations.invite(session, team, ann)
    joined = invitations.join(session, made.code, bob)
    assert joined.id == team.id
    assert accounts.team_of(session, bob, challenge).id == team.id
    session.refresh(team)
    assert sorted(m.user.name for m in team.members) == ["Ann", "Bob"]
    row = session.get_one(TeamInvitation, made.invitation.id)
    assert row.used_by_id == bob.id and row.used_at is not None
    entry = session.scalar(select(AuditLog).where(AuditLog.action == "team.join"))
    assert entry.details == {"user": "bob@example.org", "via": f"invitation {row.prefix}"}
    assert entry.target == "team:raim/Alpha" and entry.actor_id == bob.id


def test_an_invitation_admits_one_person(session, team, ann, bob):
    made = invitations.invite(session, team, ann)
    invitations.join(session, made.code, bob)
    cat = accounts.create_user(session, "cat@example.org")
    with pytest.raises(accounts.AccountError, match="already been used"):
        invitations.join(session, made.code, cat)


def test_an_expired_invitation_is_refused(session, team, ann, bob):
    made = invitations.invite(session, team, ann)
    late = made.invitation.expires_at + timedelta(seconds=1)
    assert "expired" in invitations.invitation_problem(made.invitation, late)
    with pytest.raises(accounts.AccountError, match="expired at .* ask a member of team 'Alpha'"):
        invitations.join(session, made.code, bob, now=late)
    assert invitations.open_invitations(session, team, late) == []


def test_a_revoked_invitation_is_refused_and_a_used_one_cannot_be_revoked(session, team, ann,
                                                                          bob):
    made = invitations.invite(session, team, ann)
    invitations.revoke(session, made.invitation, ann)
    with pytest.raises(accounts.AccountError, match="withdrawn by the team"):
        invitations.join(session, made.code, bob)
    assert invitations.open_invitations(session, team) == []
    other = invitations.invite(session, team, ann)
    invitations.join(session, other.code, bob)
    with pytest.raises(accounts.AccountError, match="already been used"):
        invitations.revoke(session, other.invitation, ann)


def test_only_a_member_of_the_team_revokes(session, challenge, team, ann, bob):
    made = invitations.invite(session, team, ann)
    accounts.create_team(session, challenge, "Beta", bob)
    with pytest.raises(invitations.NotAMember, match="only members of team 'Alpha'"):
        invitations.revoke(session, made.invitation, bob)
    assert made.invitation.revoked_at is None


def test_one_team_per_person_per_challenge(session, challenge, team, ann, bob):
    accounts.create_team(session, challenge, "Beta", bob)
    made = invitations.invite(session, team, ann)
    with pytest.raises(accounts.AccountError,
                       match="already in team 'Beta' of challenge raim.*one team per challenge"):
        invitations.join(session, made.code, bob)
    assert session.get_one(TeamInvitation, made.invitation.id).used_at is None  # still usable
    with pytest.raises(accounts.AccountError, match="already a member of team 'Alpha'"):
        invitations.join(session, made.code, ann)


def test_a_person_may_be_in_one_team_of_each_challenge(session, team, ann, bob):
    other = _challenge(session, "raim-2026")
    theirs, _ = accounts.create_team(session, other, "Gamma", bob)
    invitations.join(session, invitations.invite(session, team, ann).code, bob)
    assert {t.id for t in accounts.teams_of(session, bob)} == {team.id, theirs.id}


def test_a_judge_of_the_challenge_may_not_join_one_of_its_teams(session, challenge, team, ann,
                                                                bob):
    session.add(Judge(challenge_id=challenge.id, user_id=bob.id, name="Judge Bob"))
    session.flush()
    made = invitations.invite(session, team, ann)
    with pytest.raises(accounts.AccountError, match="judges challenge raim"):
        invitations.join(session, made.code, bob)
    with pytest.raises(accounts.AccountError, match="judges challenge raim"):
        invitations.admit(session, team, bob, via="raim team add")


def test_admit_adds_a_member_under_the_same_rules(session, challenge, team, bob):
    invitations.admit(session, team, bob, via="raim team add")
    assert accounts.team_of(session, bob, challenge).id == team.id
    entry = session.scalar(select(AuditLog).where(AuditLog.action == "team.join"))
    assert entry.details["via"] == "raim team add" and entry.actor_id is None
    with pytest.raises(accounts.AccountError, match="already a member"):
        invitations.admit(session, team, bob, via="raim team add")


def test_the_code_is_read_from_a_pasted_link_or_alone(session, team, ann):
    made = invitations.invite(session, team, ann)
    for pasted in (made.code, f"  https://arena.example/join/{made.code}\n",
                   f"Join us: http://127.0.0.1:8123/join/{made.code} (Ann)"):
        assert invitations.code_in(pasted) == made.code
        assert invitations.find(session, pasted).id == made.invitation.id
    assert invitations.code_in("https://arena.example/join/") is None
    with pytest.raises(invitations.InvitationNotFound, match="no invitation has this code"):
        invitations.find(session, security.new_token())


def test_open_invitations_lists_the_usable_ones_newest_first(session, team, ann, bob):
    now = utcnow()
    first = invitations.invite(session, team, ann, now=now - timedelta(hours=2))
    used = invitations.invite(session, team, ann, now=now - timedelta(hours=1))
    latest = invitations.invite(session, team, ann, now=now)
    invitations.join(session, used.code, bob)
    assert [r.id for r in invitations.open_invitations(session, team)] == [
        latest.invitation.id, first.invitation.id]
