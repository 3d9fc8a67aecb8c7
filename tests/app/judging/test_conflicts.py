"""Conflicts of interest: a competitor is never invited as a judge (command line, API, page), and a
judge never creates or joins a team of the challenge they judge; each refusal says why."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from app.accounts import AccountError, add_member, create_team, find_team, find_user
from app.cli import main
from app.db import session_scope
from app.judging.models import Judge
from app.lookups import find_challenge
from app.models import Team
from tests.app.judging.world import World, build_world, make_app
from tests.utils.pages import HTML, PASSWORD, make_user, post_form, sign_in

COMPETITOR = "ada@example.org"
RULE = "a competitor cannot judge the challenge"


@pytest.fixture
def small(settings, tmp_path: Path) -> World:  # type: ignore[no-untyped-def]
    """Three finalists and an outsider; Ada (a person with a password) is in the first team."""
    world = build_world(tmp_path / "world", finalists=3, images=2)
    make_user(COMPETITOR, name="Ada", team=world.teams[0], challenge=world.challenge)
    return world


def judge_count() -> int:
    with session_scope() as session:
        return session.scalar(select(func.count(Judge.id))) or 0


def test_cli_refuses_a_team_member_as_judge(small: World,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["judge", "add", "Ada", "--challenge", small.challenge,
                 "--email", COMPETITOR]) == 2
    err = capsys.readouterr().err
    assert f"{COMPETITOR} is a member of team '{small.teams[0]}'" in err and RULE in err
    assert judge_count() == 0


def test_api_refuses_a_team_member_as_judge(small: World) -> None:
    with TestClient(make_app()) as client:
        answer = client.post(f"/api/organiser/challenges/{small.challenge}/judges",
                             headers=small.auth("organiser"),
                             json={"name": "Ada", "email": COMPETITOR})
    assert answer.status_code == 409
    assert RULE in answer.json()["detail"] and small.teams[0] in answer.json()["detail"]
    assert judge_count() == 0


def test_desk_refuses_a_team_member_as_judge(small: World) -> None:
    with TestClient(make_app()) as client:
        client.headers.update(small.auth("organiser"))
        answer = post_form(client, f"/organiser/challenges/{small.challenge}/judges",
                           {"name": "Ada", "email": COMPETITOR},
                           token=_csrf(client, f"/organiser/challenges/{small.challenge}/judging"))
        assert answer.status_code == 303
        page = client.get(answer.headers["location"], headers=HTML)
    assert "The judge was not invited" in page.text and RULE in page.text
    assert 'id="judge-link"' not in page.text
    assert judge_count() == 0


def test_outsiders_of_the_challenge_may_judge_it(small: World) -> None:
    make_user("grace@example.org", name="Grace")
    assert main(["judge", "add", "Grace", "--challenge", small.challenge,
                 "--email", "grace@example.org"]) == 0
    assert judge_count() == 1


def test_a_judge_cannot_create_a_team_in_the_page(small: World) -> None:
    make_user("grace@example.org", name="Grace")
    assert main(["judge", "add", "Grace", "--challenge", small.challenge,
                 "--email", "grace@example.org"]) == 0
    with TestClient(make_app()) as client:
        sign_in(client, "grace@example.org", PASSWORD)
        answer = post_form(client, f"/challenges/{small.challenge}/teams", {"name": "Graceful"},
                           token=_csrf(client, f"/challenges/{small.challenge}"))
    assert answer.status_code == 409
    assert "a judge cannot create or join a team in the challenge they judge" in answer.text
    with session_scope() as session:
        assert find_team(session, find_challenge(session, small.challenge), "Graceful") is None


def test_a_judge_cannot_join_or_found_a_team(small: World) -> None:
    assert main(["judge", "add", "Grace", "--challenge", small.challenge,
                 "--email", "grace@example.org"]) == 0
    with session_scope() as session:
        challenge = find_challenge(session, small.challenge)
        grace = find_user(session, "grace@example.org")
        team = find_team(session, challenge, small.teams[1])
        with pytest.raises(AccountError, match="judges challenge raim-judged .* cannot create "
                                               "or join a team"):
            add_member(session, team, grace)
        teams_before = session.scalar(select(func.count(Team.id)))
        with pytest.raises(AccountError, match="cannot create or join a team"):
            create_team(session, challenge, "Grace's own", member=grace)
        assert session.scalar(select(func.count(Team.id))) == teams_before  # nothing half-made


def test_the_organisers_team_page_refuses_a_judge_as_member(small: World) -> None:
    assert main(["judge", "add", "Grace", "--challenge", small.challenge,
                 "--email", "grace@example.org"]) == 0
    with session_scope() as session:
        team_id = find_team(session, find_challenge(session, small.challenge), small.teams[1]).id
    with TestClient(make_app()) as client:
        client.headers.update(small.auth("organiser"))
        teams = f"/organiser/challenges/{small.challenge}/teams"
        answer = post_form(client, f"{teams}/{team_id}/members", {"email": "grace@example.org"},
                           token=_csrf(client, teams))
        page = client.get(answer.headers["location"], headers=HTML)
    assert "Nobody was added" in page.text and "cannot create or join a team" in page.text


def test_judging_another_challenge_is_no_conflict(small: World) -> None:
    from app.accounts import create_user
    from app.models import Challenge

    with session_scope() as session:
        other = Challenge(slug="other", title="Other", formula={})
        session.add(other)
        session.flush()
        create_user(session, "grace@example.org", name="Grace")
    assert main(["judge", "add", "Grace", "--challenge", "other",
                 "--email", "grace@example.org"]) == 0
    with session_scope() as session:
        challenge = find_challenge(session, small.challenge)
        team = find_team(session, challenge, small.teams[1])
        add_member(session, team, find_user(session, "grace@example.org"))


def _csrf(client: TestClient, path: str) -> str:
    page = client.get(path, headers=HTML)
    match = re.search(r'<meta name="csrf-token" content="([^"]+)">', page.text)
    assert match, page.text[:300]
    return match.group(1)
