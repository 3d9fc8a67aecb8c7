"""What the pages say about a phase (app.web.views) and where the final ranking is: the quota
only while a phase is open and up to date after each upload, a team told it missed a final, a
judged phase's submissions shown as accepted for the judges, the published ranking linked."""

import shutil
import zipfile
from datetime import timedelta

import pytest

from app.config import get_settings
from app.db import session_scope
from app.judging.models import Campaign
from app.models import Challenge, Dataset, Phase, Submission, Team, User, utcnow
from app.web.views import phase_view
from tests.utils.arena import add_phase
from tests.utils.pages import HTML, make_user, scored_submission, sign_in


def _view(phase_id: int, team_id: int):  # type: ignore[no-untyped-def]
    with session_scope() as session:
        phase = session.get_one(Phase, phase_id)
        return phase_view(session, phase, None, session.get_one(Team, team_id), utcnow())


def _set(phase_id: int, **values) -> None:  # type: ignore[no-untyped-def]
    with session_scope() as session:
        phase = session.get_one(Phase, phase_id)
        for name, value in values.items():
            setattr(phase, name, value)


@pytest.mark.parametrize(("start", "end", "state", "reason"), [
    (-2, -1, "closed", "Submissions closed"),
    (1, 2, "upcoming", "Submissions open"),
])
def test_quota_is_not_shown_for_a_phase_that_is_not_open(arena, start, end, state, reason):
    now = utcnow()
    _set(arena.phase_id, start=now + timedelta(days=start), end=now + timedelta(days=end),
         max_submissions_per_day=3)
    view = _view(arena.phase_id, arena.team_ids["alpha"])
    assert view.state == state and view.quota is None and not view.can_submit
    assert view.reason.startswith(reason)


def test_quota_counts_what_is_left_and_says_so_without_a_limit(arena):
    _set(arena.phase_id, max_submissions_per_day=1, max_submissions=5)
    assert _view(arena.phase_id, arena.team_ids["alpha"]).quota.describe.startswith(
        "1 submission left today (resets ")
    scored_submission(arena.phase_id, arena.team_ids["alpha"], {"001": 20.0}, minutes_ago=0)
    spent = _view(arena.phase_id, arena.team_ids["alpha"])
    assert spent.quota.describe.startswith("0 submissions left today")
    assert spent.quota.describe.endswith("4 left in total")
    assert not spent.can_submit and spent.reason.startswith("Your team has used its quota")
    _set(arena.phase_id, max_submissions_per_day=None, max_submissions=None)
    assert _view(arena.phase_id, arena.team_ids["alpha"]).quota.describe == "no submission limit"


def test_the_quota_line_is_read_again_after_an_upload(client, arena):
    make_user("ann@example.org", team="alpha", challenge=arena.challenge)
    _set(arena.phase_id, max_submissions_per_day=3)
    sign_in(client, "ann@example.org")
    url = "/challenges/raim-test/phases/validation/quota"
    before = client.get(url, headers={"Accept": "application/json"}).json()
    assert before["text"].startswith("3 submissions left today") and before["can_submit"]
    assert 'id="quota">3 submissions left today' in client.get(
        "/challenges/raim-test/phases/validation/submit", headers=HTML).text
    scored_submission(arena.phase_id, arena.team_ids["alpha"], {"001": 20.0}, minutes_ago=0)
    after = client.get(url, headers={"Accept": "application/json"}).json()
    assert after["text"].startswith("2 submissions left today")
    _set(arena.phase_id, end=utcnow() - timedelta(minutes=1))
    closed = client.get(url, headers={"Accept": "application/json"}).json()
    assert closed["text"] is None and not closed["can_submit"]
    assert closed["reason"].startswith("Submissions closed")


@pytest.fixture
def final(arena, sample_set) -> int:  # type: ignore[no-untyped-def]
    """An open unpaired ``final`` for the best team of ``validation``, which ended 5 minutes
    ago with alpha first (inputs published)."""
    _set(arena.phase_id, end=utcnow() - timedelta(minutes=5))
    scored_submission(arena.phase_id, arena.team_ids["alpha"], {"001": 30.0}, minutes_ago=20)
    scored_submission(arena.phase_id, arena.team_ids["beta"], {"001": 10.0}, minutes_ago=20)
    with session_scope() as session:
        challenge_id = session.get_one(Phase, arena.phase_id).challenge_id
    phase_id = add_phase(challenge_id, "final", None, kind="unpaired", position=1,
                         qualify_from="validation", qualify_top=1)
    relative = "raim-test/final/inputs"
    shutil.copytree(sample_set.lq, get_settings().datasets_dir / relative)
    with session_scope() as session:
        session.add(Dataset(phase_id=phase_id, role="inputs", path=relative, image_count=3,
                            fingerprint="inputs"))
    return phase_id


def test_a_team_outside_the_final_is_told_it_missed_it(client, arena, final):
    missed = _view(final, arena.team_ids["beta"])
    assert missed.entry == "missed" and missed.quota is None and not missed.can_submit
    assert missed.reason == ("Your team did not qualify for Final: only the best team of "
                             "Validation takes part.")
    qualified = _view(final, arena.team_ids["alpha"])
    assert qualified.entry == "qualified" and qualified.can_submit
    assert qualified.quota.describe == "no submission limit"

    make_user("bob@example.org", team="beta", challenge=arena.challenge)
    sign_in(client, "bob@example.org")
    page = client.get("/challenges/raim-test", headers=HTML).text
    final_part = page[page.index('id="phase-final"'):]
    assert "not qualified" in final_part and "did not qualify for Final" in final_part
    assert "Your team has" not in final_part  # no quota line, let alone "no submission limit"


def test_before_the_source_phase_ends_the_final_says_when_it_is_decided(arena, final):
    _set(arena.phase_id, end=utcnow() + timedelta(days=1))
    view = _view(final, arena.team_ids["beta"])
    assert view.entry == "undecided" and view.quota is None
    assert view.reason.startswith("Final is open to the best team of Validation, known when "
                                  "Validation closes (")


def _judged_submission(arena, final) -> int:  # type: ignore[no-untyped-def]
    """Alpha's accepted upload to the final, stored as the worker leaves one."""
    relative = "uploads/raim-test/final/1.zip"
    path = get_settings().data_dir / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(path, "w") as archive:
        for source in sorted(arena.samples.pred.iterdir()):
            archive.write(source, f"results/{source.name}")
    with session_scope() as session:
        sub = Submission(phase_id=final, team_id=arena.team_ids["alpha"], status="scored",
                         upload_path=relative, upload_bytes=path.stat().st_size,
                         upload_sha256="0" * 64, original_filename="final.zip", image_count=3,
                         notes=["unpaired phase: no objective score; judged by people"])
        session.add(sub)
        session.flush()
        return sub.id


def test_an_unpaired_submission_is_shown_as_accepted_for_the_judges(client, arena, final):
    sub = _judged_submission(arena, final)
    make_user("ann@example.org", team="alpha", challenge=arena.challenge)
    sign_in(client, "ann@example.org")
    page = client.get(f"/submissions/{sub}", headers=HTML)
    assert page.status_code == 200
    text = page.text
    assert '<span class="badge accepted" id="status">accepted</span>' in text
    assert "Accepted for the judges." in text and "No per-image results" not in text
    assert page.context["submitted"] == ["001.png", "002.png", "003.png"]
    assert text.count('<li class="mono">') == 3 and "Score of each image" not in text
    assert page.context["mean"] is None
    challenge = client.get("/challenges/raim-test", headers=HTML).text
    assert f'<a href="/submissions/{sub}">{sub}</a></td><td>final</td>' in challenge
    assert '<span class="badge accepted">accepted</span>' in challenge


def test_the_judged_phase_s_leaderboard_points_to_the_final_ranking(client, arena, final):
    url = "/challenges/raim-test/phases/final/leaderboard"
    open_page = client.get(url, headers=HTML).text
    assert "Judged by people" in open_page and "No scored submissions yet" not in open_page
    _set(final, end=utcnow() - timedelta(minutes=1))
    judging = client.get(url, headers=HTML).text
    assert "Judging is under way" in judging and "/final\"" not in judging
    with session_scope() as session:
        campaign = Campaign(phase_id=final, status="open", method={})
        session.add(campaign)
    assert "judging under way" in client.get("/challenges/raim-test", headers=HTML).text
    with session_scope() as session:
        session.query(Campaign).update({"status": "closed", "closed_at": utcnow()})
    published = client.get(url, headers=HTML).text
    assert '<a class="btn" href="/challenges/raim-test/final">Final ranking</a>' in published
    assert "No scored submissions yet" not in published
    for page in ("/", "/challenges/raim-test"):
        assert 'href="/challenges/raim-test/final">Final ranking</a>' in client.get(
            page, headers=HTML).text, page


def test_no_final_ranking_link_before_it_is_published(client, arena, final):
    _set(final, end=utcnow() - timedelta(minutes=1))
    with session_scope() as session:
        session.add(Campaign(phase_id=final, status="open", method={}))
        assert session.query(Challenge).count() == 1
    for page in ("/", "/challenges/raim-test"):
        assert "Final ranking" not in client.get(page, headers=HTML).text, page


def test_a_judge_gets_no_final_ranking_link(client, arena, final):
    with session_scope() as session:
        session.add(Campaign(phase_id=final, status="closed", method={}, closed_at=utcnow()))
    make_user("jo@example.org")
    with session_scope() as session:
        session.query(User).filter(User.email == "jo@example.org").update({"is_judge": True})
    sign_in(client, "jo@example.org")
    assert "Final ranking" not in client.get("/", headers=HTML).text


def test_upload_page_shows_the_size_limit_in_binary_units(client, arena, monkeypatch):
    monkeypatch.setenv("RAIM_MAX_UPLOAD_BYTES", str(3 * 1024**3 // 2))
    get_settings.cache_clear()
    make_user("ann@example.org", team="alpha", challenge=arena.challenge)
    sign_in(client, "ann@example.org")
    page = client.get("/challenges/raim-test/phases/validation/submit", headers=HTML).text
    assert '<b id="max-size">1.5 GiB</b>' in page and f'data-max-bytes="{3 * 1024**3 // 2}"' in page
    assert 'class="visually-hidden"' in page and "display: none" not in page
