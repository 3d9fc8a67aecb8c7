"""A judged final from start to end in real headless Chromium, against ``raim serve`` on a random
port: the organiser ends the final phase, confirms the finalists (one team changed, then the
proposal as it is), opens a campaign, invites judges and hands out the link the page shows;
the judge signs in through it, reads the guide, rates every image and sees the finished state;
the organiser closes (after a confirmation that warns about an idle judge) and so publishes;
an anonymous visitor reaches the final ranking from the home page.

Every step asserts on what the page shows, and no page may trip the Content-Security-Policy.
With ``RAIM_SCREENSHOTS=DIR`` the organiser's challenge page, the judging desk, the finished
judge page and the final ranking are saved at 1280x800 and 390x844 (full pages).
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from tests.app.judging.world import (
    World,
    add_judges,
    build_world,
    make_app,
    rate_everything,
    submit_finals,
)
from tests.utils.pages import PASSWORD, make_organiser_password
from tests.utils.processes import REPO, free_port, wait_for_http

pytestmark = [pytest.mark.browser, pytest.mark.slow]

WIDE = {"width": 1280, "height": 800}
PHONE = {"width": 390, "height": 844}
ORGANISER = "organiser@example.org"
JUDGE = "Grace Hopper"
IDLE_JUDGE = "Idle Judge"


@pytest.fixture
def site(settings, weights_dir, tmp_path: Path) -> Iterator[tuple[str, World]]:  # type: ignore[no-untyped-def]
    """Three finalists (and an outsider) have uploaded to the final, which is still open; the
    organiser has a password; ``raim serve`` runs on a free port (RAIM_BASE_URL left at its
    default, so only the request's own address can make the judges' links right)."""
    world = build_world(tmp_path / "world", finalists=3, images=2,
                        input_sizes={"002": (160, 128)})
    with TestClient(make_app()) as client:
        submit_finals(world, client)
    make_organiser_password(ORGANISER)
    env = {k: v for k, v in os.environ.items()
           if k not in ("RAIM_BROKER_URL", "RAIM_DATABASE_URL", "RAIM_BASE_URL")}
    env.update(RAIM_DATA_DIR=str(settings.data_dir), RAIM_WEIGHTS_DIR=str(weights_dir),
               RAIM_DEVICE="cpu", RAIM_SECRET_KEY="e2e-secret-key-not-for-production")
    port = free_port()
    log = tmp_path / "serve.log"
    with log.open("w") as out:
        proc = subprocess.Popen([sys.executable, "-m", "app.cli", "serve", "--host", "127.0.0.1",
                                 "--port", str(port)], cwd=REPO, env=env, stdout=out,
                                stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        wait_for_http(base + "/", proc, log)
        yield base, world
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


class Person:
    """One browser context (its own cookies) and its tab; collects CSP violations."""

    def __init__(self, browser, viewport: dict | None = None) -> None:  # type: ignore[no-untyped-def]
        self.context = browser.new_context(viewport=viewport or WIDE)
        self.page = self.context.new_page()
        self.violations: list[str] = []
        self.page.on("console", lambda message: self.violations.append(message.text)
                     if "Content Security Policy" in message.text else None)

    def flash(self) -> str:
        return " ".join(self.page.locator(".flash").all_inner_texts())


def shoot(page, name: str, viewport: dict) -> None:  # type: ignore[no-untyped-def]
    """Save a full-page screenshot of ``page`` as it looks at ``viewport``, if asked to."""
    folder = os.environ.get("RAIM_SCREENSHOTS")
    if not folder:
        return
    Path(folder).mkdir(parents=True, exist_ok=True)
    page.set_viewport_size(viewport)
    page.wait_for_timeout(150)  # the layout settles (the rating page refits on resize)
    page.screenshot(path=str(Path(folder) / f"{name}-{viewport['width']}x{viewport['height']}.png"),
                    full_page=True)
    page.set_viewport_size(WIDE)


def shoot_both(page, name: str) -> None:  # type: ignore[no-untyped-def]
    for viewport in (WIDE, PHONE):
        shoot(page, name, viewport)


def test_a_judged_final_from_finalists_to_the_published_ranking(site, browser) -> None:  # type: ignore[no-untyped-def]
    base, world = site
    organiser = Person(browser)
    link = organiser_prepares_the_campaign(organiser, base, world)
    judge = Person(browser)
    judge_rates_everything(judge, base, link)
    two_more_judges_rate_through_the_api(world)
    organiser_closes_and_publishes(organiser, base, world)
    visitor = Person(browser)
    visitor_reads_the_final_ranking(visitor, base, world)
    for person in (organiser, judge, visitor):
        assert person.violations == []


def organiser_prepares_the_campaign(organiser: Person, base: str, world: World) -> str:
    page = organiser.page
    page.goto(f"{base}/sign-in?next=/organiser")
    page.fill("#email", ORGANISER)
    page.fill("#password", PASSWORD)
    page.click("button:has-text('Sign in')")
    assert page.url == f"{base}/organiser"
    page.click("text=Manage")
    assert page.url == f"{base}/organiser/challenges/{world.challenge}"
    assert page.locator("a.btn:has-text('Judging')").first.is_visible()

    # the final phase ends: its dates are edited in the browser
    page.click("#phase-final >> text=Dates and visibility")
    page.fill("#end", "2024-04-01T00:00")
    page.click("button:has-text('Save')")
    assert "“Final” saved: end changed" in organiser.flash()
    assert "2024-04-01 00:00 UTC" in page.inner_text("#phase-final")
    shoot_both(page, "organiser-challenge")

    page.click(".pagehead >> text=Judging")
    assert page.url == f"{base}/organiser/challenges/{world.challenge}/judging"
    finalists = page.locator("#phase-final form.finalists")
    assert finalists.locator("input[type=checkbox]:checked").count() == 3

    # one team changed: untick the third, admit the outsider by name
    dropped, outsider = world.teams[2], world.outsider
    finalists.locator(f"input[value='{dropped}']").uncheck()
    finalists.locator("input[name=team][type=text]").fill(outsider)
    finalists.locator("button:has-text('Confirm these finalists')").click()
    assert (f"3 finalist(s) confirmed for “Final”: {world.teams[0]}, {world.teams[1]}, "
            f"{outsider}.") in organiser.flash()
    finalists = page.locator("#phase-final form.finalists")
    assert finalists.locator(f"input[value='{outsider}']").is_checked()
    assert not finalists.locator(f"input[value='{dropped}']").is_checked()

    # the proposal as it is
    finalists.locator("button:has-text('Confirm the proposal as it is')").click()
    assert f"3 finalist(s) confirmed for “Final”: {', '.join(world.teams)}." in organiser.flash()
    assert page.locator(f"#phase-final input[value='{outsider}']").count() == 0
    assert page.locator("#phase-final form.finalists input:checked").count() == 3

    # a campaign with the four criteria and no hidden repeats
    page.check("#phase-final input[name=criteria]")
    page.fill("#repeats-final", "0")
    page.click("#phase-final >> button:has-text('Open campaign')")
    assert "Rating campaign opened on “Final”" in organiser.flash()
    assert "campaign open" in page.inner_text("#phase-final h2")

    # invite two judges; the link shown is on this server's own address
    page.fill("#judge-name", IDLE_JUDGE)
    page.click("button:has-text('Invite judge')")
    page.fill("#judge-name", JUDGE)
    page.click("button:has-text('Invite judge')")
    assert f"Judge “{JUDGE}” added" in page.inner_text("#new-link")
    link = page.inner_text("#judge-link").strip()
    assert re.fullmatch(re.escape(base) + r"/judge/sign-in/raim_\S+", link), link
    assert page.locator("#judges tbody tr").count() == 2
    shoot_both(page, "organiser-judging")
    return link


def judge_rates_everything(judge: Person, base: str, link: str) -> None:
    page = judge.page
    page.goto(link)
    assert page.url == f"{base}/judge"
    page.wait_for_selector("body[data-ready='true']")
    # the guide: what to rate, the scale, and each criterion with its good end
    brief = page.locator("#brief")
    assert brief.is_visible() and "overall quality as a restoration" in brief.inner_text()
    assert "10 (excellent)" in brief.inner_text()
    guide = page.locator(".jbrief-criteria")
    assert guide.is_visible()
    for title in ("Texture and detail", "Noise", "Artefacts", "Fidelity"):
        assert title in guide.inner_text()
    assert "10: faithful to the input" in guide.inner_text()
    # full criterion labels; a criterion may be chosen before the overall score
    panel_a = page.locator(".panel.candidate[data-label='A']")
    assert panel_a.locator(".criterion label").all_inner_texts() == [
        "Texture and detail", "Noise", "Artefacts", "Fidelity"]
    assert panel_a.locator("select").first.is_enabled()
    page.select_option("#criterion-A-texture", "6")
    assert "saved with the overall score" in panel_a.locator(".chint").inner_text()
    page.click("#brief >> text=Got it")
    assert not brief.is_visible()

    # zoom in on the first image; the next one has another size: fitted and centred again
    page.wait_for_function("() => document.querySelector('.viewport img').style.transform !== ''")
    fitted = page.get_attribute("body", "data-scale")
    page.keyboard.press("+")
    page.keyboard.press("+")
    assert page.get_attribute("body", "data-scale") != fitted

    page.keyboard.press("a")
    for key in ("8", "6", "4"):  # A, B, C: the selection moves on by itself
        page.keyboard.press(key)
    page.wait_for_selector("body[data-saved='true']")
    assert page.inner_text("#progress") == "1 / 2 rated"
    page.keyboard.press("Enter")
    page.wait_for_function("() => document.body.dataset.trial === '1'")
    page.wait_for_function("() => document.querySelector('.panel.input img').complete")
    second = page.get_attribute("body", "data-scale")
    transform = page.eval_on_selector(".viewport img", "img => img.style.transform")
    page.keyboard.press(",")  # fitting again changes nothing: it already is
    assert page.get_attribute("body", "data-scale") == second
    assert page.eval_on_selector(".viewport img", "img => img.style.transform") == transform

    for key in ("7", "5", "3"):
        page.keyboard.press(key)
    page.wait_for_selector("#finished:not([hidden])")
    assert "All images rated: thank you!" in page.inner_text("#finished")
    assert "You have rated all 2 images." in page.inner_text("#finished")
    page.wait_for_selector("body[data-saved='true']")
    assert page.inner_text("#progress") == "2 / 2 rated \u2713"
    shoot_both(page, "judge-finished")
    # what was given reached the server, the criterion chosen first included
    trials = page.request.get(f"{base}/api/judge/trials").json()["trials"]
    assert trials[0]["candidates"][0]["criteria"] == {"texture": 6}
    assert sorted(c["score"] for t in trials for c in t["candidates"]) == [3, 4, 5, 6, 7, 8]
    # reviewing leaves the finished state; the page is the judge's way back
    page.click("text=Review my scores")
    assert page.locator("#finished").is_hidden()
    assert page.inner_text("#position") == "Image 1 of 2"
    assert page.get_attribute("a.brand", "href") == "/judge"


def two_more_judges_rate_through_the_api(world: World) -> None:
    """A panel, so that the published numbers look like a real campaign's."""
    with TestClient(make_app()) as client:
        for j, token in enumerate(add_judges(world, client, 2).values()):
            rate_everything(world, client, token, judge=j)


def organiser_closes_and_publishes(organiser: Person, base: str, world: World) -> None:
    page = organiser.page
    page.goto(f"{base}/organiser/challenges/{world.challenge}/judging")
    progress = page.inner_text("#phase-final .progress-table")
    assert re.search(rf"{JUDGE}\s+2 / 2", progress) and "done" in progress
    assert re.search(rf"{IDLE_JUDGE}\s+0 / 2", progress) and "has not opened the page" in progress

    page.click("text=Close the campaign…")
    assert page.url.endswith("/phases/final/campaign/close")
    assert "1 judge(s) have not rated anything: Idle Judge." in page.inner_text(".flash.error")
    assert "published" in page.inner_text(".card.confirm")
    shoot_both(page, "organiser-close-confirm")
    page.click("button:has-text('Close and publish')")
    assert "Campaign closed; the final ranking is published." in organiser.flash()
    section = page.inner_text("#phase-final")
    assert "campaign closed" in section and "results published" in section
    assert re.search(rf"{JUDGE}\s+2 / 2", section)  # the progress stays after closing
    assert page.locator("text=Reopen the campaign").is_visible()

    # what happened is in the audit log, and the teams are listed with their members
    page.goto(f"{base}/organiser/audit?target={world.challenge}")
    actions = page.locator("#audit tbody tr td:nth-child(3)").all_inner_texts()
    assert actions[0] == "campaign.close" and "qualification.confirm" in actions
    assert "judge.add" in actions and "phase.update" in actions
    shoot_both(page, "organiser-audit")
    page.goto(f"{base}/organiser/challenges/{world.challenge}/teams")
    assert page.locator("section.team").count() == 4
    assert "finalist of final" in page.inner_text(f"section.team:has-text('{world.teams[0]}')")
    shoot_both(page, "organiser-teams")


def visitor_reads_the_final_ranking(visitor: Person, base: str, world: World) -> None:
    page = visitor.page
    page.goto(base + "/")
    page.click("text=RAIM judged")
    page.click("#phase-final >> text=Final ranking")
    assert page.url == f"{base}/challenges/{world.challenge}/final"
    assert page.inner_text("h1") == "Final ranking"
    rows = page.locator("#final tbody tr")
    assert rows.count() == 3
    assert sorted(rows.locator("td:nth-child(2)").all_inner_texts()) == sorted(world.teams)
    assert [t.strip() for t in rows.locator("td.rank").all_inner_texts()] == ["1", "2", "3"]
    header = page.text_content("#final thead")
    assert "MOS (1–10) ± 95% CI" in header and "Rank range" in header
    mos = [float(t.split("±")[0].split()[-1]) for t in rows.locator("td.mos").all_inner_texts()]
    assert all(1 <= m <= 10 for m in mos)
    text = page.inner_text("main")
    assert JUDGE not in text and IDLE_JUDGE not in text and "provisional" not in text.lower()
    shoot_both(page, "final-ranking")
