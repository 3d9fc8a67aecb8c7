"""Trial drawing (labels, order, hidden repeats) and rating validation through the API."""

from __future__ import annotations

import random

import pytest
from fastapi.testclient import TestClient

from app.judging.trials import labels, repeat_count, sequence
from tests.app.judging.world import World, add_judges, close_final, open_campaign, submit_finals


def test_labels_run_past_z() -> None:
    assert labels(3) == ["A", "B", "C"]
    assert labels(28)[25:] == ["Z", "AA", "AB"]


@pytest.mark.parametrize(("images", "share", "expected"),
                         [(50, 0.05, 2), (4, 0.05, 1), (4, 0.0, 0), (3, 0.5, 2), (0, 0.05, 0)])
def test_repeat_count_rounds_with_at_least_one(images: int, share: float, expected: int) -> None:
    assert repeat_count(images, share) == expected


def test_sequence_shows_each_image_once_and_repeats_later() -> None:
    stems = [f"{i:03d}" for i in range(20)]
    order = sequence(stems, 3, random.Random(4))
    firsts = [s for s, original in order if original is None]
    assert sorted(firsts) == stems
    repeats = [(i, s, original) for i, (s, original) in enumerate(order) if original is not None]
    assert len(repeats) == 3
    for at, stem, original in repeats:
        assert order[original] == (stem, None) and at > original + 1


@pytest.fixture
def rating(world: World, client: TestClient) -> tuple[World, dict, dict[str, str]]:
    submit_finals(world, client)
    close_final()
    open_campaign(world, client, criteria=True, scale="1-5")
    token = next(iter(add_judges(world, client, 1).values()))
    auth = {"Authorization": f"Bearer {token}"}
    return world, client.get("/api/judge/trials", headers=auth).json(), auth


def test_trials_are_drawn_once(rating, client: TestClient) -> None:  # type: ignore[no-untyped-def]
    _, first, auth = rating
    again = client.get("/api/judge/trials", headers=auth).json()
    assert again == first
    assert first["progress"] == {"rated": 0, "total": 5}
    assert first["trials"][0]["scale"] == [1, 5]
    assert first["trials"][0]["criteria"] == ["texture", "noise", "artefacts", "fidelity"]


THIS_TRIAL = "<the first trial>"


@pytest.mark.parametrize(("payload", "status", "message"), [
    ({"scores": {"A": 3}}, 422, "trial_id must be the string"),
    ({"trial_id": "nope", "scores": {"A": 3}}, 404, "not found among your trials"),
    ({"trial_id": THIS_TRIAL, "scores": {}}, 422, "scores must be an object"),
    ({"trial_id": THIS_TRIAL, "scores": {"Q": 3}}, 422, "scores.Q: no candidate labelled 'Q'"),
    ({"trial_id": THIS_TRIAL, "scores": {"A": 6}}, 422,
     "scores.A: 6 is not a whole number from 1 to 5"),
    ({"trial_id": THIS_TRIAL, "scores": {"A": 2.5}}, 422, "scores.A: 2.5 is not a whole number"),
    ({"trial_id": THIS_TRIAL, "scores": {"A": True}}, 422, "scores.A: True is not a whole number"),
    ({"trial_id": THIS_TRIAL, "scores": {"A": 3}, "criteria": {"A": {"colour": 2}}}, 422,
     "unknown criterion"),
    ({"trial_id": THIS_TRIAL, "scores": {"A": 3}, "criteria": {"B": {"noise": 2}}}, 422,
     "give the overall score of B"),
])
def test_rating_rejected_with_reason(rating, client: TestClient, payload: dict, status: int,  # type: ignore[no-untyped-def]
                                     message: str) -> None:
    _, body, auth = rating
    if payload.get("trial_id") == THIS_TRIAL:
        payload = {**payload, "trial_id": body["trials"][0]["trial_id"]}
    answer = client.post("/api/judge/ratings", headers=auth, json=payload)
    assert answer.status_code == status
    assert message in answer.json()["detail"]
    after = client.get("/api/judge/trials", headers=auth).json()["trials"][0]
    assert all(c["score"] is None for c in after["candidates"])  # nothing of it was stored


def test_rating_replaced_by_a_later_one(rating, client: TestClient) -> None:  # type: ignore[no-untyped-def]
    _, body, auth = rating
    trial = body["trials"][0]["trial_id"]
    for value in (2, 4):
        answer = client.post("/api/judge/ratings", headers=auth, json={
            "trial_id": trial, "scores": {"A": value}, "criteria": {"A": {"noise": value}}})
        assert answer.status_code == 200
    shown = client.get("/api/judge/trials", headers=auth).json()["trials"][0]["candidates"][0]
    assert shown["score"] == 4 and shown["criteria"] == {"noise": 4}


def test_browser_rating_needs_csrf_header(rating, client: TestClient) -> None:  # type: ignore[no-untyped-def]
    world, body, auth = rating
    token = auth["Authorization"].removeprefix("Bearer ")
    client.get(f"/judge/sign-in/{token}")
    answer = client.post("/api/judge/ratings", json={
        "trial_id": body["trials"][0]["trial_id"], "scores": {"A": 3}})
    assert answer.status_code == 403
