"""The browser tests' harness: ``raim serve`` as users run it, and headless Debian Chromium.

The service runs as users run it (``raim challenge load``, then ``raim serve``) in a
subprocess on a free loopback port, with SQLite and no broker, so the local worker scores
with the real metric models. The test process shares its RAIM_DATA_DIR (the ``settings``
fixture), so it can read or prepare rows the way ``raim`` commands do, in sessions that take
the write lock before they read (``session_scope(immediate=True)``), as ``raim`` commands do:
the service commits all the time. Every tab records what
the Content-Security-Policy blocked, and a test fails if anything was.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from metrics.samples import SampleSet, write_sample_set
from tests.utils.browser import CHROMIUM, CHROMIUM_ARGS, DESKTOP
from tests.utils.bundles import write_bundle
from tests.utils.processes import free_port

REPO = Path(__file__).resolve().parents[2]
START_SECONDS = 90


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
    env: dict[str, str]


@pytest.fixture
def photos(tmp_path: Path) -> SampleSet:
    """Three 128x128 real-photograph triples (NIQE needs more than 64x64 after the crop)."""
    return write_sample_set(tmp_path / "photos", count=3, size=128)


@pytest.fixture
def bundle_yaml() -> str | None:
    """The challenge.yaml of the served bundle (None: tests/utils/bundles' default); a test
    module overrides this fixture to serve another challenge."""
    return None


@pytest.fixture
def serve_env() -> dict[str, str]:
    """More RAIM_ settings for the served process; a test module overrides this fixture."""
    return {}


@pytest.fixture
def server(settings, weights_dir, photos, tmp_path, bundle_yaml, serve_env) -> Iterator[Server]:
    """``raim serve`` with a loaded challenge ``raim-e2e``."""
    env = {k: v for k, v in os.environ.items()
           if k not in ("RAIM_BROKER_URL", "RAIM_DATABASE_URL")}
    env.update(RAIM_DATA_DIR=str(settings.data_dir), RAIM_WEIGHTS_DIR=str(weights_dir),
               RAIM_DEVICE="cpu", RAIM_SECRET_KEY="e2e-secret-key-not-for-production",
               **serve_env)
    bundle = write_bundle(tmp_path / "bundle", photos, slug="raim-e2e", yaml_text=bundle_yaml)
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
        yield Server(base, log, env)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@pytest.fixture
def browser() -> Iterator[object]:
    """Headless Chromium itself, for tests that open their own pages (the judge pages)."""
    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} is not installed (apt-get install chromium)")
    playwright_api = pytest.importorskip("playwright.sync_api")
    with playwright_api.sync_playwright() as driver:
        chromium = driver.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture
def new_page() -> Iterator[Callable[..., object]]:
    """Opens tabs in headless Chromium, each in a browser context of its own (its own
    cookies: one person each); fails the test if the CSP blocked anything in any of them."""
    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} is not installed (apt-get install chromium)")
    playwright_api = pytest.importorskip("playwright.sync_api")
    violations: list[str] = []  # whatever the Content-Security-Policy blocked
    with playwright_api.sync_playwright() as driver:
        browser = driver.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)

        def open_tab(viewport: dict[str, int] | None = None):  # type: ignore[no-untyped-def]
            tab = browser.new_page(viewport=viewport or DESKTOP)
            tab.on("console", lambda message: violations.append(message.text)
                   if "Content Security Policy" in message.text else None)
            return tab

        try:
            yield open_tab
            assert violations == []
        finally:
            browser.close()


@pytest.fixture
def page(new_page):  # type: ignore[no-untyped-def]
    """One tab at 1280x800."""
    return new_page()
