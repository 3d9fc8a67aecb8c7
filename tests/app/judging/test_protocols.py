"""Campaigns by protocol through the app: best-k picks (k, the band, picks saved at each change,
the counts to the band in the final results) and pairwise comparisons (ties or not, the next
pair by active sampling, Bradley-Terry scores with intervals in the final results)."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from app.db import session_scope
from app.judging.models import PairTrial
from tests.app.judging.world import (
    World,
    add_judges,
    build_world,
    close_final,
    make_app,
    open_campaign,
    submit_finals,
)

CAMPAIGN = "/api/organiser/challenges/raim-judged/phases/final/campaign"
FINAL = "/api/challenges/raim-judged/final"


@pytest.fixture
def five(settings, tmp_path: Path) -> World:  # type: ignore[no-untyped-def]
    """Five finalists, four images; their final submissions in; the final phase over."""
    world = build_world(tmp_path / "world", finalists=5, images=4)
    with TestClient(make_app()) as client:
        submit_finals(world, client)
    close_final()
    return world


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def teams_of(world: World, client: TestClient, trial: dict, auth: dict) -> tuple[str, dict]:
    """(image stem, label -> team) of a trial, told from the served pixels."""
    found, stem = {}, ""
    for candidate in trial["candidates"]:
        stem, team = world.team_of_pixels(client.get(candidate["image_url"], headers=auth).content)
        found[candidate["label"]] = team
    return stem, found


# --- opening ----------------------------------------------------------------------------

def test_best_k_campaign_records_k_and_band(five: World) -> None:
    with TestClient(make_app()) as client:
        body = open_campaign(five, client, protocol="best-k", k=3, band=[80, 90], repeats=0)
    assert body["protocol"] == "best-k"
    assert body["protocol_options"] == {"k": 3}
    assert body["method"]["model"] == "best-k" and body["method"]["band"] == [80.0, 90.0]


@pytest.mark.parametrize(("options", "message"), [
    ({"protocol": "best-k", "k": 5}, "k 5: best-k needs fewer picks than the 5 finalists"),
    ({"protocol": "best-k", "band": [90, 80]}, "band [90.0, 80.0]: need finite numbers with low < high"),
    ({"protocol": "rating", "k": 3}, "k is an option of best-k campaigns, not rating"),
    ({"protocol": "pairwise", "comparisons": 0}, "comparisons 0: need a whole number >= 1"),
    ({"protocol": "pairwise", "method": {"model": "mos"}}, "model 'mos': choose one of "
                                                         "bradley-terry, thurstone"),
    ({"protocol": "ranking"}, "protocol 'ranking': choose one of rating, best-k, pairwise"),
])
def test_protocol_options_are_checked(five: World, options: dict, message: str) -> None:
    with TestClient(make_app()) as client:
        answer = client.post(CAMPAIGN, headers=five.auth("organiser"), json=options)
    assert answer.status_code == 409
    assert message in answer.json()["detail"]


# --- best-k -----------------------------------------------------------------------------

def test_best_k_picks_are_saved_and_checked(five: World) -> None:
    with TestClient(make_app()) as client:
        open_campaign(five, client, protocol="best-k", k=3, repeats=0)
        auth = bearer(next(iter(add_judges(five, client, 1).values())))
        data = client.get("/api/judge/trials", headers=auth).json()
        trial = data["trials"][0]
        assert trial["protocol"] == "best-k" and trial["k"] == 3 and trial["picked"] == []
        assert data["progress"] == {"rated": 0, "total": 4}
        post = {"trial_id": trial["trial_id"]}
        # each change of the picks is saved; the trial counts at exactly k
        answer = client.post("/api/judge/picks", headers=auth, json={**post, "picked": ["A"]})
        assert answer.status_code == 200 and answer.json()["rated"] is False
        answer = client.post("/api/judge/picks", headers=auth,
                             json={**post, "picked": ["C", "A", "B"]})
        assert answer.json()["picked"] == ["A", "B", "C"] and answer.json()["rated"] is True
        assert answer.json()["progress"] == {"rated": 1, "total": 4}
        again = client.get("/api/judge/trials", headers=auth).json()["trials"][0]
        assert again["picked"] == ["A", "B", "C"] and again["rated"] is True
        # refusals name the problem and change nothing
        for picked, problem in ((["A", "B", "C", "D"], "4 results picked, at most 3"),
                                (["A", "Q"], "no result labelled 'Q'"),
                                (["A", "A"], "a label is given twice")):
            answer = client.post("/api/judge/picks", headers=auth, json={**post, "picked": picked})
            assert answer.status_code == 422 and problem in answer.json()["detail"]
        answer = client.post("/api/judge/ratings", headers=auth,
                             json={**post, "scores": {"A": 3}})
        assert answer.status_code == 422 and "POST /api/judge/picks" in answer.json()["detail"]
        assert client.get("/api/judge/trials", headers=auth).json()["trials"][0]["picked"] == \
            ["A", "B", "C"]


def test_best_3_counts_to_the_band_in_the_final_results(five: World) -> None:
    """Three judges, four images: every judge picks the two best teams and a third by a fixed
    rule, so that over 12 trials the picks are 12, 12, 6, 3, 3; rates 1, 1, 0.5, 0.25, 0.25;
    mapped linearly onto 80-90: 90, 90, 80 + 10 x 0.25 / 0.75 = 83.33, 80, 80."""
    with TestClient(make_app()) as client:
        open_campaign(five, client, protocol="best-k", k=3, band=[80, 90], repeats=0,
                      method={"bootstrap_samples": 50})
        stems = sorted(five.inputs)
        for j, token in enumerate(add_judges(five, client, 3).values()):
            auth = bearer(token)
            for trial in client.get("/api/judge/trials", headers=auth).json()["trials"]:
                stem, labelled = teams_of(five, client, trial, auth)
                third = {0: 2, 1: 2, 2: 3, 3: 4}[(j + stems.index(stem)) % 4]
                wanted = {five.teams[0], five.teams[1], five.teams[third]}
                picked = [label for label, team in labelled.items() if team in wanted]
                answer = client.post("/api/judge/picks", headers=auth,
                                     json={"trial_id": trial["trial_id"], "picked": picked})
                assert answer.status_code == 200, answer.text
        closed = client.post(f"{CAMPAIGN}/close", headers=five.auth("organiser")).json()
        assert closed["published"] is True, closed
        body = client.get(FINAL, headers=five.auth("organiser")).json()
        page = client.get("/challenges/raim-judged/final", headers={"Accept": "text/html"})
        public = client.get(FINAL).json()
    assert page.status_code == 200, page.text
    assert "Picks / shown" in page.text and "band 80–90" in page.text
    assert "<b>12</b> <span class=\"muted\">/ 12</span>" in page.text
    assert [r["subjective"] for r in public["rows"]] == [r["subjective"] for r in body["rows"]]
    rows = {row["team"]: row for row in body["rows"]}
    expected = dict(zip(five.teams, [(12, 90.0), (12, 90.0), (6, 80 + 10 / 3), (3, 80.0),
                                     (3, 80.0)], strict=True))
    for team, (picks, score) in expected.items():
        assert rows[team]["picks"] == picks and rows[team]["shown"] == 12
        assert rows[team]["subjective"] == pytest.approx(score, rel=1e-3)
    assert body["method"]["campaign"]["protocol"] == "best-k"
    assert body["subjective"]["model"]["type"] == "BEST_K_PICKS"


# --- pairwise ---------------------------------------------------------------------------

def test_pairwise_pairs_come_one_at_a_time_and_ties_follow_the_campaign(five: World) -> None:
    with TestClient(make_app()) as client:
        body = open_campaign(five, client, protocol="pairwise", ties=False, comparisons=3,
                             repeats=0)
        assert body["protocol_options"] == {"ties": False, "comparisons": 3}
        auth = bearer(next(iter(add_judges(five, client, 1).values())))
        data = client.get("/api/judge/trials", headers=auth).json()
        assert len(data["trials"]) == 1 and data["progress"] == {"rated": 0, "total": 3}
        pair = data["trials"][0]
        assert pair["protocol"] == "pairwise" and pair["ties"] is False
        assert [c["label"] for c in pair["candidates"]] == ["A", "B"]
        stem, labelled = teams_of(five, client, pair, auth)
        assert None not in labelled.values() and len(set(labelled.values())) == 2
        # the reload shows the same pair: drawn once
        assert client.get("/api/judge/trials", headers=auth).json()["trials"] == [pair]
        answer = client.post("/api/judge/comparisons", headers=auth,
                             json={"trial_id": pair["trial_id"], "choice": "tie"})
        assert answer.status_code == 422 and "allows no ties" in answer.json()["detail"]
        seen = []
        for _ in range(3):
            answer = client.post("/api/judge/comparisons", headers=auth,
                                 json={"trial_id": pair["trial_id"], "choice": "left"})
            assert answer.status_code == 200, answer.text
            seen.append(pair["trial_id"])
            pair = answer.json()["next"]
            if pair is None:
                break
        assert pair is None and answer.json()["progress"] == {"rated": 3, "total": 3}
        with session_scope() as session:
            decided = session.query(PairTrial).filter(PairTrial.outcome.is_not(None)).count()
        assert decided == 3


@pytest.mark.parametrize(("model", "kind"), [("bradley-terry", "BRADLEY_TERRY"),
                                             ("thurstone", "THURSTONE_CASE_V")])
def test_pairwise_final_results_follow_the_better_team(five: World, model: str,
                                                       kind: str) -> None:
    """Two judges always prefer the better team (level): the fitted scores (Bradley-Terry or
    Thurstone) come in the teams' order, each with a 95% bootstrap interval around it."""
    with TestClient(make_app()) as client:
        open_campaign(five, client, protocol="pairwise", ties=True, comparisons=12, repeats=0,
                      method={"bootstrap_samples": 50, "model": model})
        for token in add_judges(five, client, 2).values():
            auth = bearer(token)
            pair = client.get("/api/judge/trials", headers=auth).json()["trials"][-1]
            while pair is not None:
                _, labelled = teams_of(five, client, pair, auth)
                better = min(labelled, key=lambda label: five.level(labelled[label]))
                answer = client.post("/api/judge/comparisons", headers=auth, json={
                    "trial_id": pair["trial_id"], "choice": "left" if better == "A" else "right"})
                assert answer.status_code == 200, answer.text
                pair = answer.json()["next"]
        closed = client.post(f"{CAMPAIGN}/close", headers=five.auth("organiser")).json()
        assert closed["published"] is True, closed
        body = client.get(FINAL, headers=five.auth("organiser")).json()
        page = client.get("/challenges/raim-judged/final", headers={"Accept": "text/html"})
    assert page.status_code == 200, page.text
    assert "Won–lost–tied" in page.text and kind in page.text
    assert body["subjective"]["model"]["type"] == kind
    scores = {row["team"]: row["subjective"] for row in body["rows"]}
    assert [scores[t] for t in five.teams] == sorted(scores.values(), reverse=True)
    for row in body["rows"]:
        assert row["subjective_low"] <= row["subjective"] <= row["subjective_high"]
        assert row["wins"] + row["losses"] + row["ties"] > 0


@pytest.mark.parametrize(("form", "protocol", "options", "band"), [
    ({"protocol": "best-k", "k": "3", "band": "80-90", "comparisons": "60"}, "best-k",
     {"k": 3}, [80.0, 90.0]),
    ({"protocol": "pairwise", "k": "3", "comparisons": "20", "no_ties": "on"}, "pairwise",
     {"ties": False, "comparisons": 20}, None),
])
def test_desk_opens_a_campaign_by_protocol(five: World, form: dict, protocol: str,
                                           options: dict, band: list | None) -> None:
    """The desk's form sends every field; those of other protocols are ignored."""
    import re

    organiser = {"Accept": "text/html", **five.auth("organiser")}
    with TestClient(make_app()) as client:
        page = client.get(f"/organiser/challenges/{five.challenge}/judging", headers=organiser)
        assert 'name="protocol"' in page.text and 'name="band"' in page.text
        csrf = re.search(r'name="csrf-token" content="([^"]+)"', page.text).group(1)  # type: ignore[union-attr]
        opened = client.post(f"/organiser/challenges/{five.challenge}/phases/final/campaign",
                             headers=organiser, data={"csrf_token": csrf, "scale": "1-10",
                                                      "repeats": "0", **form})
        assert opened.status_code == 200 and "campaign opened" in opened.text, opened.text
        body = client.get(CAMPAIGN, headers=five.auth("organiser")).json()
        desk = client.get(f"/organiser/challenges/{five.challenge}/judging", headers=organiser)
    assert body["protocol"] == protocol and body["protocol_options"] == options
    assert body["method"].get("band") == band
    assert (f"best {options['k']}" if protocol == "best-k" else "pairwise") in desk.text


def test_raim_campaign_open_best_k_and_pairwise(five: World,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    from app.cli import main

    assert main(["campaign", "open", five.challenge, "final", "--protocol", "best-k", "--k", "3",
                 "--band", "80-90", "--repeats", "0"]) == 0
    out = capsys.readouterr().out
    assert "5 finalists, scale 1-10" in out  # the line as it always was
    assert out.strip().splitlines()[-1] == "protocol best-k: k 3, band 80-90"
    assert main(["campaign", "close", five.challenge, "final"]) == 0
    capsys.readouterr()
    # a campaign closed without judgements may be replaced: now pairwise, Thurstone, no ties
    assert main(["campaign", "open", five.challenge, "final", "--protocol", "pairwise",
                 "--no-ties", "--comparisons", "20", "--model", "thurstone"]) == 0
    assert capsys.readouterr().out.strip().splitlines()[-1] == \
        "protocol pairwise: ties False, comparisons 20"
    assert main(["campaign", "close", five.challenge, "final"]) == 0
    assert main(["campaign", "open", five.challenge, "final", "--protocol", "rating",
                 "--k", "3"]) == 2
    assert "k is an option of best-k campaigns, not rating" in capsys.readouterr().err


def test_the_next_pair_is_the_informative_one(five: World) -> None:
    """Forty comparisons of the two best teams settle that pair: a judge's next pair is another
    one (scoring.active's expected information gain over the whole panel's comparisons)."""
    from sqlalchemy import select

    from app.judging.models import Campaign, Judge
    from app.judging.trials import new_token

    with TestClient(make_app()) as client:
        open_campaign(five, client, protocol="pairwise", comparisons=5, repeats=0)
        tokens = list(add_judges(five, client, 2).values())
        with session_scope() as session:
            campaign = session.scalars(select(Campaign)).one()
            entries = {e.team.name: e.id for e in campaign.entries}
            judge = session.scalars(select(Judge).where(Judge.name == "judge 00")).one()
            for position in range(40):
                session.add(PairTrial(
                    campaign_id=campaign.id, judge_id=judge.id, image=sorted(five.inputs)[0],
                    position=position, first_entry_id=entries[five.teams[0]],
                    second_entry_id=entries[five.teams[1]], token=new_token(),
                    input_token=new_token(), first_token=new_token(),
                    second_token=new_token(), outcome="first" if position % 2 else "second"))
        auth = bearer(tokens[1])
        pair = client.get("/api/judge/trials", headers=auth).json()["trials"][0]
        _, labelled = teams_of(five, client, pair, auth)
    assert set(labelled.values()) != {five.teams[0], five.teams[1]}


def test_pairwise_hidden_repeats_come_back_swapped_and_are_screened(five: World) -> None:
    """With half the pairs repeated, some come back later with the sides swapped; the results
    count them as repeated pairs (consistency), not as extra comparisons."""
    with TestClient(make_app()) as client:
        open_campaign(five, client, protocol="pairwise", comparisons=10, repeats=0.5,
                      method={"bootstrap_samples": 20})
        auth = bearer(next(iter(add_judges(five, client, 1).values())))
        pair = client.get("/api/judge/trials", headers=auth).json()["trials"][-1]
        while pair is not None:
            _, labelled = teams_of(five, client, pair, auth)
            better = min(labelled, key=lambda label: five.level(labelled[label]))
            answer = client.post("/api/judge/comparisons", headers=auth, json={
                "trial_id": pair["trial_id"], "choice": "left" if better == "A" else "right"})
            pair = answer.json()["next"]
        client.post(f"{CAMPAIGN}/close", headers=five.auth("organiser"))
        body = client.get(FINAL, headers=five.auth("organiser")).json()
    with session_scope() as session:
        pairs = {p.id: p for p in session.query(PairTrial)}
        repeats = [p for p in pairs.values() if p.repeat_of is not None]
        assert repeats
        for again in repeats:
            first = pairs[again.repeat_of]
            assert (again.first_entry_id, again.second_entry_id) == \
                (first.second_entry_id, first.first_entry_id)
            assert again.image == first.image and again.position > first.position
    firsts = len(pairs) - len(repeats)
    assert sum(r["wins"] + r["losses"] + r["ties"] for r in body["rows"]) == 2 * firsts
    judge = body["subjective"]["judges"][0]
    assert judge["consistency"]["pairs"] == len(repeats)
    assert judge["consistency"]["agreement"] == 1.0  # the same choice each time
