"""Participant pages through the real app: rendering, access rules, CSRF, uploads, downloads."""

import io
import shutil
import zipfile
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select

from app.config import get_settings
from app.db import session_scope
from app.models import Dataset, Phase, Submission, Team, User, utcnow
from app.organiser import rescore_submission
from tests.utils.arena import zip_folder
from tests.utils.pages import (
    HTML,
    csrf_of,
    make_user,
    post_form,
    scored_submission,
    sign_in,
)


def publish_inputs(arena, folder: Path) -> None:
    """Give the arena's phase an inputs dataset, laid out as bundles do."""
    relative = f"{arena.challenge}/{arena.phase}/inputs"
    shutil.copytree(folder, get_settings().datasets_dir / relative)
    with session_scope() as session:
        session.add(Dataset(phase_id=arena.phase_id, role="inputs", path=relative,
                            image_count=len(list(folder.iterdir())), fingerprint="f" * 64))


def test_home_answers_without_signing_in(client, arena):
    response = client.get("/", headers=HTML)
    assert response.status_code == 200
    assert response.template.name == "home.html"
    assert [c.challenge.slug for c in response.context["challenges"]] == ["raim-test"]
    assert "RAIM test" in response.text and "Sign in" in response.text


def test_home_shows_an_empty_state_without_challenges(client):
    response = client.get("/", headers=HTML)
    assert response.status_code == 200 and "No challenges yet" in response.text


def test_static_files_are_served_locally(client):
    for name in ("raim.css", "submit.js", "table.js", "copy.js", "refresh.js", "favicon.svg"):
        assert client.get(f"/static/{name}").status_code == 200, name


def test_challenge_page_shows_phases_dates_and_quota_left(client, arena):
    make_user("ann@example.org", team="alpha", challenge=arena.challenge)
    with session_scope() as session:
        phase = session.get_one(Phase, arena.phase_id)
        phase.max_submissions_per_day, phase.max_submissions = 3, 10
    scored_submission(arena.phase_id, arena.team_ids["alpha"], {"001": 50.0})
    sign_in(client, "ann@example.org")
    response = client.get("/challenges/raim-test", headers=HTML)
    assert response.status_code == 200
    view = response.context["phases"][0]
    assert view.state == "open" and view.can_submit
    assert (view.quota.today, view.quota.total) == (2, 9)
    assert "2 submissions left today" in response.text and "9 left in total" in response.text
    assert response.context["team"].name == "alpha"


def test_challenge_page_unknown_slug_is_a_404_page(client):
    response = client.get("/challenges/nope", headers=HTML)
    assert response.status_code == 404
    assert response.template.name == "error.html"
    assert "nope" in response.text


def test_page_errors_answer_json_to_scripts(client):
    response = client.get("/challenges/nope", headers={"Accept": "application/json"})
    assert response.status_code == 404 and "nope" in response.json()["detail"]


def test_create_team_from_the_challenge_page_shows_its_token_once(client, arena):
    make_user("bob@example.org")
    sign_in(client, "bob@example.org")
    response = post_form(client, "/challenges/raim-test/teams", {"name": "Gamma"})
    assert response.status_code == 200
    token = response.context["new_token"]["value"]
    assert response.context["team"].name == "Gamma" and token in response.text
    api = client.get("/api/challenges/raim-test/phases/validation/leaderboard",
                     headers={"Authorization": f"Bearer {token}"})
    assert api.status_code == 200
    assert token not in client.get("/challenges/raim-test", headers=HTML).text


def test_create_team_with_a_taken_name_says_why(client, arena):
    make_user("bob@example.org")
    sign_in(client, "bob@example.org")
    response = post_form(client, "/challenges/raim-test/teams", {"name": "alpha"})
    assert response.status_code == 409 and "already exists" in response.text


def test_post_without_a_csrf_token_is_refused(client, arena):
    make_user("bob@example.org")
    sign_in(client, "bob@example.org")
    response = client.post("/challenges/raim-test/teams", data={"name": "Gamma"}, headers=HTML)
    assert response.status_code == 403 and "CSRF" in response.text
    with session_scope() as session:
        assert session.scalar(select(func.count(Team.id)).where(Team.name == "Gamma")) == 0


def test_csrf_token_of_another_session_is_refused(client, arena):
    from fastapi.testclient import TestClient

    from app.main import create_app

    with TestClient(create_app(background=False)) as other:
        foreign = csrf_of(other)
    make_user("bob@example.org")
    sign_in(client, "bob@example.org")
    response = post_form(client, "/challenges/raim-test/teams", {"name": "Gamma"}, token=foreign)
    assert response.status_code == 403


def test_inputs_download_holds_only_the_inputs(client, arena, sample_set):
    publish_inputs(arena, sample_set.lq)
    make_user("ann@example.org", team="alpha", challenge=arena.challenge)
    sign_in(client, "ann@example.org")
    response = client.get("/challenges/raim-test/phases/validation/inputs.zip")
    assert response.status_code == 200
    with zipfile.ZipFile(io.BytesIO(response.content)) as archive:
        names = sorted(archive.namelist())
        assert names == sorted(p.name for p in sample_set.lq.iterdir())
        for name in names:
            assert archive.read(name) == (sample_set.lq / name).read_bytes()


def test_inputs_download_needs_sign_in(client, arena, sample_set):
    publish_inputs(arena, sample_set.lq)
    response = client.get("/challenges/raim-test/phases/validation/inputs.zip", headers=HTML,
                          follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"].startswith("/sign-in?next=/challenges/raim-test/")


def test_inputs_download_waits_for_the_phase_to_open(client, arena, sample_set):
    publish_inputs(arena, sample_set.lq)
    with session_scope() as session:
        session.get_one(Phase, arena.phase_id).start = utcnow() + timedelta(days=1)
    make_user("ann@example.org", team="alpha", challenge=arena.challenge)
    sign_in(client, "ann@example.org")
    response = client.get("/challenges/raim-test/phases/validation/inputs.zip", headers=HTML)
    assert response.status_code == 403 and "published when it opens" in response.text


def test_submit_page_renders_for_a_team_member(client, arena):
    make_user("ann@example.org", team="alpha", challenge=arena.challenge)
    sign_in(client, "ann@example.org")
    response = client.get("/challenges/raim-test/phases/validation/submit", headers=HTML)
    assert response.status_code == 200 and response.template.name == "submit.html"
    assert 'data-phase="raim-test/validation"' in response.text


def test_submit_page_sends_people_without_a_team_to_the_challenge(client, arena):
    make_user("bob@example.org")
    sign_in(client, "bob@example.org")
    response = client.get("/challenges/raim-test/phases/validation/submit", headers=HTML,
                          follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"] == "/challenges/raim-test"


def test_submit_page_needs_sign_in(client, arena):
    response = client.get("/challenges/raim-test/phases/validation/submit", headers=HTML,
                          follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"] == (
        "/sign-in?next=/challenges/raim-test/phases/validation/submit")


def _upload(client, zip_path: Path, token: str | None):
    headers = {"Accept": "application/json"}
    if token is not None:
        headers["X-CSRF-Token"] = token
    with zip_path.open("rb") as handle:
        return client.post("/submit", headers=headers, data={"phase": "raim-test/validation"},
                           files={"file": (zip_path.name, handle, "application/zip")})


def test_upload_from_the_page_is_accepted_and_queued(client, arena, tmp_path):
    make_user("ann@example.org", team="alpha", challenge=arena.challenge)
    sign_in(client, "ann@example.org")
    response = _upload(client, zip_folder(arena.samples.pred, tmp_path / "r.zip"), csrf_of(client))
    assert response.status_code == 202, response.text
    body = response.json()
    assert body["status"] == "queued"
    assert body["status_url"].endswith(f"/api/submissions/{body['id']}")
    status = client.get(body["status_url"])
    assert status.status_code == 200 and status.json()["team"] == "alpha"


def test_upload_without_the_csrf_header_is_refused_and_stores_nothing(client, arena, tmp_path):
    make_user("ann@example.org", team="alpha", challenge=arena.challenge)
    sign_in(client, "ann@example.org")
    response = _upload(client, zip_folder(arena.samples.pred, tmp_path / "r.zip"), None)
    assert response.status_code == 403 and "CSRF" in response.json()["detail"]
    assert response.json()["problems"] == []  # the one error body, as the API answers it
    with session_scope() as session:
        assert session.scalar(select(func.count(Submission.id))) == 0


def test_upload_with_problems_lists_them_by_file(client, arena, tmp_path):
    make_user("ann@example.org", team="alpha", challenge=arena.challenge)
    sign_in(client, "ann@example.org")
    bad = zip_folder(arena.samples.pred, tmp_path / "bad.zip", skip=("002.png",),
                     extra={"zzz.png": b"not an image"})
    response = _upload(client, bad, csrf_of(client))
    assert response.status_code == 400
    files = {p["file"] for p in response.json()["problems"]}
    assert {"002.png", "zzz.png"} <= files
    with session_scope() as session:
        assert session.scalar(select(func.count(Submission.id))) == 0


def test_submission_page_shows_means_table_and_plot(client, arena):
    make_user("ann@example.org", team="alpha", challenge=arena.challenge)
    sub_id = scored_submission(arena.phase_id, arena.team_ids["alpha"],
                               {"001": 80.0, "002": -12.5, "003": 40.0})
    sign_in(client, "ann@example.org")
    response = client.get(f"/submissions/{sub_id}", headers=HTML)
    assert response.status_code == 200 and response.template.name == "submission.html"
    assert [r["name"] for r in response.context["images"]] == ["001", "002", "003"]
    assert "<svg" in response.text and response.text.count('class="bar"') == 3
    assert "35.83" in response.text  # the mean score, (80 - 12.5 + 40) / 3
    assert 'class="sortable"' in response.text
    assert f'href="/api/submissions/{sub_id}/results.csv"' in response.text
    results = client.get(f"/api/submissions/{sub_id}/results.csv")  # the signed-in session
    assert results.status_code == 200 and len(results.text.splitlines()) == 4


def test_submission_page_of_a_failed_one_shows_the_error(client, arena):
    make_user("ann@example.org", team="alpha", challenge=arena.challenge)
    sub_id = scored_submission(arena.phase_id, arena.team_ids["alpha"], {}, status="failed")
    sign_in(client, "ann@example.org")
    response = client.get(f"/submissions/{sub_id}", headers=HTML)
    assert response.status_code == 200 and "the ground truth changed" in response.text
    assert "<svg" not in response.text


def test_submission_page_of_another_team_is_not_found(client, arena):
    make_user("ann@example.org", team="alpha", challenge=arena.challenge)
    sub_id = scored_submission(arena.phase_id, arena.team_ids["beta"], {"001": 50.0})
    sign_in(client, "ann@example.org")
    response = client.get(f"/submissions/{sub_id}", headers=HTML)
    assert response.status_code == 404 and response.template.name == "error.html"


def test_leaderboard_page_ranks_teams_and_never_failures(client, arena):
    scored_submission(arena.phase_id, arena.team_ids["alpha"], {"001": 40.0})
    scored_submission(arena.phase_id, arena.team_ids["beta"], {"001": 60.0})
    scored_submission(arena.phase_id, arena.team_ids["alpha"], {}, status="failed")
    response = client.get("/challenges/raim-test/phases/validation/leaderboard", headers=HTML)
    assert response.status_code == 200
    assert [(r.rank, r.entry.team) for r in response.context["rows"]] == [(1, "beta"), (2, "alpha")]


def test_leaderboard_page_marks_rows_whose_rescore_runs_or_failed(client, arena):
    ids = [scored_submission(arena.phase_id, arena.team_ids[t], {"001": score})
           for t, score in (("alpha", 40.0), ("beta", 60.0))]
    with session_scope() as session:
        actor = session.scalars(select(User).where(User.is_organiser)).one()
        for sub_id in ids:
            rescore_submission(session, session.get_one(Submission, sub_id), actor)
        session.get_one(Submission, ids[0]).status = "failed"
    response = client.get("/challenges/raim-test/phases/validation/leaderboard", headers=HTML)
    assert [(r.entry.team, r.entry.score) for r in response.context["rows"]] == [
        ("beta", 60.0), ("alpha", 40.0)]
    assert ">rescoring</span>" in response.text and ">rescore failed</span>" in response.text


def test_leaderboard_page_empty_state(client, arena):
    response = client.get("/challenges/raim-test/phases/validation/leaderboard", headers=HTML)
    assert response.status_code == 200 and "No scored submissions yet" in response.text


@pytest.mark.parametrize("visibility", ["private", "hidden"])
def test_leaderboard_page_respects_visibility(client, arena, visibility):
    with session_scope() as session:
        session.get_one(Phase, arena.phase_id).leaderboard = visibility
    scored_submission(arena.phase_id, arena.team_ids["alpha"], {"001": 40.0})
    scored_submission(arena.phase_id, arena.team_ids["beta"], {"001": 60.0})
    anonymous = client.get("/challenges/raim-test/phases/validation/leaderboard", headers=HTML)
    make_user("ann@example.org", team="alpha", challenge=arena.challenge)
    sign_in(client, "ann@example.org")
    member = client.get("/challenges/raim-test/phases/validation/leaderboard", headers=HTML)
    if visibility == "hidden":
        assert anonymous.status_code == 404 and member.status_code == 404
    else:
        assert anonymous.context["rows"] == []
        assert [(r.rank, r.entry.team) for r in member.context["rows"]] == [(2, "alpha")]
