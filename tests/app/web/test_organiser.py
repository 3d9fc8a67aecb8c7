"""Organiser pages: access, bundle upload from the browser, visibility, rescoring, the queue."""

import zipfile
from pathlib import Path

import pytest
from sqlalchemy import select

from app.db import session_scope
from app.models import AuditLog, Challenge, Phase, Submission
from tests.utils.bundles import write_bundle
from tests.utils.pages import HTML, make_user, post_form, scored_submission, sign_in


@pytest.fixture
def organiser(client):
    make_user("olga@example.org", name="Olga", organiser=True)
    sign_in(client, "olga@example.org")


def zip_tree(folder: Path, out: Path, prefix: str = "") -> Path:
    with zipfile.ZipFile(out, "w") as archive:
        for path in sorted(folder.rglob("*")):
            if path.is_file():
                archive.write(path, prefix + path.relative_to(folder).as_posix())
    return out


def test_organiser_pages_are_forbidden_to_participants(client, arena):
    make_user("ann@example.org", team="alpha", challenge=arena.challenge)
    sign_in(client, "ann@example.org")
    for path in ("/organiser", "/organiser/queue", "/organiser/challenges/raim-test"):
        response = client.get(path, headers=HTML)
        assert response.status_code == 403 and "organisers only" in response.text, path


def test_organiser_pages_redirect_anonymous_people_to_sign_in(client):
    response = client.get("/organiser", headers=HTML, follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"] == "/sign-in?next=/organiser"


def test_organiser_home_lists_challenges(client, arena, organiser):
    response = client.get("/organiser", headers=HTML)
    assert response.status_code == 200
    assert [c.challenge.slug for c in response.context["challenges"]] == ["raim-test"]


def test_bundle_upload_creates_the_challenge(client, organiser, sample_set, tmp_path):
    bundle = write_bundle(tmp_path / "bundle", sample_set, slug="raim-web")
    archive = zip_tree(bundle, tmp_path / "bundle.zip", prefix="raim-web/")
    with archive.open("rb") as handle:
        response = post_form(client, "/organiser/bundles",
                             files={"bundle": ("bundle.zip", handle, "application/zip")})
    assert response.status_code == 303, response.text
    assert response.headers["location"] == "/organiser/challenges/raim-web"
    with session_scope() as session:
        challenge = session.scalar(select(Challenge).where(Challenge.slug == "raim-web"))
        assert [p.slug for p in challenge.phases] == ["validation", "final"]
        assert challenge.phases[0].dataset("ground_truth").image_count == 3
    assert client.get("/organiser/challenges/raim-web", headers=HTML).status_code == 200


def test_bundle_upload_lists_every_problem_and_changes_nothing(client, organiser, sample_set,
                                                                tmp_path):
    bundle = write_bundle(tmp_path / "bundle", sample_set, slug="raim-web")
    (bundle / "validation" / "gt" / "002.png").unlink()
    (bundle / "final" / "lq" / "001.png").write_bytes(b"not an image")
    with zip_tree(bundle, tmp_path / "bundle.zip").open("rb") as handle:
        response = post_form(client, "/organiser/bundles",
                             files={"bundle": ("bundle.zip", handle, "application/zip")})
    assert response.status_code == 400
    problems = " ".join(response.context["bundle_errors"])
    assert "002" in problems and "001.png" in problems
    with session_scope() as session:
        assert session.scalar(select(Challenge).where(Challenge.slug == "raim-web")) is None


def test_bundle_upload_refuses_unsafe_paths(client, organiser, tmp_path):
    archive = tmp_path / "evil.zip"
    with zipfile.ZipFile(archive, "w") as out:
        out.writestr("../escape.yaml", "slug: x")
    with archive.open("rb") as handle:
        response = post_form(client, "/organiser/bundles",
                             files={"bundle": ("evil.zip", handle, "application/zip")})
    assert response.status_code == 400 and "unsafe path inside the zip" in response.text


def test_set_visibility_hides_the_leaderboard_and_is_audited(client, arena, organiser):
    response = post_form(client, "/organiser/challenges/raim-test/phases/validation/leaderboard",
                         {"visibility": "hidden"})
    assert response.status_code == 303
    with session_scope() as session:
        assert session.get_one(Phase, arena.phase_id).leaderboard == "hidden"
        assert session.scalar(select(AuditLog).where(AuditLog.action == "phase.leaderboard"))


def test_set_visibility_refuses_an_unknown_value(client, arena, organiser):
    response = post_form(client, "/organiser/challenges/raim-test/phases/validation/leaderboard",
                         {"visibility": "sideways"})
    assert response.status_code == 400 and "sideways" in response.text


def test_rescore_submission_queues_it_again(client, arena, organiser):
    sub_id = scored_submission(arena.phase_id, arena.team_ids["alpha"], {"001": 50.0})
    response = post_form(client, f"/organiser/submissions/{sub_id}/rescore")
    assert response.status_code == 303 and response.headers["location"] == f"/submissions/{sub_id}"
    with session_scope() as session:
        sub = session.get_one(Submission, sub_id)
        assert sub.status == "queued" and sub.score is None


def test_rescore_phase_queues_every_finished_submission(client, arena, organiser):
    ids = [scored_submission(arena.phase_id, arena.team_ids[t], {"001": 50.0})
           for t in ("alpha", "beta")]
    response = post_form(client, "/organiser/challenges/raim-test/phases/validation/rescore")
    assert response.status_code == 303
    with session_scope() as session:
        assert {session.get_one(Submission, i).status for i in ids} == {"queued"}


def test_queue_page_counts_waiting_running_and_failed(client, arena, organiser):
    scored_submission(arena.phase_id, arena.team_ids["alpha"], {}, status="queued")
    scored_submission(arena.phase_id, arena.team_ids["beta"], {}, status="failed")
    response = client.get("/organiser/queue", headers=HTML)
    assert response.status_code == 200
    board = response.context["board"]
    assert (board["waiting"], board["running"], board["failed"]) == (1, 0, 1)
    assert "the ground truth changed" in response.text


def test_organiser_challenge_page_links_csv_and_downloads(client, arena, organiser):
    scored_submission(arena.phase_id, arena.team_ids["alpha"], {"001": 50.0})
    response = client.get("/organiser/challenges/raim-test", headers=HTML)
    assert response.status_code == 200
    csv = client.get(response.context["csv_url"])
    assert csv.status_code == 200 and "alpha" in csv.text


def test_challenge_page_counts_results_scored_with_older_numerics(client, arena, organiser):
    from metrics.numerics import NUMERICS_VERSION

    phase_id, team_id = arena.phase_id, arena.team_ids["alpha"]
    old = scored_submission(phase_id, team_id, {"001": 50.0})  # stored without a numerics version
    page = client.get("/organiser/challenges/raim-test", headers=HTML).text
    assert "1 with older numerics" in page
    with session_scope() as session:
        session.get_one(Submission, old).versions = {"numerics": NUMERICS_VERSION}
    assert "older numerics" not in client.get("/organiser/challenges/raim-test", headers=HTML).text


def test_organiser_pages_link_judging_teams_and_the_audit_log(client, arena, organiser):
    index = client.get("/organiser", headers=HTML).text
    assert 'href="/organiser/audit"' in index and 'href="/organiser/challenges/raim-test"' in index
    page = client.get("/organiser/challenges/raim-test", headers=HTML).text
    for href in ("/organiser/challenges/raim-test/judging", "/organiser/challenges/raim-test/teams",
                 "/organiser/challenges/raim-test/phases/validation"):
        assert f'href="{href}"' in page, href


def test_phase_dates_and_visibility_are_edited_in_the_page_and_audited(client, arena, organiser):
    page = client.get("/organiser/challenges/raim-test/phases/validation", headers=HTML)
    assert page.status_code == 200 and 'type="datetime-local"' in page.text
    response = post_form(client, "/organiser/challenges/raim-test/phases/validation",
                         {"start": "2024-02-01T00:00", "end": "2024-03-15T12:30",
                          "visibility": "private"})
    assert response.status_code == 303
    assert client.get(response.headers["location"], headers=HTML).text.count("changed") == 1
    with session_scope() as session:
        phase = session.get_one(Phase, arena.phase_id)
        assert phase.end.isoformat() == "2024-03-15T12:30:00+00:00"
        assert phase.leaderboard == "private"
        log = session.scalar(select(AuditLog).where(AuditLog.action == "phase.update"))
        assert log.details["end"] == [None, "2024-03-15T12:30:00+00:00"]
        assert log.details["leaderboard"] == ["public", "private"]
    cleared = post_form(client, "/organiser/challenges/raim-test/phases/validation",
                        {"start": "", "end": "", "visibility": "private"})
    assert cleared.status_code == 303
    with session_scope() as session:
        assert session.get_one(Phase, arena.phase_id).end is None


def test_phase_dates_out_of_order_or_malformed_are_refused(client, arena, organiser):
    backwards = post_form(client, "/organiser/challenges/raim-test/phases/validation",
                          {"start": "2024-03-01T00:00", "end": "2024-02-01T00:00"})
    assert backwards.status_code == 400 and "must come after the start" in backwards.text
    garbled = post_form(client, "/organiser/challenges/raim-test/phases/validation",
                        {"start": "next tuesday"})
    assert garbled.status_code == 400 and "next tuesday" in garbled.text and "YYYY-MM-DD" in garbled.text
    with session_scope() as session:
        assert session.scalar(select(AuditLog).where(AuditLog.action == "phase.update")) is None


def test_rescore_phase_asks_first(client, arena, organiser):
    scored_submission(arena.phase_id, arena.team_ids["alpha"], {"001": 50.0})
    page = client.get("/organiser/challenges/raim-test", headers=HTML).text
    confirm_url = "/organiser/challenges/raim-test/phases/validation/rescore"
    assert f'href="{confirm_url}"' in page  # the button leads to the confirmation
    confirm = client.get(confirm_url, headers=HTML)
    assert confirm.status_code == 200 and "1 finished submission(s)" in confirm.text
    assert f'action="{confirm_url}"' in confirm.text and "Rescore the phase" in confirm.text
    with session_scope() as session:  # asking changes nothing
        assert session.scalar(select(Submission.status)) == "scored"


def test_audit_log_page_filters_and_pages(client, arena, organiser):
    from app.audit import PAGE_SIZE, record

    with session_scope() as session:
        for i in range(PAGE_SIZE + 5):
            record(session, "phase.update", f"phase:raim-test/p{i}", {"i": i})
        record(session, "team.rename", "team:raim-test/alpha", {"from": "a", "to": "alpha"})
    first = client.get("/organiser/audit", headers=HTML)
    assert first.status_code == 200 and "Page 1 of 2" in first.text
    assert "team:raim-test/alpha" in first.text  # newest first
    second = client.get("/organiser/audit?page=2", headers=HTML)
    assert "Page 2 of 2" in second.text and "phase:raim-test/p0<" in second.text
    only = client.get("/organiser/audit?action=team.rename", headers=HTML)
    assert only.context["log"].total == 1 and "team:raim-test/alpha" in only.text
    prefix = client.get("/organiser/audit?action=team.", headers=HTML)
    assert prefix.context["log"].total == 1
    target = client.get("/organiser/audit?target=p1", headers=HTML)
    assert target.context["log"].total == 1 + 10  # p1, p10..p19
    odd = client.get("/organiser/audit?target=%25_", headers=HTML)
    assert odd.status_code == 200 and odd.context["log"].total == 0  # LIKE wildcards are text


def test_audit_log_page_is_for_organisers_only(client, arena):
    make_user("ann@example.org", team="alpha", challenge=arena.challenge)
    sign_in(client, "ann@example.org")
    assert client.get("/organiser/audit", headers=HTML).status_code == 403
def test_queue_page_shows_workers_their_heartbeat_teams_and_the_no_worker_warning(
        client, arena, organiser):
    from datetime import timedelta

    from sqlalchemy import update

    from app.config import get_settings
    from app.jobs.worker import DatabaseStore
    from app.models import Worker, utcnow

    scored_submission(arena.phase_id, arena.team_ids["beta"], {}, status="queued")
    DatabaseStore(get_settings(), name="gpu-box:77").hello("raim-arena 0.1.0", "cuda:0 (H100)")
    with session_scope() as session:
        session.execute(update(Worker).values(heartbeat_at=utcnow() - timedelta(minutes=4)))
    page = client.get("/organiser/queue", headers=HTML)
    assert page.status_code == 200
    html = page.text
    assert 'id="queue-live" data-refresh-seconds="5"' in html and "refresh.js" in html
    assert 'id="no-worker"' in html and "no worker is alive" in html
    assert "gpu-box:77" in html and "cuda:0 (H100)" in html and "4 min ago" in html
    assert '<tr class="worker-silent">' in html
    assert "<td>beta</td>" in html  # waiting per team
    DatabaseStore(get_settings(), name="gpu-box:77").alive(
        {"features": {"hits": 12, "misses": 3, "bytes": 5_000_000, "entries": 3,
                      "budget_bytes": 2_500_000_000}})
    html = client.get("/organiser/queue", headers=HTML).text
    assert 'id="no-worker"' not in html and '<tr class="worker-live">' in html
    assert "12 / 3" in html and "5.0 MB of 2.5 GB, 3 entries" in html


def test_queue_page_creates_a_worker_token_shown_once_and_revokes_it(client, arena, organiser):
    from fastapi.testclient import TestClient

    from app.models import WorkerToken

    created = post_form(client, "/organiser/workers/tokens", {"name": "lab-gpu-1"})
    assert created.status_code == 200
    token = created.context["new_token"]["value"]
    assert token in created.text and "RAIM_WORKER_TOKEN=" + token in created.text
    assert token not in client.get("/organiser/queue", headers=HTML).text  # shown once
    with TestClient(client.app) as worker:
        hello = {"host": "lab", "pid": 1}
        bearer = {"Authorization": f"Bearer {token}"}
        assert worker.post("/api/worker/hello", headers=bearer, json=hello).status_code == 200
        with session_scope() as session:
            row = session.scalars(select(WorkerToken)).one()
            assert row.token_hash != token and row.prefix == token[:9]
        taken = post_form(client, "/organiser/workers/tokens", {"name": "lab-gpu-1"})
        assert taken.status_code == 400 and "exists already" in taken.text
        revoked = post_form(client, f"/organiser/workers/tokens/{row.id}/revoke")
        assert revoked.status_code == 303 and revoked.headers["location"] == "/organiser/queue"
        refused = worker.post("/api/worker/hello", headers=bearer, json=hello)
        assert refused.status_code == 401 and "revoked" in refused.json()["detail"]
    with session_scope() as session:
        actions = [e.action for e in session.scalars(select(AuditLog).order_by(AuditLog.id))]
    assert actions == ["worker_token.add", "worker_token.revoke"]
