"""Walk everything a judge's browser receives and check that no team identity leaks."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from tests.app.judging.walk import (
    BARE_PNG_CHUNKS,
    BEST_K_KEYS,
    PAIR_KEYS,
    REVEALING_HEADERS,
    Walk,
    forbidden_strings,
    png_chunks,
    walk_judge,
)
from tests.app.judging.world import (
    World,
    add_judges,
    build_world,
    close_final,
    make_app,
    open_campaign,
    submit_finals,
)


@pytest.fixture
def judged(tmp_path, db_url: str) -> Iterator[tuple[World, dict[str, str]]]:
    world = build_world(tmp_path / "world", finalists=3, images=3)
    with TestClient(make_app()) as client:
        submit_finals(world, client)
        close_final()
        open_campaign(world, client, criteria=True, repeats=0.34)
        yield world, add_judges(world, client, 2)


def test_judge_responses_reveal_no_team(judged: tuple[World, dict[str, str]]) -> None:
    world, tokens = judged
    forbidden = forbidden_strings(world)
    urls: list[set[str]] = []
    for token in tokens.values():
        walk, body = walk_judge(token)
        for answer in walk.responses:
            text = answer.content.decode("latin-1")
            for secret in forbidden:
                assert secret not in text, f"{answer.request.url} reveals {secret!r}"
            shared_asset = answer.request.url.path.startswith("/static/")  # same for everyone
            for header in () if shared_asset else REVEALING_HEADERS:
                assert header not in answer.headers, f"{answer.request.url} sends {header}"
            for secret in forbidden:
                assert all(secret not in v for v in answer.headers.values())
        mine = {t["input_url"] for t in body["trials"]} | {
            c["image_url"] for t in body["trials"] for c in t["candidates"]}
        mine |= {t["trial_id"] for t in body["trials"]}
        assert all(not re.search(r"/\d+(/|$)", url) for url in mine)
        urls.append(mine)
    assert not urls[0] & urls[1], "two judges share an image URL or trial id"


def test_judge_cannot_use_another_judges_tokens(judged: tuple[World, dict[str, str]],
                                                client: TestClient) -> None:
    _, tokens = judged
    first, second = ({"Authorization": f"Bearer {t}"} for t in tokens.values())
    trial = client.get("/api/judge/trials", headers=first).json()["trials"][0]
    assert client.get(trial["candidates"][0]["image_url"], headers=second).status_code == 404
    assert client.get(trial["input_url"], headers=second).status_code == 404
    stolen = client.post("/api/judge/ratings", headers=second,
                         json={"trial_id": trial["trial_id"], "scores": {"A": 5}})
    assert stolen.status_code == 404


def test_judge_cannot_see_results(judged: tuple[World, dict[str, str]],
                                  client: TestClient) -> None:
    world, tokens = judged
    auth = {"Authorization": f"Bearer {next(iter(tokens.values()))}"}
    assert client.get(f"/api/challenges/{world.challenge}/final", headers=auth).status_code == 403
    assert client.get(f"/api/challenges/{world.challenge}/final.csv",
                      headers=auth).status_code == 403


@pytest.mark.parametrize(("options", "keys", "judge"), [
    ({"protocol": "best-k", "k": 2}, BEST_K_KEYS,
     lambda trial: ("/api/judge/picks", {"picked": ["A", "B"]})),
    ({"protocol": "pairwise", "comparisons": 3}, PAIR_KEYS,
     lambda trial: ("/api/judge/comparisons", {"choice": "left"})),
])
def test_best_k_and_pairwise_reveal_no_team(tmp_path, db_url: str, options: dict, keys: set,
                                            judge) -> None:  # type: ignore[no-untyped-def]
    """Best-k trials and pairs: bare PNGs behind per-judge tokens, no team in any answer, and
    another judge's tokens are not found."""
    world = build_world(tmp_path / "world", finalists=3, images=2)
    with TestClient(make_app()) as client:
        submit_finals(world, client)
        close_final()
        open_campaign(world, client, repeats=0.5, **options)
        tokens = list(add_judges(world, client, 2).values())
        forbidden = forbidden_strings(world)
        seen: list[set[str]] = []
        for token in tokens:
            walk = Walk(client)
            auth = {"Authorization": f"Bearer {token}"}
            mine: set[str] = set()
            for _ in range(4):  # pairs come one at a time: ask again after each choice
                for trial in walk.get("/api/judge/trials", headers=auth).json()["trials"]:
                    assert set(trial) == keys
                    urls = [trial["input_url"], *(c["image_url"] for c in trial["candidates"])]
                    mine |= {trial["trial_id"], *urls}
                    for url in urls:
                        image = walk.get(url, headers=auth)
                        assert image.status_code == 200
                        assert set(png_chunks(image.content)) <= BARE_PNG_CHUNKS
                        assert not any(h in image.headers for h in REVEALING_HEADERS)
                    if not trial["rated"]:
                        url, body = judge(trial)
                        saved = walk.post(url, headers=auth,
                                          json={"trial_id": trial["trial_id"], **body})
                        assert saved.status_code == 200, saved.text
            for answer in walk.responses:
                text = answer.content.decode("latin-1")
                assert not [s for s in forbidden if s in text], answer.request.url
            seen.append(mine)
        assert not seen[0] & seen[1], "two judges share an image URL or trial id"
        other = {"Authorization": f"Bearer {tokens[1]}"}
        assert all(client.get(url, headers=other).status_code == 404
                   for url in seen[0] if url.startswith("/judge/images/"))
