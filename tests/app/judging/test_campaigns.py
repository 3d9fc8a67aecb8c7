"""Opening, closing and reopening campaigns through the organiser API, who may see the final
results, and judges' links revoked and renewed."""

from __future__ import annotations

from fastapi.testclient import TestClient

from tests.app.judging.world import (
    World,
    add_judges,
    close_final,
    open_campaign,
    rate_everything,
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


def published_rows(client: TestClient) -> list[dict]:
    answer = client.get("/api/challenges/raim-judged/final")
    assert answer.status_code == 200, answer.text
    return answer.json()["rows"]


def test_closing_and_reopening_never_loses_published_results_or_ratings(
        world: World, client: TestClient) -> None:
    submit_finals(world, client)
    close_final()
    open_campaign(world, client, repeats=0, method={"bootstrap_samples": 20})
    tokens = list(add_judges(world, client, 2).values())
    given = sum(rate_everything(world, client, t, judge=j) for j, t in enumerate(tokens))
    closed = client.post(CAMPAIGN + "/close", headers=world.auth("organiser")).json()
    assert closed["status"] == "closed" and closed["published"] is True
    assert [p["ratings"] for p in closed["progress"]] == [given // 2, given // 2]  # kept
    first = published_rows(client)
    assert len(first) == len(world.teams)

    # a second campaign on the same phase would replace the published results: refused
    again = client.post(CAMPAIGN, headers=world.auth("organiser"), json={})
    assert again.status_code == 409
    detail = again.json()["detail"]
    assert "already has published results" in detail and f"{given} ratings" in detail
    assert "reopen campaign" in detail
    assert published_rows(client) == first

    # reopening keeps every rating; the public keeps the published ranking meanwhile
    reopened = client.post(CAMPAIGN + "/reopen", headers=world.auth("organiser"))
    assert reopened.status_code == 200 and reopened.json()["status"] == "open"
    assert reopened.json()["id"] == closed["id"]
    auth = {"Authorization": f"Bearer {tokens[0]}"}
    trials = client.get("/api/judge/trials", headers=auth).json()
    assert trials["progress"]["rated"] == trials["progress"]["total"]  # carries on, all rated
    flipped = {c["label"]: 11 - c["score"] for c in trials["trials"][0]["candidates"]}
    assert client.post("/api/judge/ratings", headers=auth, json={
        "trial_id": trials["trials"][0]["trial_id"], "scores": flipped}).status_code == 200
    assert published_rows(client) == first  # the public still reads the published ranking
    organiser = client.get("/api/challenges/raim-judged/final", headers=world.auth("organiser"))
    assert organiser.json()["method"]["campaign"]["status"] == "open"  # provisional, current
    assert organiser.json()["rows"] != first

    # closing again publishes the current ratings
    assert client.post(CAMPAIGN + "/close", headers=world.auth("organiser")).json()["published"]
    republished = published_rows(client)
    assert republished == organiser.json()["rows"] and republished != first
    listing = client.get(CAMPAIGN, headers=world.auth("organiser")).json()
    assert sum(p["ratings"] for p in listing["progress"]) == given


def test_a_closed_campaign_without_ratings_never_hides_published_results(
        world: World, client: TestClient) -> None:
    """Even if a later campaign exists (made before this rule, say) and closes with no rating,
    the public keeps reading the last published results."""
    from app.db import session_scope
    from app.judging.models import Campaign
    from app.models import Phase, utcnow

    submit_finals(world, client)
    close_final()
    open_campaign(world, client, repeats=0, method={"bootstrap_samples": 20})
    rate_everything(world, client, next(iter(add_judges(world, client, 1).values())))
    client.post(CAMPAIGN + "/close", headers=world.auth("organiser"))
    first = published_rows(client)
    with session_scope() as session:
        phase = session.query(Phase).filter(Phase.slug == "final").one()
        session.add(Campaign(phase_id=phase.id, status="closed", method={}, closed_at=utcnow()))
    assert published_rows(client) == first


def test_a_campaign_closed_without_ratings_may_be_replaced(world: World,
                                                           client: TestClient) -> None:
    submit_finals(world, client)
    close_final()
    open_campaign(world, client, scale="1-5")
    closed = client.post(CAMPAIGN + "/close", headers=world.auth("organiser")).json()
    assert closed["published"] is False
    assert closed["not_published_because"] == "no ratings have been given yet"
    assert client.get("/api/challenges/raim-judged/final").status_code == 409
    assert open_campaign(world, client, scale="1-10")["scale"] == [1, 10]


def test_reopen_needs_a_closed_campaign(world: World, client: TestClient) -> None:
    submit_finals(world, client)
    close_final()
    none = client.post(CAMPAIGN + "/reopen", headers=world.auth("organiser"))
    assert none.status_code == 409 and "no campaign to reopen" in none.json()["detail"]
    open_campaign(world, client)
    busy = client.post(CAMPAIGN + "/reopen", headers=world.auth("organiser"))
    assert busy.status_code == 409 and "already has an open campaign" in busy.json()["detail"]


def test_revoked_judge_link_stops_and_a_new_link_restores(world: World,
                                                          client: TestClient) -> None:
    submit_finals(world, client)
    close_final()
    open_campaign(world, client, repeats=0)
    token = add_judges(world, client, 1)["judge 00"]
    auth = {"Authorization": f"Bearer {token}"}
    rated = rate_everything(world, client, token, limit=2)
    total = client.get("/api/judge/trials", headers=auth).json()["progress"]["total"]
    judges = "/api/organiser/challenges/raim-judged/judges"
    revoked = client.post(f"{judges}/revoke", headers=world.auth("organiser"),
                          json={"name": "judge 00"})
    assert revoked.status_code == 200 and revoked.json()["revoked"] is True
    assert client.get("/api/judge/trials", headers=auth).status_code == 401
    assert client.get(f"/judge/sign-in/{token}", follow_redirects=False).status_code == 404
    again = client.post(f"{judges}/revoke", headers=world.auth("organiser"),
                        json={"name": "judge 00"})
    assert again.status_code == 409 and "already revoked" in again.json()["detail"]
    unknown = client.post(f"{judges}/link", headers=world.auth("organiser"),
                          json={"name": "nobody"})
    assert unknown.status_code == 409 and "judges: 'judge 00'" in unknown.json()["detail"]

    link = client.post(f"{judges}/link", headers=world.auth("organiser"),
                       json={"name": "judge 00"})
    assert link.status_code == 201
    assert link.json()["link"] == f"http://testserver/judge/sign-in/{link.json()['token']}"
    fresh = {"Authorization": f"Bearer {link.json()['token']}"}
    assert client.get("/api/judge/trials", headers=fresh).json()["progress"]["total"] == total
    listed = client.get(CAMPAIGN, headers=world.auth("organiser")).json()["progress"]
    assert listed[0]["ratings"] == rated == 2 and listed[0]["revoked"] is False  # kept


def test_judged_phase_has_nothing_to_rescore(world: World, client: TestClient) -> None:
    """An unpaired phase is judged by people: rescoring it or one of its submissions is a 409
    that says why, and the organiser's pages offer no Rescore button for it."""
    ids = submit_finals(world, client)
    organiser = world.auth("organiser")
    one = client.post(f"/api/organiser/submissions/{ids[world.teams[0]]}/rescore", headers=organiser)
    phase = client.post("/api/organiser/challenges/raim-judged/phases/final/rescore",
                        headers=organiser)
    for answer in (one, phase):
        assert answer.status_code == 409
        assert "judged by people, not scored by metrics" in answer.json()["detail"]
    page = client.get(f"/submissions/{ids[world.teams[0]]}", headers=organiser)
    assert page.status_code == 200 and "Download upload" in page.text  # the organiser's view
    assert "/rescore" not in page.text
