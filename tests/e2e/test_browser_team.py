"""A team's journey in real headless Chromium: one person signs up and creates a team, a second
joins it through an invitation link, submits, reads the results and finds the team on the
leaderboard; and the same upload made with the keyboard alone."""

import re

import pytest

from app.accounts import create_team, create_user
from app.db import session_scope
from app.lookups import find_challenge
from tests.utils.arena import zip_folder
from tests.utils.browser import SCORE_MS, focused, tab_to

pytestmark = [pytest.mark.browser, pytest.mark.slow]
CHALLENGE = "Restore Any Image Model (test)"


def sign_up(tab, name: str, email: str) -> None:  # type: ignore[no-untyped-def]
    tab.fill("#name", name)
    tab.fill("#email", email)
    tab.fill("#password", "analytical-engine")
    tab.click("button:has-text('Create account')")


def test_browser_team_second_member_joins_submits_and_finds_the_team(server, new_page, photos,
                                                                      tmp_path):
    base = server.url
    results = zip_folder(photos.pred, tmp_path / "results.zip")

    ada = new_page()
    ada.goto(base + "/")
    ada.click(f"text={CHALLENGE}")
    ada.click("text=create an account")
    sign_up(ada, "Ada Lovelace", "ada@example.org")
    ada.fill("#team-name", "Engines")
    ada.click("button:has-text('Create team')")
    assert ada.inner_text("#members") == "Ada Lovelace (you)"
    ada.click("button:has-text('Create an invitation link')")
    link = ada.inner_text("#invitation-link")
    assert re.fullmatch(re.escape(base) + r"/join/raim_[\w-]{40,}", link), link
    assert "shown only this once" in ada.inner_text("#new-invitation")

    grace = new_page()
    grace.goto(link)  # not signed in yet: sign in or sign up, then back to the invitation
    assert grace.url.startswith(base + "/sign-in?next=/join/raim_")
    grace.click("text=Create an account")
    sign_up(grace, "Grace Hopper", "grace@example.org")
    assert grace.url == link
    assert grace.inner_text("h1") == "Join team Engines"
    assert "Members now: Ada Lovelace" in grace.inner_text("#join")
    grace.click("button:has-text('Join Engines')")
    assert grace.url == base + "/challenges/raim-e2e#team"
    assert "You joined team “Engines”" in grace.inner_text("main")
    assert grace.inner_text("#members").splitlines() == ["Ada Lovelace", "Grace Hopper (you)"]

    grace.click("#phase-validation >> text=Submit")
    assert "5 submissions left today" in grace.inner_text("#quota")
    grace.set_input_files("#file", str(results))
    assert "results.zip" in grace.inner_text("#chosen")
    grace.click("#send")
    grace.wait_for_selector("#result.ok, #result.error", timeout=SCORE_MS)
    outcome = grace.inner_text("#result")
    assert re.search(r"Scored: -?\d+\.\d\d", outcome), f"{outcome}\n{server.log.read_text()[-3000:]}"
    assert grace.is_disabled("#send")  # the same file is not sent twice by accident
    assert "To submit again, choose a file" in grace.inner_text("#chosen")
    assert grace.inner_text("#quota").startswith("4 submissions left today")

    grace.click("#result a")
    grace.wait_for_selector("#images")
    assert "Team Engines" in grace.inner_text(".pagehead")
    assert grace.locator("#images tbody tr").count() == 3
    grace.click("text=Leaderboard")
    first = grace.locator("#leaderboard tbody tr").first
    assert first.locator("td.rank").inner_text() == "1" and "Engines" in first.inner_text()

    ada.goto(base + "/challenges/raim-e2e")  # the team's submissions are Ada's too
    assert "scored" in ada.inner_text("#recent-submissions")
    assert ada.inner_text("#members").splitlines() == ["Ada Lovelace (you)", "Grace Hopper"]


def test_browser_keyboard_only_sign_in_upload_and_results(server, new_page, photos, tmp_path):
    """Only key presses move and act (the file chooser's dialog is answered by the test)."""
    results = zip_folder(photos.pred, tmp_path / "results.zip")
    with session_scope(immediate=True) as session:
        kay = create_user(session, "kay@example.org", name="Kay", password="keyboard-only-please")
        create_team(session, find_challenge(session, "raim-e2e"), "Keys", kay)

    tab = new_page()
    tab.goto(server.url + "/sign-in?next=/challenges/raim-e2e")
    assert focused(tab, "#email")  # autofocus
    tab.keyboard.type("kay@example.org")
    tab.keyboard.press("Tab")
    tab.keyboard.type("keyboard-only-please")
    tab.keyboard.press("Enter")
    tab.wait_for_url(server.url + "/challenges/raim-e2e")

    tab_to(tab, "#phase-validation a.btn[href$='/submit']")
    tab.keyboard.press("Enter")
    tab.wait_for_selector("#uploader")

    tab_to(tab, "#file")
    outline = tab.evaluate("() => getComputedStyle(document.getElementById('dropzone')).outlineStyle")
    assert outline == "solid"  # the focus is visible on the drop zone around the picker
    with tab.expect_file_chooser() as chooser:
        tab.keyboard.press("Space")
    chooser.value.set_files(str(results))
    assert "results.zip" in tab.inner_text("#chosen")

    tab_to(tab, "#send")
    assert tab.evaluate("() => getComputedStyle(document.activeElement).outlineStyle") == "solid"
    tab.keyboard.press("Enter")
    tab.wait_for_selector("#result.ok, #result.error", timeout=SCORE_MS)
    assert "Scored:" in tab.inner_text("#result"), server.log.read_text()[-3000:]
    assert focused(tab, "#result a")  # the way on has the focus once the button is spent
    tab.keyboard.press("Enter")
    tab.wait_for_selector("#images")
    assert tab.locator("#images tbody tr").count() == 3
    assert "scored" in tab.inner_text("#status")
