"""The rating page in real headless Chromium: zoom and pan stay in sync across every view,
keyboard scoring saves at once, and a reload in the middle loses no rating."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from app.config import Settings
from tests.app.judging.world import (
    World,
    add_judges,
    build_world,
    close_final,
    make_app,
    open_campaign,
    submit_finals,
)
from tests.utils.browser import transforms
from tests.utils.processes import serve_in_thread

pytestmark = pytest.mark.browser


@pytest.fixture
def rating_site(settings: Settings, tmp_path: Path) -> Iterator[tuple[str, str, World]]:
    """A live server with an open campaign over 3 finalists; yields (base URL, judge token)."""
    world = build_world(tmp_path / "world", finalists=3, images=2, size=112)
    app = make_app()
    with TestClient(app) as client:
        submit_finals(world, client)
        close_final()
        open_campaign(world, client, repeats=0)
        token = next(iter(add_judges(world, client, 1).values()))
    with serve_in_thread(make_app()) as base:
        yield base, token, world


def scores(page) -> dict[str, str]:  # type: ignore[no-untyped-def]
    return page.eval_on_selector_all(
        ".panel.candidate",
        "ps => Object.fromEntries(ps.map(p => [p.dataset.label, p.dataset.score]))")


def wait_ready(page) -> None:  # type: ignore[no-untyped-def]
    page.wait_for_selector("body[data-ready='true']")
    # Predicates are functions, never strings: the page's CSP forbids eval.
    page.wait_for_function("() => document.querySelectorAll('.viewport img').length === 4 && "
                           "document.querySelector('.viewport img').style.transform !== ''")


def test_rating_page_zoom_sync_keyboard_and_reload(rating_site, browser) -> None:  # type: ignore[no-untyped-def]
    base, token, _ = rating_site
    page = browser.new_page(viewport={"width": 1200, "height": 800})
    violations: list[str] = []  # whatever the Content-Security-Policy blocked
    page.on("console", lambda message: violations.append(message.text)
            if "Content Security Policy" in message.text else None)
    page.goto(f"{base}/judge/sign-in/{token}")
    assert page.url == f"{base}/judge"
    wait_ready(page)

    # zoom with the wheel over one view: every view follows
    before = transforms(page)
    assert len(set(before)) == 1
    box = page.locator(".viewport").nth(2).bounding_box()
    page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    page.mouse.wheel(0, -300)
    page.wait_for_function(
        f"() => document.querySelector('.viewport img').style.transform !== {before[0]!r}")
    zoomed = transforms(page)
    assert len(set(zoomed)) == 1 and zoomed[0] != before[0]
    # pan by dragging another view: every view follows
    box = page.locator(".viewport").nth(1).bounding_box()
    page.mouse.move(box["x"] + 40, box["y"] + 40)
    page.mouse.down()
    page.mouse.move(box["x"] + 90, box["y"] + 70, steps=5)
    page.mouse.up()
    panned = transforms(page)
    assert len(set(panned)) == 1 and panned[0] != zoomed[0]
    # 1:1 pixels
    page.keyboard.press(".")
    assert float(page.get_attribute("body", "data-scale")) == pytest.approx(1.0, abs=1e-3)

    # flick between the selected result and the input
    input_src = page.get_attribute(".panel.input img", "src")
    page.keyboard.press("b")
    assert page.get_attribute("body", "data-selected") == "B"
    page.keyboard.press(" ")
    assert page.get_attribute(".panel.candidate.selected img", "src") == input_src
    page.keyboard.press(" ")
    assert page.get_attribute(".panel.candidate.selected img", "src") != input_src

    # keyboard scoring: B=7 then (selection moves on) C=4, both saved at once
    page.keyboard.press("7")
    page.keyboard.press("4")
    page.wait_for_selector("body[data-saved='true']")
    assert scores(page) == {"A": "", "B": "7", "C": "4"}
    page.reload()
    wait_ready(page)
    assert scores(page) == {"A": "", "B": "7", "C": "4"}

    # score A and reload at once, without waiting for the answer: nothing is lost
    page.keyboard.press("a")
    page.keyboard.press("9")
    page.reload()
    wait_ready(page)
    page.wait_for_selector("body[data-saved='true']")
    if page.get_attribute("body", "data-trial") != "0":  # the first image is now fully rated
        page.keyboard.press("[")
    assert scores(page) == {"A": "9", "B": "7", "C": "4"}
    assert page.text_content("#progress") == "1 / 2 rated"
    assert violations == []
    page.close()


def test_rating_page_scores_reach_the_server(rating_site, browser) -> None:  # type: ignore[no-untyped-def]
    base, token, _ = rating_site
    page = browser.new_page()
    page.goto(f"{base}/judge/sign-in/{token}")
    wait_ready(page)
    page.keyboard.press("5")
    page.wait_for_selector("body[data-saved='true']")
    answer = page.request.get(f"{base}/api/judge/trials")
    first = answer.json()["trials"][0]
    assert first["candidates"][0]["score"] == 5
    page.close()
