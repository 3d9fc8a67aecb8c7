"""End to end over HTTP: 18 judges (one erratic) rate 10 finalists; the final ranking is checked
against an independent computation made here from the scores the judges gave."""

from __future__ import annotations

import math

import numpy as np
import pytest
from fastapi.testclient import TestClient

from tests.app.judging.world import (
    STEP,
    World,
    add_judges,
    close_final,
    open_campaign,
    submit_finals,
)

JUDGES = 18
ERRATIC = "judge 07"
FINALISTS = 10


def judge_score(judge: int, erratic: bool, stem: str, level_rmse: float, team: str,
                repeat: int) -> int:
    """What a simulated judge answers, from what they see (the result's distance to the input).

    Honest judges see quality ``10 - 0.8 x level`` and disagree as people do: a small bias
    each, a lasting opinion per image (standard deviation 1.4 points) and a little noise
    each time they look (0.4). The erratic judge answers at random, every time afresh.
    """
    seed = [judge, int(stem), sum(map(ord, team))]
    if erratic:
        return int(np.random.default_rng([*seed, repeat]).integers(1, 11))
    quality = 10.0 - 0.8 * level_rmse / STEP
    opinion = np.random.default_rng(seed).normal(0, 1.4)
    glance = np.random.default_rng([*seed, 100 + repeat]).normal(0, 0.4)
    bias = 0.3 * (judge % 3 - 1)
    return int(min(10, max(1, round(quality + bias + opinion + glance))))


def rmse(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.sqrt(np.mean((a.astype(float) - b.astype(float)) ** 2)))


def rate_everything(world: World, client: TestClient, tokens: dict[str, str]) -> list[tuple]:
    """Each judge rates every trial through the API; returns (judge, stem, team, score, repeat)."""
    given: list[tuple] = []
    for j, (name, token) in enumerate(sorted(tokens.items())):
        auth = {"Authorization": f"Bearer {token}"}
        trials = client.get("/api/judge/trials", headers=auth).json()["trials"]
        assert len(trials) == 5  # 4 images + 1 hidden repeat (5%, at least one)
        seen: set[str] = set()
        for trial in trials:
            shown = client.get(trial["input_url"], headers=auth).content
            stem, nobody = world.team_of_pixels(shown)
            assert nobody is None
            repeat = stem in seen
            seen.add(stem)
            assert [c["label"] for c in trial["candidates"]] == list("ABCDEFGHIJ")
            scores = {}
            for candidate in trial["candidates"]:
                png = client.get(candidate["image_url"], headers=auth).content
                image_stem, team = world.team_of_pixels(png)
                assert image_stem == stem and team is not None
                distance = rmse(world.results[team][stem], world.inputs[stem])
                scores[candidate["label"]] = judge_score(j, name == ERRATIC, stem, distance, team,
                                                       int(repeat))
                given.append((name, stem, team, scores[candidate["label"]], int(repeat)))
            if j == 0:  # the first judge saves label by label, as the page does
                for label, value in scores.items():
                    answer = client.post("/api/judge/ratings", headers=auth,
                                         json={"trial_id": trial["trial_id"],
                                               "scores": {label: value}})
                    assert answer.status_code == 200, answer.text
            else:
                answer = client.post("/api/judge/ratings", headers=auth,
                                     json={"trial_id": trial["trial_id"], "scores": scores})
                assert answer.status_code == 200, answer.text
                assert answer.json()["rated"] is True
        left = client.get("/api/judge/trials", headers=auth).json()
        assert left["progress"] == {"rated": 5, "total": 5}
    return given


def independent_ranking(given: list[tuple], objective: dict[str, float]) -> dict:
    """Written out here: BT.500 screening and repeat consistency, per-judge z-scores, pooled
    means, min-max, 0.4/0.6."""
    firsts = [g for g in given if g[4] == 0]
    judges = sorted({g[0] for g in firsts})
    stimuli = sorted({(g[1], g[2]) for g in firsts})
    matrix = np.full((len(judges), len(stimuli)), np.nan)
    for name, stem, team, score, _ in firsts:
        matrix[judges.index(name), stimuli.index((stem, team))] = score
    p = np.zeros(len(judges))
    q = np.zeros(len(judges))
    for column in matrix.T:
        mean = column.mean()
        m2 = np.mean((column - mean) ** 2)
        if m2 == 0:
            continue
        std = math.sqrt(np.sum((column - mean) ** 2) / (len(column) - 1))
        kurtosis = np.mean((column - mean) ** 4) / m2**2
        threshold = (2 if 2 <= kurtosis <= 4 else math.sqrt(20)) * std
        p += column >= mean + threshold
        q += column <= mean - threshold
    rejected = [judges[i] for i in range(len(judges))
                if p[i] + q[i] > 0 and (p[i] + q[i]) / len(stimuli) > 0.05
                and abs(p[i] - q[i]) / (p[i] + q[i]) < 0.3]
    first = {(g[0], g[1], g[2]): g[3] for g in firsts}
    for name in judges:  # hidden repeats: mean |first - again| above a quarter of the scale
        diffs = [abs(g[3] - first[(g[0], g[1], g[2])]) for g in given if g[4] and g[0] == name]
        if diffs and np.mean(diffs) > 0.25 * 9 and name not in rejected:
            rejected.append(name)
    rejected.sort()
    kept = matrix[[i for i, name in enumerate(judges) if name not in rejected]]
    z = (kept - kept.mean(axis=1, keepdims=True)) / kept.std(axis=1, ddof=1, keepdims=True)
    teams = sorted(objective)
    subjective = {t: float(np.mean(z[:, [k for k, s in enumerate(stimuli) if s[1] == t]]))
                  for t in teams}

    def minmax(values: dict[str, float]) -> dict[str, float]:
        low, high = min(values.values()), max(values.values())
        return {t: (v - low) / (high - low) for t, v in values.items()}

    o, s = minmax(objective), minmax(subjective)
    final = {t: 0.4 * o[t] + 0.6 * s[t] for t in teams}
    return {"rejected": rejected, "subjective": subjective, "final": final,
            "order": sorted(teams, key=lambda t: -final[t])}


@pytest.mark.timeout(900)
def test_final_ranking_matches_independent_computation(world: World, client: TestClient) -> None:
    submit_finals(world, client)
    refused = client.post("/score", headers=world.auth(world.outsider), data={"phase": "final"},
                          files={"file": ("x.zip", world.zips[world.teams[0]].read_bytes(),
                                          "application/zip")})
    assert refused.status_code == 403
    close_final()
    campaign = open_campaign(world, client, method={"bootstrap_samples": 200})
    assert sorted(e["team"] for e in campaign["entries"]) == sorted(world.teams)
    tokens = add_judges(world, client, JUDGES)

    given = rate_everything(world, client, tokens)

    answer = client.get(f"/api/challenges/{world.challenge}/final",
                        headers=world.auth("organiser"))
    assert answer.status_code == 200, answer.text
    body = answer.json()
    expected = independent_ranking(given, world.objective)
    assert expected["rejected"] == [ERRATIC]
    assert [j["judge"] for j in body["rejected_judges"]] == [ERRATIC]
    assert [row["team"] for row in body["rows"]] == expected["order"]
    assert [row["rank"] for row in body["rows"]] == list(range(1, FINALISTS + 1))
    for row in body["rows"]:
        assert row["final"] == pytest.approx(expected["final"][row["team"]], abs=1e-9)
        assert row["subjective"] == pytest.approx(expected["subjective"][row["team"]], abs=1e-9)
        assert row["objective"] == world.objective[row["team"]]
        assert 0.0 <= row["rank_stability"] <= 1.0
    assert body["method"]["normalisation"] == "minmax"
    assert body["method"]["weights"] == {"objective": 0.4, "subjective": 0.6}
    # the honest judges agree with themselves on the hidden repeat
    consistency = {j["judge"]: j["consistency"] for j in body["subjective"]["judges"]}
    assert consistency["judge 00"]["pairs"] == FINALISTS
    assert consistency["judge 00"]["mean_abs_diff"] < 1.0
    assert consistency[ERRATIC]["mean_abs_diff"] > 2.25
