"""Nothing is acknowledged before it is stored: a commit that fails is the answer (503), not a 2xx.

Each test makes the one commit under test fail as SQLite does when it stays locked ("database
is locked") and checks the client hears an error it can retry, and that nothing was stored.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from app.config import Settings, get_settings
from app.db import session_scope
from app.judging.models import Judge, Rating
from app.main import create_app
from app.models import ApiToken, Phase, Submission, Team
from tests.app.judging.world import (
    World,
    add_judges,
    build_world,
    close_final,
    open_campaign,
    submit_finals,
)
from tests.utils.arena import Arena, build_arena, zip_folder
from tests.utils.faults import failing_commits
from tests.utils.pages import HTML, csrf_of, make_organiser_password, post_form, sign_in

ORGANISER = "organiser@example.org"


@pytest.fixture
def app(settings: Settings) -> Iterator[FastAPI]:
    from app import db

    yield create_app(background=False)
    db.dispose_engines()


@pytest.fixture
def arena(settings: Settings, sample_set) -> Arena:
    return build_arena(sample_set)


@pytest.fixture
def organiser_browser(app: FastAPI, arena: Arena) -> TestClient:
    make_organiser_password(ORGANISER)
    client = TestClient(app)
    sign_in(client, ORGANISER)
    return client


def assert_retry_later(response) -> None:  # type: ignore[no-untyped-def]
    assert response.status_code == 503, response.text[:300]
    assert int(response.headers["Retry-After"]) > 0
    if response.headers["content-type"].startswith("application/json"):
        body = response.json()
        assert set(body) == {"detail", "problems"} and "busy" in body["detail"]


def count(model: type) -> int:
    with session_scope() as session:
        return session.scalar(select(func.count()).select_from(model)) or 0


def test_score_upload_whose_commit_fails_is_a_503_and_leaves_no_row_or_file(app, arena,
                                                                             tmp_path):
    good = zip_folder(arena.samples.pred, tmp_path / "r.zip")
    with TestClient(app) as client, failing_commits(Submission) as refused:
        response = client.post("/score", headers=arena.auth("alpha"),
                               files={"file": ("r.zip", good.read_bytes(), "application/zip")})
    assert refused == ["Submission"]
    assert_retry_later(response)
    assert count(Submission) == 0
    uploads = get_settings().uploads_dir
    assert [p for p in uploads.rglob("*") if p.is_file()] == []


def test_token_revocation_whose_commit_fails_says_nothing_about_revoking(organiser_browser):
    browser = organiser_browser
    assert post_form(browser, "/account/tokens", {"name": "ci"}).status_code == 200
    with session_scope() as session:
        token = session.scalars(select(ApiToken).where(ApiToken.name == "ci")).one()
    with failing_commits(ApiToken) as refused:
        response = post_form(browser, f"/account/tokens/{token.id}/revoke")
    assert refused == ["ApiToken"]
    assert_retry_later(response)
    with session_scope() as session:
        assert session.get_one(ApiToken, token.id).revoked_at is None
    page = browser.get("/account", headers=HTML).text
    assert "revoked" not in page  # the session kept no "revoked" message either


def test_form_post_whose_commit_fails_is_an_error_page_and_changes_nothing(organiser_browser,
                                                                           arena):
    url = f"/organiser/challenges/{arena.challenge}/phases/{arena.phase}/leaderboard"
    with failing_commits(Phase) as refused:
        response = post_form(organiser_browser, url, {"visibility": "hidden"})
    assert refused and response.status_code == 503
    assert "busy" in response.text and int(response.headers["Retry-After"]) > 0
    with session_scope() as session:
        assert session.get_one(Phase, arena.phase_id).leaderboard == "public"
    assert "now hidden" not in organiser_browser.get(f"/organiser/challenges/{arena.challenge}",
                                                     headers=HTML).text


def test_team_creation_whose_commit_fails_shows_no_token(app, arena):
    from tests.utils.pages import make_user

    make_user("newcomer@example.org")
    browser = TestClient(app)
    sign_in(browser, "newcomer@example.org")
    teams = count(Team)
    with failing_commits(Team):
        response = post_form(browser, f"/challenges/{arena.challenge}/teams", {"name": "gamma"})
    assert response.status_code == 503 and "raim_" not in response.text
    assert count(Team) == teams


@pytest.fixture
def judged(settings: Settings, app: FastAPI, tmp_path: Path) -> tuple[World, TestClient]:
    world = build_world(tmp_path / "world", finalists=3, images=2)
    client = TestClient(app)
    submit_finals(world, client)
    close_final()
    open_campaign(world, client, scale="1-5")
    return world, client


def test_judge_creation_whose_commit_fails_gives_no_link(judged):
    world, client = judged
    judges = count(Judge)
    with failing_commits(Judge) as refused:
        response = client.post(f"/api/organiser/challenges/{world.challenge}/judges",
                               headers=world.auth("organiser"), json={"name": "late judge"})
    assert refused == ["Judge"]
    assert_retry_later(response)
    assert "link" not in response.json() and count(Judge) == judges


def test_rating_whose_commit_fails_is_not_reported_saved(judged):
    world, client = judged
    token = next(iter(add_judges(world, client, 1).values()))
    auth = {"Authorization": f"Bearer {token}"}
    trial = client.get("/api/judge/trials", headers=auth).json()["trials"][0]
    with failing_commits(Rating) as refused:
        response = client.post("/api/judge/ratings", headers=auth,
                               json={"trial_id": trial["trial_id"], "scores": {"A": 3}})
    assert refused == ["Rating"]
    assert_retry_later(response)
    assert count(Rating) == 0
    # the browser's rating page keeps the score and sends it again: then it is saved
    again = client.post("/api/judge/ratings", headers=auth,
                        json={"trial_id": trial["trial_id"], "scores": {"A": 3}})
    assert again.status_code == 200 and count(Rating) == 1


def test_browser_rating_page_post_with_cookie_and_token(judged):
    """The rating page's own path (cookie + X-CSRF-Token) commits before its 200 too."""
    world, client = judged
    token = next(iter(add_judges(world, client, 1).values()))
    browser = TestClient(client.app)
    browser.get(f"/judge/sign-in/{token}")
    trial = browser.get("/api/judge/trials").json()["trials"][0]
    headers = {"X-CSRF-Token": csrf_of(browser, "/judge")}
    with failing_commits(Rating):
        response = browser.post("/api/judge/ratings", headers=headers,
                                json={"trial_id": trial["trial_id"], "scores": {"A": 2}})
    assert_retry_later(response)
    assert count(Rating) == 0
