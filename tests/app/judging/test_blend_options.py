"""A campaign's blend as RAIM 2026 Track 3 ran it: 30% objective + 70% subjective, the
subjective scores put linearly on the organiser's band 80-90; and what is refused."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from app.cli import main
from app.db import session_scope
from app.judging.campaigns import CampaignOptions
from app.judging.models import Campaign
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


@pytest.fixture
def small(settings, tmp_path: Path) -> World:  # type: ignore[no-untyped-def]
    world = build_world(tmp_path / "world", finalists=3, images=4)
    with session_scope() as session:
        challenge = session.query(Challenge).one()
        challenge.ranking = [{"phase": "validation", "weight": 30},
                             {"phase": "final", "weight": 70}]
    with TestClient(make_app()) as client:
        submit_finals(world, client)
    close_final()
    return world


def test_a_30_70_blend_with_the_subjective_scores_on_a_band_of_80_to_90(small: World) -> None:
    with TestClient(make_app()) as client:
        open_campaign(small, client, repeats=0, method={
            "normalisation": {"objective": "minmax", "subjective": "band"}, "band": [80, 90],
            "bootstrap_samples": 20})
        tokens = add_judges(small, client, 3)
        for j, name in enumerate(sorted(tokens)):
            rate_everything(small, client, tokens[name], judge=j)
        final = client.get(FINAL, headers=small.auth("organiser")).json()
    assert final["method"]["weights"] == pytest.approx({"objective": 0.3, "subjective": 0.7})
    assert final["method"]["band"] == [80, 90]
    rows = final["rows"]
    subjective = sorted(r["subjective_scaled"] for r in rows)
    assert subjective[0] == pytest.approx(80) and subjective[-1] == pytest.approx(90)
    for row in rows:
        # linear: the band's bottom plus 10 times the share of the subjective range
        low, high = min(r["subjective"] for r in rows), max(r["subjective"] for r in rows)
        assert row["subjective_scaled"] == pytest.approx(
            80 + 10 * (row["subjective"] - low) / (high - low))
        assert row["final"] == pytest.approx(0.3 * row["objective_scaled"]
                                             + 0.7 * row["subjective_scaled"])


@pytest.mark.parametrize(("method", "message"), [
    ({"normalisation": "band"}, "normalisation 'band' needs a band (low, high)"),
    ({"normalisation": "band", "band": [90, 80]}, "need finite numbers with low < high"),
    ({"normalisation": "minmax", "band": [80, 90]}, "only the 'band' normalisation takes a band"),
    ({"normalisation": {"objective": "none"}}, "name one scale for each of objective, subjective"),
    ({"normalisation": "percentile"}, "normalisation 'percentile': choose one of minmax, rank"),
])
def test_a_blend_that_cannot_be_made_is_refused_naming_why(method, message) -> None:
    problems = CampaignOptions(method=method).problems()
    assert any(message in p for p in problems), problems


def test_campaign_open_takes_a_band_and_one_scale_per_phase(
        small: World, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["campaign", "open", small.challenge, "final", "--normalisation",
                 "objective=minmax,subjective=band", "--band", "80-90"]) == 0
    with session_scope() as session:
        method = session.query(Campaign).one().method
    assert method["normalisation"] == {"objective": "minmax", "subjective": "band"}
    assert method["band"] == [80.0, 90.0]
    capsys.readouterr()
    assert main(["campaign", "close", small.challenge, "final"]) == 0
    assert main(["campaign", "open", small.challenge, "final", "--normalisation", "band"]) == 2
    assert "needs a band (low, high)" in capsys.readouterr().err
