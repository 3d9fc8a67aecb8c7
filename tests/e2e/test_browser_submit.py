"""End to end in real headless Chromium: sign up, create a team, drop a zip, watch it score.

The service runs as users run it (``raim challenge load``, then ``raim serve``) in a
subprocess on a free loopback port, with SQLite and no broker, so the local worker
scores with the real metric models.
"""

import base64
import os
import re
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from metrics.samples import SampleSet, write_sample_set
from tests.utils.arena import zip_folder
from tests.utils.bundles import write_bundle

pytestmark = [pytest.mark.browser, pytest.mark.slow]

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]
REPO = Path(__file__).resolve().parents[2]
START_SECONDS = 90
SCORE_MS = 300_000


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def raim(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "app.cli", *args], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=300)


def wait_until_up(url: str, proc: subprocess.Popen, log: Path) -> None:
    deadline = time.monotonic() + START_SECONDS
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"raim serve exited with {proc.returncode}:\n{log.read_text()[-3000:]}")
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.5)
    pytest.fail(f"raim serve did not answer within {START_SECONDS} s:\n{log.read_text()[-3000:]}")


@dataclass(frozen=True)
class Server:
    url: str
    log: Path


@pytest.fixture
def photos(tmp_path: Path) -> SampleSet:
    """Three 128x128 real-photograph triples (NIQE needs more than 64x64 after the crop)."""
    return write_sample_set(tmp_path / "photos", count=3, size=128)


@pytest.fixture
def server(settings, weights_dir, photos, tmp_path) -> Iterator[Server]:
    """``raim serve`` with a loaded challenge ``raim-e2e``."""
    env = {k: v for k, v in os.environ.items()
           if k not in ("RAIM_BROKER_URL", "RAIM_DATABASE_URL")}
    env.update(RAIM_DATA_DIR=str(settings.data_dir), RAIM_WEIGHTS_DIR=str(weights_dir),
               RAIM_DEVICE="cpu", RAIM_SECRET_KEY="e2e-secret-key-not-for-production")
    bundle = write_bundle(tmp_path / "bundle", photos, slug="raim-e2e")
    loaded = raim("challenge", "load", str(bundle), env=env)
    assert loaded.returncode == 0, loaded.stderr
    port = free_port()
    log = tmp_path / "serve.log"
    with log.open("w") as out:
        proc = subprocess.Popen([sys.executable, "-m", "app.cli", "serve", "--host", "127.0.0.1",
                                 "--port", str(port)], cwd=REPO, env=env, stdout=out,
                                stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        wait_until_up(base + "/", proc, log)
        yield Server(base, log)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@pytest.fixture
def page():
    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} is not installed (apt-get install chromium)")
    playwright_api = pytest.importorskip("playwright.sync_api")
    with playwright_api.sync_playwright() as driver:
        browser = driver.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            tab = browser.new_page(viewport={"width": 1280, "height": 800})
            violations: list[str] = []  # whatever the Content-Security-Policy blocked
            tab.on("console", lambda message: violations.append(message.text)
                   if "Content Security Policy" in message.text else None)
            yield tab
            assert violations == []
        finally:
            browser.close()


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
    assert any(re.search(r"MB of [\d.]+ MB uploaded", text) for text in progress), progress
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
