"""Judging pages: the results page (table, plots, CSV), the organiser's desk (finalists, closing
after a confirmation, judges' links) and image inspector."""

from __future__ import annotations

import csv
import io
import re
import shutil
from urllib.parse import quote_plus, urlsplit

import pytest
from fastapi.testclient import TestClient

from tests.app.judging.world import (
    World,
    add_judges,
    close_final,
    make_app,
    open_campaign,
    submit_finals,
)

HTML = {"Accept": "text/html"}


@pytest.fixture
def rated(world: World, client: TestClient) -> World:
    """Three judges have rated everything (the better team, the higher score)."""
    world.ids = submit_finals(world, client)  # type: ignore[attr-defined]
    close_final()
    open_campaign(world, client, criteria=True, method={"bootstrap_samples": 20})
    for j, token in enumerate(add_judges(world, client, 3).values()):
        auth = {"Authorization": f"Bearer {token}"}
        for trial in client.get("/api/judge/trials", headers=auth).json()["trials"]:
            scores, criteria = {}, {}
            for c in trial["candidates"]:
                _, team = world.team_of_pixels(client.get(c["image_url"], headers=auth).content)
                scores[c["label"]] = 10 - world.level(team) // 2 - (j == 1)
                criteria[c["label"]] = {"noise": scores[c["label"]]}
            client.post("/api/judge/ratings", headers=auth, json={
                "trial_id": trial["trial_id"], "scores": scores, "criteria": criteria})
    return world


def test_final_page_shows_table_plots_and_method(rated: World, client: TestClient) -> None:
    page = client.get(f"/challenges/{rated.challenge}/final",
                      headers={**HTML, **rated.auth("organiser")})
    assert page.status_code == 200
    assert page.template.name == "judge/final.html"  # type: ignore[attr-defined]
    rows = page.context["final"]["rows"]  # type: ignore[attr-defined]
    assert [r["rank"] for r in rows] == list(range(1, len(rated.teams) + 1))
    assert page.text.count('<svg class="plot"') == 2
    assert "min-max" in page.text or "minmax" in page.text
    assert "Criteria (mean over accepted judges)" in page.text


def test_final_csv_export(rated: World, client: TestClient) -> None:
    answer = client.get(f"/api/challenges/{rated.challenge}/final.csv",
                        headers=rated.auth("organiser"))
    assert answer.status_code == 200 and answer.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(answer.text)))
    assert [r["team"] for r in rows] == [
        r["team"] for r in client.get(f"/api/challenges/{rated.challenge}/final",
                                      headers=rated.auth("organiser")).json()["rows"]]
    assert set(rows[0]) >= {"rank", "team", "objective", "subjective", "final", "rank_stability"}


def test_desk_invites_judge_with_link(rated: World, client: TestClient) -> None:
    desk = f"/organiser/challenges/{rated.challenge}/judging"
    page = client.get(desk, headers={**HTML, **rated.auth("organiser")})
    assert page.status_code == 200 and "judge 02" in page.text
    csrf = re.search(r'name="csrf-token" content="([^"]+)"', page.text).group(1)  # type: ignore[union-attr]
    invited = client.post(f"/organiser/challenges/{rated.challenge}/judges",
                          headers={**HTML, **rated.auth("organiser")},
                          data={"csrf_token": csrf, "name": "guest judge"})
    assert invited.status_code == 200  # followed the redirect back to the desk
    link = re.search(r'<code id="judge-link">([^<]+)</code>', invited.text).group(1)  # type: ignore[union-attr]
    assert link.startswith("http://testserver/judge/sign-in/")  # the address the organiser used
    signed = client.get(urlsplit(link).path, follow_redirects=False)
    assert signed.status_code == 303 and signed.headers["location"] == "/judge"


def test_desk_opens_a_campaign_with_repeats_as_a_share(world: World, client: TestClient) -> None:
    submit_finals(world, client)
    close_final()
    organiser = {**HTML, **world.auth("organiser")}
    page = client.get(f"/organiser/challenges/{world.challenge}/judging", headers=organiser)
    assert 'name="repeats" value="0.05"' in page.text  # the API's unit: a share of the images
    csrf = re.search(r'name="csrf-token" content="([^"]+)"', page.text).group(1)  # type: ignore[union-attr]
    phase = f"/organiser/challenges/{world.challenge}/phases/final"
    opened = client.post(f"{phase}/campaign", headers=organiser,
                         data={"csrf_token": csrf, "scale": "1-10", "repeats": "0.25"})
    assert opened.status_code == 200 and "Rating campaign opened" in opened.text
    closed = client.post(f"/api{phase}/campaign/close", headers=world.auth("organiser"))
    assert closed.json()["repeat_share"] == 0.25


def test_inspector_shows_result_input_and_nothing_for_teams(rated: World,
                                                             client: TestClient) -> None:
    sub = rated.ids[rated.teams[0]]  # type: ignore[attr-defined]
    data = client.get(f"/api/organiser/submissions/{sub}/inspect",
                      headers=rated.auth("organiser")).json()
    first = data["trials"][0]
    assert [c["label"] for c in first["candidates"]] == ["result"]  # unpaired: no ground truth
    result = client.get(first["candidates"][0]["image_url"], headers=rated.auth("organiser"))
    assert rated.team_of_pixels(result.content) == (first["trial_id"], rated.teams[0])
    shown = client.get(first["input_url"], headers=rated.auth("organiser"))
    assert rated.team_of_pixels(shown.content) == (first["trial_id"], None)
    page = client.get(f"/organiser/submissions/{sub}/inspect",
                      headers={**HTML, **rated.auth("organiser")})
    assert page.status_code == 200 and 'data-mode="inspect"' in page.text
    assert client.get(f"/api/organiser/submissions/{sub}/inspect",
                      headers=rated.auth(rated.teams[0])).status_code == 403


def test_inspector_shows_ground_truth_of_paired_phase(settings, sample_set,  # type: ignore[no-untyped-def]
                                                      tmp_path) -> None:
    from app.db import session_scope
    from app.models import Dataset, Submission
    from metrics.images import decode
    from tests.utils.arena import build_arena, zip_folder

    arena = build_arena(sample_set)
    (settings.data_dir / "uploads").mkdir(parents=True, exist_ok=True)
    zip_folder(sample_set.pred, settings.data_dir / "uploads" / "paired.zip")
    shutil.copytree(sample_set.lq, settings.datasets_dir / "inputs-of-validation")
    with session_scope() as session:
        session.add(Dataset(phase_id=arena.phase_id, role="inputs", path="inputs-of-validation",
                            image_count=3, fingerprint="lq"))
        sub = Submission(phase_id=arena.phase_id, team_id=arena.team_ids["alpha"],
                         status="scored", upload_path="uploads/paired.zip", upload_bytes=1,
                         upload_sha256="1" * 64, original_filename="paired.zip", image_count=3)
        session.add(sub)
        session.flush()
        sub_id = sub.id
    with TestClient(make_app()) as client:
        data = client.get(f"/api/organiser/submissions/{sub_id}/inspect",
                          headers=arena.auth("organiser")).json()
        first = data["trials"][0]
        assert first["trial_id"] == "001"
        assert [c["label"] for c in first["candidates"]] == ["result", "ground truth"]
        shown = {c["label"]: decode(client.get(c["image_url"], headers=arena.auth("organiser"))
                                    .content) for c in first["candidates"]}
        shown["input"] = decode(client.get(first["input_url"],
                                           headers=arena.auth("organiser")).content)
    for label, folder in (("result", sample_set.pred), ("ground truth", sample_set.gt),
                          ("input", sample_set.lq)):
        assert (shown[label] == decode((folder / "001.png").read_bytes())).all(), label


def desk_post(world: World, client: TestClient, path: str, data: dict | list) -> str:
    """POST a desk form as the organiser's browser does; the text of the page it leads to."""
    organiser = {**HTML, **world.auth("organiser")}
    desk = client.get(f"/organiser/challenges/{world.challenge}/judging", headers=organiser)
    csrf = re.search(r'name="csrf-token" content="([^"]+)"', desk.text).group(1)  # type: ignore[union-attr]
    fields = [("csrf_token", csrf), *(data.items() if isinstance(data, dict) else data)]
    answer = client.post(path, headers={**organiser, "Content-Type":
                                        "application/x-www-form-urlencoded"},
                         content="&".join(f"{k}={quote_plus(v)}" for k, v in fields),
                         follow_redirects=False)
    assert answer.status_code == 303, answer.text
    return client.get(answer.headers["location"], headers=organiser).text


def confirmed_teams() -> list[str]:
    from app.db import session_scope
    from app.judging import qualification
    from app.lookups import find_phase

    with session_scope() as session:
        phase = find_phase(session, "raim-judged", "final")
        return sorted(q.team for q in qualification.confirmed(session, phase))


def test_desk_confirms_the_proposal_with_the_empty_also_admit_box(world: World,
                                                                   client: TestClient) -> None:
    path = f"/organiser/challenges/{world.challenge}/phases/final/qualification"
    ticked = [("team", t) for t in world.teams] + [("team", "")]  # the box posts team=""
    page = desk_post(world, client, path, ticked)
    assert f"{len(world.teams)} finalist(s) confirmed" in page and "no team named" not in page
    assert confirmed_teams() == sorted(world.teams)


def test_desk_confirms_with_one_team_changed_then_the_proposal_again(world: World,
                                                                     client: TestClient) -> None:
    path = f"/organiser/challenges/{world.challenge}/phases/final/qualification"
    dropped = world.teams[-1]
    changed = [("team", t) for t in world.teams[:-1]] + [("team", world.outsider)]
    page = desk_post(world, client, path, changed)
    assert f"{len(world.teams)} finalist(s) confirmed" in page
    assert confirmed_teams() == sorted([*world.teams[:-1], world.outsider])
    # the dropped team is still listed, unticked, so that it can be ticked again
    assert re.search(rf'<input type="checkbox" name="team" value="{dropped}"\s+aria-label', page)
    assert re.search(rf'value="{world.outsider}" checked', page)
    page = desk_post(world, client, path, {"proposal": "1"})
    assert confirmed_teams() == sorted(world.teams)
    assert "finalist(s) confirmed" in page


def test_desk_refuses_to_confirm_no_team(world: World, client: TestClient) -> None:
    path = f"/organiser/challenges/{world.challenge}/phases/final/qualification"
    page = desk_post(world, client, path, [("team", "  ")])
    assert "The finalists were not confirmed: no team chosen" in page
    assert confirmed_teams() == []


def test_closing_asks_first_and_warns_about_judges_who_rated_nothing(world: World,
                                                                     client: TestClient) -> None:
    from tests.app.judging.world import rate_everything

    submit_finals(world, client)
    close_final()
    open_campaign(world, client, repeats=0, method={"bootstrap_samples": 20})
    tokens = add_judges(world, client, 2)
    rate_everything(world, client, tokens["judge 00"])
    organiser = {**HTML, **world.auth("organiser")}
    close = f"/organiser/challenges/{world.challenge}/phases/final/campaign/close"
    desk = client.get(f"/organiser/challenges/{world.challenge}/judging", headers=organiser)
    assert f'href="{close}">Close the campaign' in desk.text  # a link to the confirmation
    confirm = client.get(close, headers=organiser)
    assert confirm.status_code == 200 and confirm.template.name == "organiser/confirm.html"  # type: ignore[attr-defined]
    assert "1 judge(s) have not rated anything: judge 01." in confirm.text
    assert "published" in confirm.text and f'action="{close}"' in confirm.text
    assert client.get("/api/organiser/challenges/raim-judged/phases/final/campaign",
                      headers=world.auth("organiser")).json()["status"] == "open"
    page = desk_post(world, client, close, {})
    assert "Campaign closed; the final ranking is published." in page
    # progress is kept after closing, with the last activity
    assert re.search(r"judge 00</td>\s*<td class=\"num\"[^>]*>4 / 4</td>", page)
    assert "has not opened the page" in page and "Reopen the campaign" in page
    assert client.get(f"/challenges/{world.challenge}/final").status_code == 200
    # reopened: the desk and the organiser's results say what the public still reads
    page = desk_post(world, client, close.replace("/close", "/reopen"), {})
    assert "Campaign reopened" in page and "results published" in page
    assert "Close the campaign" in page and "Open campaign" not in page
    results = client.get(f"/challenges/{world.challenge}/final", headers=organiser).text
    assert "Provisional:" in results and "The public sees the ranking published" in results
    assert "Provisional:" not in client.get(f"/challenges/{world.challenge}/final",
                                            headers=HTML).text


def test_desk_revokes_a_judge_and_issues_a_new_link(world: World, client: TestClient) -> None:
    from app.db import session_scope
    from app.judging.models import Judge

    token = add_judges(world, client, 1)["judge 00"]
    with session_scope() as session:
        judge_id = session.query(Judge).one().id
    base = f"/organiser/challenges/{world.challenge}/judges/{judge_id}"
    page = desk_post(world, client, f"{base}/revoke", {})
    assert "Judge “judge 00” revoked" in page and "revoked" in page
    assert client.get(f"/judge/sign-in/{token}", follow_redirects=False).status_code == 404
    page = desk_post(world, client, f"{base}/link", {})
    link = re.search(r'<code id="judge-link">([^<]+)</code>', page).group(1)  # type: ignore[union-attr]
    assert "has a new link" in page and link.startswith("http://testserver/judge/sign-in/")
    signed = client.get(urlsplit(link).path, follow_redirects=False)
    assert signed.status_code == 303 and signed.headers["location"] == "/judge"
