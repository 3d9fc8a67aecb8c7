"""Driving headless Debian Chromium in tests: where it is, screen sizes, and keyboard helpers.

Page predicates are functions passed to ``page.evaluate`` (never strings: the pages' CSP
forbids eval, and Playwright's string predicates use it).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]
SCORE_MS = 300_000  # the local worker scores with the real networks on the CPU
DESKTOP = {"width": 1280, "height": 800}
PHONE = {"width": 390, "height": 844}

_FOCUSED = "(selector) => !!document.activeElement && document.activeElement.matches(selector)"
_WIDTH = "() => document.documentElement.scrollWidth"


def focused(page: Any, selector: str) -> bool:
    """Whether the element with the keyboard focus matches ``selector``."""
    return bool(page.evaluate(_FOCUSED, selector))


def tab_to(page: Any, selector: str, *, limit: int = 80) -> None:
    """Press Tab (only the keyboard) until the focus is on ``selector``; fail after ``limit``."""
    for _ in range(limit):
        page.keyboard.press("Tab")
        if focused(page, selector):
            return
    where = page.evaluate("() => document.activeElement && document.activeElement.outerHTML")
    raise AssertionError(f"Tab never reached {selector} in {limit} presses (focus on {where})")


def page_width(page: Any) -> int:
    """How wide the document is laid out (more than the viewport: it scrolls sideways)."""
    return int(page.evaluate(_WIDTH))


def transforms(page: Any) -> list[str]:
    """The CSS transforms of the judge viewer's images (zoom and pan stay in step)."""
    return page.eval_on_selector_all(".viewport img", "imgs => imgs.map(i => i.style.transform)")
