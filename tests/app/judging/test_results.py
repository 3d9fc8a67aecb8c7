"""The final results as stored and shown: computed once per change, judges named to organisers
only, the CSV's columns, the reason when no ranking can be made, and the ``mle`` model with a
judge who stops after one rating, through the app."""

from __future__ import annotations

import csv
import io
import statistics
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from app.db import session_scope
from app.judging import results
from app.models import Challenge
from tests.app.judging.world import (
    World,
    add_judges,
    build_world,
    close_final,
    make_app,
    open_campaign,
    rate_everything,
    submit_finals,
)

FINAL = "/api/challenges/raim-judged/final"
CLOSE = "/api/organiser/challenges/raim-judged/phases/final/campaign/close"
HTML = {"Accept": "text/html"}


@pytest.fixture
def small(settings, tmp_path: Path) -> World:  # type: ignore[no-untyped-def]
    """Three finalists, four images; their final submissions in; the final phase over."""
    world = build_world(tmp_path / "world", finalists=3, images=4)
    with TestClient(make_app()) as client:
        submit_finals(world, client)
    close_final()
    return world


@pytest.fixture
def computations(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Counts the times the final ranking is computed (the model and the bootstrap)."""
    calls: list[int] = []
    real = results.final_ranking

    def counted(*args, **kwargs):  # type: ignore[no-untyped-def]
        calls.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(results, "final_ranking", counted)
    return calls


def test_results_are_computed_once_per_change_and_stored(small: World,
                                                        computations: list[int]) -> None:
    organiser = small.auth("organiser")
    with TestClient(make_app()) as client:
        open_campaign(small, client, repeats=0, method={"bootstrap_samples": 30})
        tokens = list(add_judges(small, client, 2).values())
        rate_everything(small, client, tokens[0])
        assert computations == []  # saving ratings computes nothing
        first = client.get(FINAL, headers=organiser).json()
        assert client.get(FINAL, headers=organiser).json() == first
        assert client.get(f"{FINAL}.csv", headers=organiser).status_code == 200
        assert len(computations) == 1  # three reads, one computation

        rate_everything(small, client, tokens[1], judge=1)  # ratings saved: a new key
        second = client.get(FINAL, headers=organiser).json()
        assert len(computations) == 2 and second["rows"] != first["rows"]

        assert client.post(CLOSE, headers=organiser).json()["published"] is True
        assert len(computations) == 3  # computed at close, and published
        public = client.get(FINAL).json()
        client.get(FINAL)
        client.get(f"/challenges/{small.challenge}/final", headers=HTML)
        assert len(computations) == 3  # the public reads what the close stored
        assert public["method"]["campaign"]["status"] == "closed"

        with session_scope() as session:  # the organisers change the blend's weights
            challenge = session.query(Challenge).filter(Challenge.slug == small.challenge).one()
            challenge.ranking = [{"phase": "validation", "weight": 0.3},
                                 {"phase": "final", "weight": 0.7}]
        reweighted = client.get(FINAL).json()
        assert len(computations) == 4
        assert reweighted["method"]["weights"] == pytest.approx({"objective": 0.3,
                                                                 "subjective": 0.7})
        client.get(FINAL, headers=organiser)
        assert len(computations) == 4


def test_judges_are_named_to_organisers_only(small: World) -> None:
    with TestClient(make_app()) as client:
        open_campaign(small, client, repeats=0.25, method={"bootstrap_samples": 20,
                                                           "max_repeat_diff": 0})
        tokens = add_judges(small, client, 3)
        for j, token in enumerate(tokens.values()):
            rate_everything(small, client, token, judge=j)
        _rate_repeats_differently(small, client, tokens["judge 02"])
        client.post(CLOSE, headers=small.auth("organiser"))
        organiser = client.get(FINAL, headers=small.auth("organiser")).json()
        assert [j["judge"] for j in organiser["rejected_judges"]] == ["judge 02"]
        page = client.get(f"/challenges/{small.challenge}/final",
                          headers={**HTML, **small.auth("organiser")})
        assert "judge 02" in page.text

        shown = [client.get(FINAL).text, client.get(f"{FINAL}.csv").text,
                 client.get(f"/challenges/{small.challenge}/final", headers=HTML).text,
                 client.get(FINAL, headers=small.auth(small.teams[0])).text]
        for text in shown:
            for name in tokens:
                assert name not in text
        public = client.get(FINAL).json()
        assert [j["judge"] for j in public["rejected_judges"]] == ["judge 3"]
        assert {j["judge"] for j in public["subjective"]["judges"]} == {"judge 1", "judge 2",
                                                                       "judge 3"}
        assert public["rejected_judges"][0]["reasons"] == organiser["rejected_judges"][0]["reasons"]
        assert "judges are not named publicly" in shown[2]


def _rate_repeats_differently(world: World, client: TestClient, token: str) -> None:
    """The judge scores each hidden repeat one point away from the first time."""
    auth = {"Authorization": f"Bearer {token}"}
    seen: set[str] = set()
    for trial in client.get("/api/judge/trials", headers=auth).json()["trials"]:
        stem, _ = world.team_of_pixels(client.get(trial["input_url"], headers=auth).content)
        if stem in seen:
            scores = {c["label"]: c["score"] - 1 if c["score"] > 1 else c["score"] + 1
                      for c in trial["candidates"]}
            assert client.post("/api/judge/ratings", headers=auth, json={
                "trial_id": trial["trial_id"], "scores": scores}).status_code == 200
        seen.add(stem)


def test_csv_has_rank_interval_mos_and_criteria(small: World) -> None:
    with TestClient(make_app()) as client:
        open_campaign(small, client, repeats=0, criteria=True,
                      method={"bootstrap_samples": 20})
        for j, token in enumerate(add_judges(small, client, 2).values()):
            rate_everything(small, client, token, judge=j)
            auth = {"Authorization": f"Bearer {token}"}
            trial = client.get("/api/judge/trials", headers=auth).json()["trials"][0]
            client.post("/api/judge/ratings", headers=auth, json={
                "trial_id": trial["trial_id"],
                "scores": {c["label"]: c["score"] for c in trial["candidates"]},
                "criteria": {c["label"]: {"texture": 3 + j, "fidelity": 8}
                             for c in trial["candidates"]}})
        client.post(CLOSE, headers=small.auth("organiser"))
        body = client.get(FINAL).json()
        rows = list(csv.DictReader(io.StringIO(client.get(f"{FINAL}.csv").text)))
    assert list(rows[0])[:9] == ["rank", "team", "objective", "subjective", "final",
                                 "rank_stability", "objective_scaled", "subjective_scaled",
                                 "subjective_ci95"]  # the columns of before, first
    for row, json_row in zip(rows, body["rows"], strict=True):
        low, high = json_row["rank_interval"]
        assert row["rank_interval"] == f"{low}-{high}"
        assert float(row["mos"]) == pytest.approx(json_row["mos"])
        assert 1 <= float(row["mos"]) <= 10 and float(row["mos_ci95"]) >= 0
        assert float(row["texture"]) == pytest.approx(3.5) and float(row["fidelity"]) == 8
        assert row["noise"] == "" and row["artefacts"] == ""


def test_every_judge_rejected_shows_the_reason(small: World) -> None:
    with TestClient(make_app()) as client:
        open_campaign(small, client, repeats=0.25, method={"bootstrap_samples": 20,
                                                           "max_repeat_diff": 0})
        token = add_judges(small, client, 1)["judge 00"]
        rate_everything(small, client, token)
        _rate_repeats_differently(small, client, token)
        organiser = client.get(FINAL, headers=small.auth("organiser"))
        assert organiser.status_code == 200
        body = organiser.json()
        assert body["status"] == "no_accepted_judges" and body["rows"] == []
        assert "judge 00" in body["reason"]
        page = client.get(f"/challenges/{small.challenge}/final",
                          headers={**HTML, **small.auth("organiser")})
        assert page.status_code == 200 and 'id="final-status"' in page.text
        assert "every judge was rejected by screening" in page.text and "judge 00" in page.text
        client.post(CLOSE, headers=small.auth("organiser"))
        public = client.get(f"/challenges/{small.challenge}/final", headers=HTML)
        assert "every judge was rejected" in public.text and "judge 00" not in public.text
        assert "judge 1" in client.get(FINAL).json()["reason"]


def test_mle_with_a_one_rating_judge_keeps_sensible_intervals_and_flags_them(
        small: World) -> None:
    organiser = small.auth("organiser")
    with TestClient(make_app()) as client:
        open_campaign(small, client, repeats=0, method={
            "model": "mle", "judge_normalisation": "none", "bootstrap_samples": 50})
        tokens = add_judges(small, client, 5)
        for j, name in enumerate(sorted(tokens)[:4]):
            assert rate_everything(small, client, tokens[name], judge=j) == 12
        before = client.get(FINAL, headers=organiser).json()
        assert before["flagged_judges"] == []
        assert rate_everything(small, client, tokens["judge 04"], judge=4, limit=1) == 1
        after = client.get(FINAL, headers=organiser).json()

        flagged = {j["judge"]: j for j in after["flagged_judges"]}
        assert list(flagged) == ["judge 04"] and flagged["judge 04"]["accepted"] is True
        assert "pooled inconsistency" in flagged["judge 04"]["notes"][0]
        assert after["method"]["model"]["type"] == "SUBJECT_BIAS_INCONSISTENCY_MLE"
        # no interval collapses (it fell a hundredfold before the fix): each image's and each
        # team's interval stays within a factor of two of what the four full judges gave
        old = {(s["image"], s["team"]): s["ci95"] for s in before["subjective"]["images"]}
        for stimulus in after["subjective"]["images"]:
            ratio = stimulus["ci95"] / old[(stimulus["image"], stimulus["team"])]
            assert 0.5 < ratio < 2, stimulus
        widths = [t["ci95"] for t in after["subjective"]["teams"]]
        assert min(widths) > 0.5 * statistics.median(widths)
        for row in after["rows"]:
            assert 0 < row["subjective_ci95"] < 3 and 1 <= row["mos"] <= 10

        page = client.get(f"/challenges/{small.challenge}/final", headers={**HTML, **organiser})
        assert 'id="flagged-judges"' in page.text and "judge 04" in page.text
        assert "pooled inconsistency" in page.text
        client.post(CLOSE, headers=organiser)
        public = client.get(f"/challenges/{small.challenge}/final", headers=HTML)
        assert public.status_code == 200 and 'id="flagged-judges"' not in public.text
        assert "judge 04" not in public.text
