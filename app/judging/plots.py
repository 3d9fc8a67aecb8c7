"""Inline SVG charts of the final results: MOS with 95% intervals per team, per-image spread."""

from __future__ import annotations

import math
from html import escape

from markupsafe import Markup

from app.web.plot import nice_ticks

WIDTH = 900
LEFT, RIGHT, TOP, BOTTOM = 170, 20, 16, 34
ROW = 26
CI = 'class="ci" stroke="#2454c5" stroke-width="2"'
DOT = 'class="dot" fill="#1a3f96"'
SPREAD = 'class="spread" stroke="#c9d2e6" stroke-width="6"'
TICK = 'class="tick" stroke="#2454c5" stroke-width="2"'


def _frame(rows: int, low: float, high: float, label: str) -> tuple[list[str], object, float]:
    ticks = nice_ticks(low, high)
    lo, hi = ticks[0], ticks[-1]
    height = TOP + BOTTOM + ROW * rows
    plot_w = WIDTH - LEFT - RIGHT

    def x(value: float) -> float:
        return LEFT + plot_w * (value - lo) / ((hi - lo) or 1.0)

    parts = [f'<svg class="plot" viewBox="0 0 {WIDTH} {height}" role="img" '
             f'aria-label="{escape(label)}" xmlns="http://www.w3.org/2000/svg">']
    for tick in ticks:
        parts.append(f'<line class="grid" x1="{x(tick):.1f}" x2="{x(tick):.1f}" y1="{TOP}" '
                     f'y2="{height - BOTTOM}"/><text x="{x(tick):.1f}" y="{height - BOTTOM + 16}" '
                     f'text-anchor="middle">{tick:g}</text>')
    return parts, x, height


def mos_plot(teams: list[dict]) -> Markup:
    """One row per team (best first): a dot at its score, a bar over its 95% interval."""
    if not teams:
        return Markup("")
    lows = [t["low"] if t["low"] is not None else t["score"] for t in teams]
    highs = [t["high"] if t["high"] is not None else t["score"] for t in teams]
    parts, x, _ = _frame(len(teams), min(lows), max(highs), "Subjective score per team, 95% CI")
    for i, (team, low, high) in enumerate(zip(teams, lows, highs, strict=True)):
        y = TOP + ROW * i + ROW / 2
        name = escape(team["team"])
        parts.append(f'<text x="{LEFT - 8}" y="{y + 4:.1f}" text-anchor="end">{name}</text>'
                     f'<line {CI} x1="{x(low):.1f}" x2="{x(high):.1f}" y1="{y:.1f}" '
                     f'y2="{y:.1f}"/><circle {DOT} cx="{x(team["score"]):.1f}" cy="{y:.1f}" '
                     f'r="4"><title>{name}: {team["score"]:.3f} [{low:.3f}, {high:.3f}]</title>'
                     f'</circle>')
    parts.append("</svg>")
    return Markup("".join(parts))


def spread_plot(teams: list[str], images: list[dict]) -> Markup:
    """One row per team: a tick per image at that image's score, and the spread between them."""
    values = [s["score"] for s in images if math.isfinite(s["score"])]
    if not teams or not values:
        return Markup("")
    parts, x, _ = _frame(len(teams), min(values), max(values), "Per-image scores per team")
    for i, team in enumerate(teams):
        y = TOP + ROW * i + ROW / 2
        mine = [s for s in images if s["team"] == team and math.isfinite(s["score"])]
        parts.append(f'<text x="{LEFT - 8}" y="{y + 4:.1f}" text-anchor="end">'
                     f'{escape(team)}</text>')
        if mine:
            low, high = min(s["score"] for s in mine), max(s["score"] for s in mine)
            parts.append(f'<line {SPREAD} x1="{x(low):.1f}" x2="{x(high):.1f}" '
                         f'y1="{y:.1f}" y2="{y:.1f}"/>')
        for s in mine:
            parts.append(f'<line {TICK} x1="{x(s["score"]):.1f}" x2="{x(s["score"]):.1f}" '
                         f'y1="{y - 7:.1f}" y2="{y + 7:.1f}"><title>{escape(s["image"])}: '
                         f'{s["score"]:.3f}</title></line>')
    parts.append("</svg>")
    return Markup("".join(parts))
