"""The team pages and the general pages in real headless Chromium at phone width (390x844):
nothing is laid out wider than the screen; error pages are the styled page with a way home.

With RAIM_SCREENSHOTS=DIR, the challenge, submit and submission pages (and a few more) are
also saved there as PNGs at 1280x800 and 390x844, to be looked at.
"""

import os
import re
from pathlib import Path

import httpx
import pytest

from app.accounts import create_team, create_user
from app.db import session_scope
from app.lookups import find_challenge
from tests.utils.arena import zip_folder
from tests.utils.browser import DESKTOP, PHONE, page_width

pytestmark = [pytest.mark.browser, pytest.mark.slow]

# A paired validation and an unpaired final, both open, the final without qualification.
YAML = """\
slug: {slug}
title: Restore Any Image Model (test)
description: A small challenge made of real photographs, restored by the teams and scored on the server.
formula: raim-2024
phases:
  - slug: validation
    title: Validation
    kind: paired
    inputs: validation/lq
    ground_truth: validation/gt
    start: 2024-02-01T00:00:00Z
    end: 2099-03-15T23:59:59Z
    max_submissions_per_day: 5
    max_submissions: 100
  - slug: final
    title: Final (judged)
    kind: unpaired
    inputs: final/lq
"""
PASSWORD = "a-long-layout-password"


@pytest.fixture
def bundle_yaml() -> str:
    return YAML


def _score(base: str, token: str, zip_path: Path, phase: str) -> int:
    """Upload as a script does and wait until the worker is done with it."""
    with zip_path.open("rb") as handle:
        answer = httpx.post(f"{base}/score", params={"wait": 280}, data={"phase": phase},
                            files={"file": (zip_path.name, handle, "application/zip")},
                            headers={"Authorization": f"Bearer {token}"}, timeout=300)
    assert answer.status_code == 200 and answer.json()["status"] == "scored", answer.text
    return int(answer.json()["id"])


def _sign_in(tab, base: str, email: str) -> None:  # type: ignore[no-untyped-def]
    tab.goto(f"{base}/sign-in")
    tab.fill("#email", email)
    tab.fill("#password", PASSWORD)
    tab.click("button:has-text('Sign in')")


def test_browser_team_pages_fit_a_phone_and_errors_are_pages(server, new_page, photos,
                                                             tmp_path):
    base = server.url
    with session_scope(immediate=True) as session:
        member = create_user(session, "lin@example.org", name="Lin Wei-Ting Alexandra",
                             password=PASSWORD)
        create_user(session, "sam@example.org", name="Sam", password=PASSWORD)
        _, token = create_team(session, find_challenge(session, "raim-e2e"),
                               "Team with a rather long name", member)
    results = zip_folder(photos.pred, tmp_path / "results.zip")
    paired = _score(base, token, results, "validation")
    judged = _score(base, token, results, "final")

    phone = new_page(PHONE)
    anonymous = [f"{base}/", f"{base}/challenges/raim-e2e", f"{base}/sign-in", f"{base}/sign-up",
                 f"{base}/challenges/raim-e2e/phases/validation/leaderboard"]
    for url in anonymous:
        phone.goto(url)
        assert page_width(phone) <= PHONE["width"], url

    _sign_in(phone, base, "lin@example.org")
    for status, url, title in ((404, "/nope", "Page not found"),
                               (422, "/submissions/abc", "That address is not valid")):
        answer = phone.goto(base + url)
        assert answer.status == status
        assert phone.inner_text("#error h1") == title
        assert phone.inner_text("#error .status-code").lower() == f"error {status}"
        assert phone.get_attribute("#error a.btn", "href") == "/"
        assert page_width(phone) <= PHONE["width"], url

    phone.goto(f"{base}/challenges/raim-e2e")
    phone.click("button:has-text('Create an invitation link')")
    link = phone.inner_text("#invitation-link")
    assert page_width(phone) <= PHONE["width"], "challenge page with a new invitation link"
    team_pages = {
        "challenge": f"{base}/challenges/raim-e2e",
        "submit": f"{base}/challenges/raim-e2e/phases/validation/submit",
        "submit-final": f"{base}/challenges/raim-e2e/phases/final/submit",
        "submission": f"{base}/submissions/{paired}",
        "submission-final": f"{base}/submissions/{judged}",
        "leaderboard": f"{base}/challenges/raim-e2e/phases/validation/leaderboard",
        "leaderboard-final": f"{base}/challenges/raim-e2e/phases/final/leaderboard",
        "account": f"{base}/account",
    }
    for name, url in team_pages.items():
        phone.goto(url)
        assert page_width(phone) <= PHONE["width"], name

    phone.goto(team_pages["submission-final"])  # what an unpaired submission really is
    assert phone.inner_text("#status") == "accepted"
    assert "Accepted for the judges." in phone.inner_text("#judged")
    assert phone.locator("#submitted-images li").all_inner_texts() == [
        "001.png", "002.png", "003.png"]

    joiner = new_page(PHONE)
    _sign_in(joiner, base, "sam@example.org")
    joiner.goto(link)
    assert joiner.inner_text("h1") == "Join team Team with a rather long name"
    assert page_width(joiner) <= PHONE["width"], "join page"

    shots = os.environ.get("RAIM_SCREENSHOTS")
    if shots:
        folder = Path(shots)
        folder.mkdir(parents=True, exist_ok=True)
        desktop = new_page(DESKTOP)
        _sign_in(desktop, base, "lin@example.org")
        for tab, size in ((desktop, "1280x800"), (phone, "390x844")):
            for name, url in team_pages.items():
                tab.goto(url)
                if name == "challenge":  # as a member sees it with a link to send
                    tab.click("button:has-text('Create an invitation link')")
                tab.screenshot(path=str(folder / f"{name}-{size}.png"), full_page=True)
            tab.goto(base + "/nope")
            tab.screenshot(path=str(folder / f"error-404-{size}.png"), full_page=True)
        joiner.screenshot(path=str(folder / "join-390x844.png"), full_page=True)
        assert re.match(r"http://127\.0\.0\.1:\d+/join/raim_", link)
