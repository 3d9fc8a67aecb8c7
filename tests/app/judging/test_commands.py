"""``raim judge add``, ``raim finalists`` and ``raim campaign`` as operators run them."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlsplit

import pytest
from fastapi.testclient import TestClient

from app.cli import main
from app.config import Settings
from tests.app.judging.world import World, build_world, close_final, make_app, submit_finals


@pytest.fixture
def finals(settings: Settings, tmp_path: Path) -> World:
    world = build_world(tmp_path / "world", finalists=3, images=2)
    with TestClient(make_app()) as client:
        submit_finals(world, client)
    close_final()
    return world


def test_judge_add_prints_link_last(finals: World, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["judge", "add", "Ada", "--challenge", finals.challenge]) == 0
    link = capsys.readouterr().out.strip().splitlines()[-1].split()[-1]
    assert link.startswith("http://") and "/judge/sign-in/raim_" in link
    with TestClient(make_app()) as client:
        signed = client.get(urlsplit(link).path, follow_redirects=False)
        assert signed.status_code == 303
    assert main(["judge", "add", "Ada", "--challenge", finals.challenge]) == 2
    assert "already exists" in capsys.readouterr().err


def test_finalists_and_campaign_open(finals: World, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["finalists", "show", finals.challenge, "final"]) == 0
    assert capsys.readouterr().out.strip().endswith("3 finalist(s), proposed")
    assert main(["finalists", "confirm", finals.challenge, "final",
                 "--team", finals.teams[0], "--team", finals.teams[1]]) == 0
    assert main(["campaign", "open", finals.challenge, "final", "--scale", "1-5",
                 "--criteria", "--repeats", "0.1", "--model", "mle"]) == 0
    out = capsys.readouterr().out
    assert "2 finalists, scale 1-5" in out and finals.teams[2] not in out
    method = next(line for line in out.splitlines() if line.startswith("method recorded: "))
    assert "model mle" in method and "judge_normalisation zscore" in method
    assert "normalisation minmax" in method and "bootstrap_samples 1000" in method
    assert main(["campaign", "open", finals.challenge, "final"]) == 2
    assert "already has an open campaign" in capsys.readouterr().err
    assert main(["campaign", "close", finals.challenge, "final"]) == 0


def test_campaign_open_unknown_phase(finals: World, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["campaign", "open", finals.challenge, "nope"]) == 2
    assert "no phase 'nope'" in capsys.readouterr().err


def test_judge_links_use_raim_base_url_without_a_request(finals: World,
                                                         monkeypatch: pytest.MonkeyPatch,
                                                         capsys: pytest.CaptureFixture[str]) -> None:
    from app.config import get_settings

    monkeypatch.setenv("RAIM_BASE_URL", "https://arena.example.org/raim/")
    get_settings.cache_clear()
    assert main(["judge", "add", "Ada", "--challenge", finals.challenge]) == 0
    link = capsys.readouterr().out.strip().splitlines()[-1].split()[-1]
    assert link.startswith("https://arena.example.org/raim/judge/sign-in/raim_")
    assert main(["judge", "link", "Ada", "--challenge", finals.challenge]) == 0
    renewed = capsys.readouterr().out.strip().splitlines()[-1].split()[-1]
    assert renewed.startswith("https://arena.example.org/raim/judge/sign-in/raim_")
    with TestClient(make_app()) as client:  # the first link no longer works, the new one does
        assert client.get(urlsplit(link).path.removeprefix("/raim"),
                          follow_redirects=False).status_code == 404
        assert client.get(urlsplit(renewed).path.removeprefix("/raim"),
                          follow_redirects=False).status_code == 303
    assert main(["judge", "revoke", "Ada", "--challenge", finals.challenge]) == 0
    assert "their ratings are kept" in capsys.readouterr().out
    assert main(["judge", "revoke", "Ada", "--challenge", finals.challenge]) == 2
    assert "already revoked" in capsys.readouterr().err


def test_campaign_reopen_and_no_second_campaign_over_published_results(
        finals: World, capsys: pytest.CaptureFixture[str]) -> None:
    from tests.app.judging.world import add_judges, rate_everything

    assert main(["campaign", "open", finals.challenge, "final", "--repeats", "0",
                 "--bootstrap", "20"]) == 0
    with TestClient(make_app()) as client:
        rate_everything(finals, client, next(iter(add_judges(finals, client, 1).values())))
    assert main(["campaign", "close", finals.challenge, "final"]) == 0
    assert "final results published" in capsys.readouterr().out
    assert main(["campaign", "open", finals.challenge, "final"]) == 2
    assert "already has published results" in capsys.readouterr().err
    assert main(["campaign", "reopen", finals.challenge, "final"]) == 0
    assert "ratings kept" in capsys.readouterr().out
