"""CSRF: a state-changing request that the session cookie authenticates needs the session's token.

The routes are listed from the application itself (``app.routes``), so a route added later is
forged here too without anyone writing a line.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from fastapi import FastAPI
from fastapi.routing import APIRoute, RouteContext, iter_route_contexts
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from app import invitations, worker_tokens
from app.accounts import create_token
from app.config import Settings
from app.csrf import REJECTED, STARTS_SESSION
from app.db import session_scope
from app.main import create_app
from app.models import Submission, Team, User
from tests.utils.arena import Arena, build_arena, zip_folder
from tests.utils.pages import (
    csrf_of,
    make_organiser_password,
    make_user,
    scored_submission,
    sign_in,
)

UNSAFE = frozenset({"POST", "PUT", "PATCH", "DELETE"})
ORGANISER = "organiser@example.org"
SIGN_OUT = "/sign-out"


def state_changing_routes(app: FastAPI) -> list[tuple[str, RouteContext]]:
    """(method, route) for every route of ``app.routes`` that changes state (routers included
    into the app are walked as FastAPI itself does), sign-out last: it ends the session."""
    found = [(method, route) for route in iter_route_contexts(app.routes)
             if isinstance(route.original_route, APIRoute)
             for method in sorted((route.methods or set()) & UNSAFE)]
    return sorted(found, key=lambda item: (item[1].path == SIGN_OUT, item[1].path, item[0]))


def starts_session(route: RouteContext) -> bool:
    return any(dep.dependency is STARTS_SESSION.dependency for dep in route.dependencies)


@pytest.fixture
def app(settings: Settings) -> Iterator[FastAPI]:
    from app import db

    yield create_app(background=False)
    db.dispose_engines()


@pytest.fixture
def arena(settings: Settings, sample_set) -> Arena:
    return build_arena(sample_set)


@pytest.fixture
def path_values(arena: Arena) -> dict[str, str]:
    """A real value for each path parameter, so that a request that passes the guard reaches
    a real row."""
    from app.judging.campaigns import add_judge
    from app.lookups import find_challenge
    from app.models import TeamMember

    submission = scored_submission(arena.phase_id, arena.team_ids["alpha"], {"001": 20.0})
    with session_scope() as session:
        organiser = session.scalars(select(User).where(User.email == ORGANISER)).one()
        spare, _ = create_token(session, organiser, name="spare")
        spare_id = spare.id
        team = session.get_one(Team, arena.team_ids["alpha"])
        made = invitations.invite(session, team, team.members[0].user)
        invitation_id, code = made.invitation.id, made.code
        judge, _ = add_judge(session, find_challenge(session, arena.challenge), "csrf judge")
        judge_id = judge.id
        member = session.scalars(select(TeamMember.user_id).where(
            TeamMember.team_id == arena.team_ids["beta"])).first()
        worker_token, _ = worker_tokens.create(session, "spare-gpu")
        worker_token_id = worker_token.id
    return {"challenge": arena.challenge, "phase": arena.phase,
            "submission_id": str(submission), "token_id": str(spare_id),
            "invitation_id": str(invitation_id), "code": code,
            "judge_id": str(judge_id), "team_id": str(arena.team_ids["beta"]),
            "user_id": str(member), "worker_token_id": str(worker_token_id)}


@pytest.fixture
def browser(app: FastAPI, arena: Arena) -> Iterator[TestClient]:
    """An organiser signed in with the session cookie, as a browser is."""
    make_organiser_password(ORGANISER)
    with TestClient(app) as client:
        sign_in(client, ORGANISER)
        yield client


def url_of(route: RouteContext, values: dict[str, str]) -> str:
    def value(match: re.Match) -> str:
        name = match.group(1).split(":")[0]
        if name not in values:
            pytest.fail(f"{route.path}: no test value for path parameter {{{name}}}; add one "
                        f"to path_values")
        return values[name]

    return re.sub(r"{([^}]+)}", value, route.path)


def is_csrf_refusal(response) -> bool:  # type: ignore[no-untyped-def]
    if response.status_code != 403:
        return False
    return response.headers.get("content-type", "").startswith("application/json") and \
        response.json().get("detail") == REJECTED


def test_every_state_changing_cookie_request_without_the_token_is_refused(app, browser,
                                                                          path_values):
    routes = state_changing_routes(app)
    assert len(routes) >= 20  # the whole surface, not a stub: API, pages, uploads
    token = csrf_of(browser)
    obeyed = []
    for method, route in routes:
        url = url_of(route, path_values)
        forged = [browser.request(method, url),  # body-less, as a plain HTML form can send
                  browser.request(method, url, data={"name": "x", "csrf_token": "forged"}),
                  browser.request(method, url, json={})]
        obeyed += [f"{method} {route.path} -> {r.status_code}" for r in forged
                   if not is_csrf_refusal(r)]
        with_token = browser.request(method, url, headers={"X-CSRF-Token": token})
        if is_csrf_refusal(with_token):
            obeyed.append(f"{method} {route.path} refused even with the session's token")
    assert obeyed == []


def test_bearer_requests_need_no_token(app, arena, path_values):
    with TestClient(app) as script:
        refused = [f"{method} {route.path}" for method, route in state_changing_routes(app)
                   if is_csrf_refusal(script.request(method, url_of(route, path_values),
                                                     headers=arena.auth("organiser")))]
    assert refused == []


def test_anonymous_api_calls_get_the_route_401_and_sign_in_forms_still_need_the_token(
        app, arena, path_values):
    with TestClient(app) as anonymous:
        for method, route in state_changing_routes(app):
            response = anonymous.request(method, url_of(route, path_values),
                                         headers={"Accept": "application/json"})
            if starts_session(route):  # login CSRF: no session, no sign-in
                assert is_csrf_refusal(response), route.path
            else:
                assert not is_csrf_refusal(response), route.path
    with TestClient(app) as script:
        assert script.post("/score").status_code == 401  # no cookie, no token
    assert {r.path for _, r in state_changing_routes(app) if starts_session(r)} == \
        {"/sign-in", "/sign-up"}


def test_a_cookie_upload_without_the_header_stores_nothing(app, arena, tmp_path):
    make_user("member@example.org", team="alpha", challenge=arena.challenge)
    browser = TestClient(app)
    sign_in(browser, "member@example.org")
    good = zip_folder(arena.samples.pred, tmp_path / "r.zip")
    files = {"file": ("r.zip", good.read_bytes(), "application/zip")}
    for path in ("/score", "/submit"):
        # the token as a multipart field does not count: a streamed upload is not parsed for it
        response = browser.post(path, files=files,
                                data={"phase": "raim-test/validation",
                                      "csrf_token": csrf_of(browser)})
        assert is_csrf_refusal(response), path
    with session_scope() as session:
        assert session.scalar(select(func.count(Submission.id))) == 0
    accepted = browser.post("/submit", files=files, data={"phase": "raim-test/validation"},
                            headers={"X-CSRF-Token": csrf_of(browser)})
    assert accepted.status_code == 202, accepted.text


def test_forms_carry_the_token_in_a_field(browser, arena, path_values):
    # a form route that declares no body of its own: the field is read from the urlencoded body
    url = f"/organiser/submissions/{path_values['submission_id']}/rescore"
    assert is_csrf_refusal(browser.post(url, data={}, follow_redirects=False))
    answer = browser.post(url, data={"csrf_token": csrf_of(browser)}, follow_redirects=False)
    assert answer.status_code == 303
    with session_scope() as session:
        assert session.get_one(Submission, int(path_values["submission_id"])).status == "queued"
