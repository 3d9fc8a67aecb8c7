"""End to end in real headless Chromium: sign up, create a team, drop a zip, watch it score.

The harness (``raim serve`` on a free port, Chromium, the CSP check) is tests/e2e/conftest.py.
"""

import base64
import re
from pathlib import Path

import pytest

from tests.utils.arena import zip_folder
from tests.utils.browser import SCORE_MS

pytestmark = [pytest.mark.browser, pytest.mark.slow]

# Records every text the progress line shows, so the test sees the real XHR upload events.
WATCH_PROGRESS = """() => {
  window.progressTexts = [];
  const line = document.getElementById('progress-text');
  new MutationObserver(() => window.progressTexts.push(line.textContent))
    .observe(line, {childList: true, characterData: true, subtree: true});
}"""

# Drops a file on the drop zone the way a browser does for a file dragged from the desktop.
DROP_FILE = """([selector, name, b64]) => {
  const bytes = Uint8Array.from(atob(b64), c => c.charCodeAt(0));
  const transfer = new DataTransfer();
  transfer.items.add(new File([bytes], name, {type: 'application/zip'}));
  const zone = document.querySelector(selector);
  for (const type of ['dragenter', 'dragover', 'drop']) {
    const init = {dataTransfer: transfer, bubbles: true, cancelable: true};
    zone.dispatchEvent(new DragEvent(type, init));
  }
}"""


def drop(page, path: Path) -> None:
    page.evaluate(DROP_FILE, ["#dropzone", path.name, base64.b64encode(path.read_bytes()).decode()])


def test_browser_sign_up_submit_watch_scored_and_see_leaderboard(server, page, photos, tmp_path):
    base = server.url
    good = zip_folder(photos.pred, tmp_path / "results.zip")
    bad = zip_folder(photos.pred, tmp_path / "broken.zip", skip=("002.png",))

    page.goto(base + "/")
    page.click("text=Restore Any Image Model (test)")
    page.click("text=create an account")
    page.fill("#name", "Ada Lovelace")
    page.fill("#email", "ada@example.org")
    page.fill("#password", "analytical-engine")
    page.click("button:has-text('Create account')")
    assert page.url == base + "/challenges/raim-e2e"

    page.fill("#team-name", "Engines")
    page.click("button:has-text('Create team')")
    assert re.match(r"raim_\S+", page.inner_text("#token-value"))

    page.click("#phase-validation >> text=Submit")
    page.wait_for_selector("#dropzone")

    drop(page, bad)
    page.click("#send")
    page.wait_for_selector("#result.error")
    assert "002.png" in page.inner_text("#result .problems")

    page.evaluate(WATCH_PROGRESS)
    drop(page, good)
    assert "results.zip" in page.inner_text("#chosen")
    page.click("#send")
    page.wait_for_selector("#result.info")
    progress = page.evaluate("window.progressTexts")
    assert any(re.search(r"[\d.]+ (bytes|KiB) of [\d.]+ KiB uploaded", text) for text in progress), progress
    assert page.get_attribute("#progress", "aria-valuenow") == "100"

    page.wait_for_selector("#result.ok, #result.error", timeout=SCORE_MS)
    outcome = page.inner_text("#result")
    assert re.search(r"Scored: -?\d+\.\d\d", outcome), (
        f"{outcome}\n{server.log.read_text()[-3000:]}")
    page.click("#result a")
    page.wait_for_selector("#images")
    assert page.locator("#images tbody tr").count() == 3
    assert page.locator("svg.plot rect.bar").count() == 3
    page.click("#images th:has-text('Score')")
    page.click("#images th:has-text('Score')")  # second click: best first
    scores = [float(t) for t in page.locator("#images tbody td:last-child").all_inner_texts()]
    assert scores == sorted(scores, reverse=True)

    page.click("text=Leaderboard")
    first = page.locator("#leaderboard tbody tr").first
    assert first.locator("td.rank").inner_text() == "1"
    assert "Engines" in first.inner_text()
