"""Organisers manage teams in the browser: list, rename, add and remove members, disband after a
confirmation; every change is audited and every refusal says why."""

import pytest
from sqlalchemy import select

from app.config import get_settings
from app.db import session_scope
from app.models import AuditLog, Submission, Team, TeamMember
from tests.utils.pages import HTML, make_user, post_form, scored_submission, sign_in

TEAMS = "/organiser/challenges/raim-test/teams"


@pytest.fixture
def organiser(client):
    make_user("olga@example.org", name="Olga", organiser=True)
    sign_in(client, "olga@example.org")


def actions() -> list[str]:
    with session_scope() as session:
        return list(session.scalars(select(AuditLog.action).order_by(AuditLog.id)))


def test_teams_page_lists_teams_members_and_submissions(client, arena, organiser):
    make_user("ann@example.org", name="Ann", team="alpha", challenge=arena.challenge)
    scored_submission(arena.phase_id, arena.team_ids["alpha"], {"001": 50.0})
    page = client.get(TEAMS, headers=HTML)
    assert page.status_code == 200
    assert [s.team.name for s in page.context["teams"]] == ["alpha", "beta"]
    assert "ann@example.org" in page.text and "1 in validation" in page.text


def test_members_are_added_and_removed(client, arena, organiser):
    user_id = make_user("bob@example.org", name="Bob")
    team = arena.team_ids["beta"]
    added = post_form(client, f"{TEAMS}/{team}/members", {"email": "bob@example.org"})
    assert added.status_code == 303
    assert "bob@example.org is now a member of “beta”" in client.get(TEAMS, headers=HTML).text
    unknown = post_form(client, f"{TEAMS}/{team}/members", {"email": "nobody@example.org"})
    page = client.get(unknown.headers["location"], headers=HTML).text
    assert "no account with email" in page and "sign up first" in page
    twice = post_form(client, f"{TEAMS}/{arena.team_ids['alpha']}/members",
                      {"email": "bob@example.org"})
    assert "already in team" in client.get(twice.headers["location"], headers=HTML).text
    removed = post_form(client, f"{TEAMS}/{team}/members/{user_id}/remove")
    assert removed.status_code == 303
    with session_scope() as session:
        assert session.get(TeamMember, (team, user_id)) is None
    assert actions() == ["team.member.add", "team.member.remove"]


def test_teams_are_renamed_unless_the_name_is_taken(client, arena, organiser):
    taken = post_form(client, f"{TEAMS}/{arena.team_ids['alpha']}/rename", {"name": "beta"})
    assert "already exists in challenge raim-test" in client.get(taken.headers["location"],
                                                      headers=HTML).text
    renamed = post_form(client, f"{TEAMS}/{arena.team_ids['alpha']}/rename", {"name": "Alpha Lab"})
    assert renamed.status_code == 303
    with session_scope() as session:
        assert session.get_one(Team, arena.team_ids["alpha"]).name == "Alpha Lab"
        log = session.scalar(select(AuditLog).where(AuditLog.action == "team.rename"))
        assert log.details == {"from": "alpha", "to": "Alpha Lab"}


def test_disbanding_asks_first_then_deletes_and_keeps_a_record(client, arena, organiser):
    sub = scored_submission(arena.phase_id, arena.team_ids["beta"], {"001": 50.0})
    upload = get_settings().data_dir / "uploads/none.zip"  # the submission's stored zip
    upload.parent.mkdir(parents=True, exist_ok=True)
    upload.write_bytes(b"PK")
    confirm_url = f"{TEAMS}/{arena.team_ids['beta']}/disband"
    confirm = client.get(confirm_url, headers=HTML)
    assert confirm.status_code == 200 and "1 submission(s) (1 in validation)" in confirm.text
    with session_scope() as session:
        assert session.get(Team, arena.team_ids["beta"]) is not None  # asking changes nothing
    done = post_form(client, confirm_url)
    assert done.status_code == 303
    with session_scope() as session:
        assert session.get(Team, arena.team_ids["beta"]) is None
        assert session.get(Submission, sub) is None
        log = session.scalar(select(AuditLog).where(AuditLog.action == "team.disband"))
        assert log.details["submissions"][0]["id"] == sub and log.target == "team:raim-test/beta"
    assert not upload.exists()  # its files go with it, once the deletion has committed


def test_a_team_of_another_challenge_is_not_found(client, arena, organiser):
    response = client.get(f"{TEAMS}/999999/disband", headers=HTML)
    assert response.status_code == 404 and "no team 999999" in response.text
