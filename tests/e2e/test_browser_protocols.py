"""The best-k and pairwise judging pages in real headless Chromium: zoom stays in sync across the
views, flicking against the input, keyboard picks and choices saved at once (a reload loses
nothing), the next pair comes from the server, and the finished state."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from app.config import Settings
from tests.app.judging.world import (
    add_judges,
    build_world,
    close_final,
    make_app,
    open_campaign,
    submit_finals,
)
from tests.utils.browser import transforms
from tests.utils.processes import serve_in_thread

pytestmark = [pytest.mark.browser, pytest.mark.slow]


@pytest.fixture
def site(request: pytest.FixtureRequest, settings: Settings,
         tmp_path: Path) -> Iterator[tuple[str, str]]:
    """A live server with an open campaign (options from the test's parameter) over three
    finalists and two images; yields (base URL, judge token)."""
    world = build_world(tmp_path / "world", finalists=3, images=2, size=112)
    with TestClient(make_app()) as client:
        submit_finals(world, client)
        close_final()
        open_campaign(world, client, repeats=0, **request.param)
        token = next(iter(add_judges(world, client, 1).values()))
    with serve_in_thread(make_app()) as base:
        yield base, token


def open_page(browser, base: str, token: str, views: int):  # type: ignore[no-untyped-def]
    page = browser.new_page(viewport={"width": 1200, "height": 800})
    violations: list[str] = []  # whatever the Content-Security-Policy blocked
    page.on("console", lambda message: violations.append(message.text)
            if "Content Security Policy" in message.text else None)
    page.goto(f"{base}/judge/sign-in/{token}")
    assert page.url == f"{base}/judge"
    wait_views(page, views)
    return page, violations


def wait_views(page, views: int) -> None:  # type: ignore[no-untyped-def]
    page.wait_for_selector("body[data-ready='true']")
    page.wait_for_function(
        "(n) => document.querySelectorAll('.viewport img').length === n && "
        "document.querySelector('.viewport img').style.transform !== ''", arg=views)


def zoom_and_flick(page) -> None:  # type: ignore[no-untyped-def]
    """Wheel over one result: every view follows; Space flicks the selected result."""
    before = transforms(page)
    assert len(set(before)) == 1
    box = page.locator(".viewport").nth(2).bounding_box()
    page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    page.mouse.wheel(0, -300)
    page.wait_for_function(
        "(t) => document.querySelector('.viewport img').style.transform !== t", arg=before[0])
    zoomed = transforms(page)
    assert len(set(zoomed)) == 1 and zoomed[0] != before[0]
    input_src = page.get_attribute(".panel.input img", "src")
    page.keyboard.press("b")
    page.keyboard.press(" ")
    assert page.get_attribute(".panel.candidate.selected img", "src") == input_src
    page.keyboard.press(" ")
    assert page.get_attribute(".panel.candidate.selected img", "src") != input_src


@pytest.mark.parametrize("site", [{"protocol": "best-k", "k": 2, "band": [80, 90]}],
                         indirect=True)
def test_best_k_page_picks_by_keyboard_and_keeps_them(site, browser) -> None:  # type: ignore[no-untyped-def]
    base, token = site
    page, violations = open_page(browser, base, token, views=4)
    assert page.get_attribute("body", "data-protocol") == "best-k"
    assert "Pick the best 2" in page.inner_text("#protocolbar")
    assert "team-" not in page.content()
    zoom_and_flick(page)

    # 1 picks the selected result, Shift+letter any result; a third pick is refused
    page.keyboard.press("a")
    page.keyboard.press("1")
    page.keyboard.press("Shift+C")
    page.wait_for_selector("body[data-saved='true']")
    assert page.get_attribute("body", "data-picked") == "A,C"
    assert page.inner_text("#pickstate") == "2 of 2 picked \u2713"
    page.keyboard.press("Shift+B")
    assert page.get_attribute("body", "data-picked") == "A,C"
    assert "already picked" in page.inner_text("#savestate")
    # unpick and pick again with the mouse: saved each time
    page.locator(".panel.candidate[data-label='C'] button.pick").click()
    page.locator(".panel.candidate[data-label='B'] button.pick").click()
    page.wait_for_selector("body[data-saved='true']")
    assert page.get_attribute("body", "data-picked") == "A,B"
    page.reload()  # the page opens on the next image still to judge
    wait_views(page, 4)
    assert page.get_attribute("body", "data-trial") == "1"
    assert page.get_attribute("body", "data-picked") == ""
    assert page.text_content("#progress") == "1 / 2 rated"
    page.keyboard.press("[")
    assert page.get_attribute("body", "data-picked") == "A,B"
    first = page.request.get(f"{base}/api/judge/trials").json()["trials"][0]
    assert first["picked"] == ["A", "B"] and first["rated"] is True

    # the second image, then the finished state
    page.keyboard.press("]")
    page.keyboard.press("Shift+A")
    page.keyboard.press("Shift+B")
    page.wait_for_selector("#finished:not([hidden])")
    page.wait_for_selector("body[data-saved='true']")
    assert page.text_content("#progress") == "2 / 2 rated \u2713"
    assert violations == []
    page.close()


@pytest.mark.parametrize("site", [{"protocol": "pairwise", "ties": True, "comparisons": 3}],
                         indirect=True)
def test_pairwise_page_chooses_by_keyboard_and_gets_the_next_pair(site, browser) -> None:  # type: ignore[no-untyped-def]
    base, token = site
    page, violations = open_page(browser, base, token, views=3)
    assert page.get_attribute("body", "data-protocol") == "pairwise"
    labels = page.eval_on_selector_all(".panel .plabel", "ls => ls.map(l => l.textContent)")
    assert labels == ["input", "A (left)", "B (right)"]
    assert page.locator(".choices button").count() == 3  # ties allowed
    zoom_and_flick(page)

    # 1: left is better; the next pair comes from the server and is shown at once
    page.keyboard.press("1")
    page.wait_for_function("() => document.body.dataset.trial === '1'")
    wait_views(page, 3)
    page.keyboard.press("3")  # about the same
    page.wait_for_function("() => document.body.dataset.trial === '2'")
    page.wait_for_selector("body[data-saved='true']")
    page.reload()  # nothing lost: the page opens on the pair still to decide
    wait_views(page, 3)
    assert page.get_attribute("body", "data-trial") == "2"
    assert page.text_content("#progress") == "2 / 3 rated"
    page.locator(".choices button[data-choice='right']").click()
    page.wait_for_selector("#finished:not([hidden])")
    assert "compared all 3 pairs" in page.inner_text("#finished")
    page.wait_for_selector("body[data-saved='true']")
    pairs = page.request.get(f"{base}/api/judge/trials").json()["trials"]
    assert [p["choice"] for p in pairs] == ["left", "tie", "right"]
    assert violations == []
    page.close()
