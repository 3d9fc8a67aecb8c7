"""Opening and closing campaigns through the organiser API, and who may see the final results."""

from __future__ import annotations

from fastapi.testclient import TestClient

from tests.app.judging.world import (
    World,
    add_judges,
    close_final,
    open_campaign,
    submit_finals,
)

CAMPAIGN = "/api/organiser/challenges/raim-judged/phases/final/campaign"


def test_campaign_refused_while_phase_runs(world: World, client: TestClient) -> None:
    submit_finals(world, client)
    answer = client.post(CAMPAIGN, headers=world.auth("organiser"), json={})
    assert answer.status_code == 409
    assert "phase final is still open until 2099-01-01" in answer.json()["detail"]


def test_campaign_rates_last_submission_unless_told(world: World, client: TestClient) -> None:
    first = submit_finals(world, client)
    second = submit_finals(world, client)
    close_final()
    chosen = {world.teams[0]: first[world.teams[0]]}
    campaign = open_campaign(world, client, submissions=chosen, scale="1-7", repeats=0.1)
    entries = {e["team"]: e["submission_id"] for e in campaign["entries"]}
    assert entries[world.teams[0]] == first[world.teams[0]]
    assert all(entries[t] == second[t] for t in world.teams[1:])
    assert campaign["scale"] == [1, 7] and campaign["repeat_share"] == 0.1
    assert campaign["method"]["max_repeat_diff"] == 1.5  # a quarter of the 1-7 scale


def test_campaign_problems_listed_together(world: World, client: TestClient) -> None:
    submit_finals(world, client)
    close_final()
    answer = client.post(CAMPAIGN, headers=world.auth("organiser"), json={
        "scale": "5-2", "repeats": 0.9, "submissions": {world.outsider: 1},
        "method": {"model": "elo"}})
    assert answer.status_code == 409
    detail = answer.json()["detail"]
    for part in ("scale 5-2", "repeats 0.9", "model 'elo'", f"not finalists of phase final: "
                 f"{world.outsider}"):
        assert part in detail


def test_campaign_only_one_open_and_organisers_only(world: World, client: TestClient) -> None:
    submit_finals(world, client)
    close_final()
    assert client.post(CAMPAIGN, headers=world.auth(world.teams[0]), json={}).status_code == 403
    open_campaign(world, client)
    again = client.post(CAMPAIGN, headers=world.auth("organiser"), json={})
    assert again.status_code == 409 and "already has an open campaign" in again.json()["detail"]


def test_results_published_when_campaign_closes(world: World, client: TestClient) -> None:
    submit_finals(world, client)
    close_final()
    open_campaign(world, client, repeats=0, method={"bootstrap_samples": 20})
    auth = {"Authorization": f"Bearer {next(iter(add_judges(world, client, 2).values()))}"}
    trials = client.get("/api/judge/trials", headers=auth).json()["trials"]
    for trial in trials:
        scores = {c["label"]: 1 + i for i, c in enumerate(trial["candidates"])}
        assert client.post("/api/judge/ratings", headers=auth,
                           json={"trial_id": trial["trial_id"], "scores": scores}).is_success
    final = f"/api/challenges/{world.challenge}/final"
    assert client.get(final).status_code == 404
    assert client.get(final, headers=world.auth(world.teams[0])).status_code == 404
    assert client.get(final, headers=world.auth("organiser")).status_code == 200
    closed = client.post(CAMPAIGN + "/close", headers=world.auth("organiser"))
    assert closed.json()["status"] == "closed"
    public = client.get(final)
    assert public.status_code == 200
    assert len(public.json()["rows"]) == len(world.teams)
    late = client.post("/api/judge/ratings", headers=auth,
                       json={"trial_id": trials[0]["trial_id"], "scores": {"A": 1}})
    assert late.status_code == 409 and "closed" in late.json()["detail"]
    assert client.get("/api/judge/trials", headers=auth).json()["trials"] == []
