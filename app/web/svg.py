"""Inline SVG charts drawn on the server with no library: a submission's per-image scores, and the
final results' MOS with 95% intervals per team and per-image spread."""

from __future__ import annotations

import math
from html import escape

from markupsafe import Markup

WIDTH, HEIGHT = 960, 260
LEFT, RIGHT, TOP, BOTTOM = 48, 12, 14, 46
MAX_LABELS = 40
# The final results' charts: one row per team.
FINAL_WIDTH = 900
FINAL_LEFT, FINAL_RIGHT, FINAL_TOP, FINAL_BOTTOM = 170, 20, 16, 34
ROW = 26
CI = 'class="ci" stroke="#2454c5" stroke-width="2"'
DOT = 'class="dot" fill="#1a3f96"'
SPREAD = 'class="spread" stroke="#c9d2e6" stroke-width="6"'
TICK = 'class="tick" stroke="#2454c5" stroke-width="2"'


def nice_ticks(low: float, high: float, count: int = 6) -> list[float]:
    """Round tick values (1, 2, 2.5 or 5 times a power of ten apart) covering [low, high]."""
    if not (math.isfinite(low) and math.isfinite(high)):
        raise ValueError(f"tick range must be finite, got [{low}, {high}]")
    if high <= low:
        high = low + 1.0
    raw = (high - low) / max(count - 1, 1)
    power = 10 ** math.floor(math.log10(raw))
    step = next(m * power for m in (1, 2, 2.5, 5, 10) if m * power >= raw)
    start = math.floor(low / step) * step
    intervals = max(1, math.ceil((high - start) / step - 1e-9))
    return [round(start + i * step, 10) for i in range(intervals + 1)]


def _svg_open(width: float, height: float, label: str) -> str:
    return (f'<svg class="plot" viewBox="0 0 {width} {height}" role="img" '
            f'aria-label="{escape(label)}" xmlns="http://www.w3.org/2000/svg">')


def score_plot(points: list[tuple[str, float]], mean: float | None = None) -> Markup:
    """A bar per image (name, score), in the given order, with the mean as a dashed line.

    Negative scores (the RAIM formula does not clip) hang below the zero line.
    """
    if not points:
        return Markup("")
    values = [v for _, v in points]
    ticks = nice_ticks(min(0.0, *values), max(0.0, *values))
    low, high = ticks[0], ticks[-1]
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM

    def y(value: float) -> float:
        return TOP + plot_h * (high - value) / (high - low)

    slot = plot_w / len(points)
    bar_w = max(slot * 0.7, 1.0)
    every = max(1, math.ceil(len(points) / MAX_LABELS))
    parts = [_svg_open(WIDTH, HEIGHT, "Score of each image")]
    for tick in ticks:
        parts.append(f'<line class="grid" x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{y(tick):.1f}" '
                     f'y2="{y(tick):.1f}"/><text x="{LEFT - 6}" y="{y(tick) + 4:.1f}" '
                     f'text-anchor="end">{tick:g}</text>')
    zero = y(0.0)
    for i, (name, value) in enumerate(points):
        x = LEFT + i * slot + (slot - bar_w) / 2
        top, bottom = sorted((y(value), zero))
        label = escape(name)
        parts.append(f'<rect class="bar" x="{x:.1f}" y="{top:.1f}" width="{bar_w:.1f}" '
                     f'height="{max(bottom - top, 0.5):.1f}">'
                     f'<title>{label}: {value:.2f}</title></rect>')
        if i % every == 0:
            cx = x + bar_w / 2
            parts.append(f'<text x="{cx:.1f}" y="{HEIGHT - BOTTOM + 14}" text-anchor="end" '
                         f'transform="rotate(-45 {cx:.1f} {HEIGHT - BOTTOM + 14})">{label}</text>')
    parts.append(f'<line class="axis" x1="{LEFT}" x2="{WIDTH - RIGHT}" '
                 f'y1="{zero:.1f}" y2="{zero:.1f}"/>')
    if mean is not None and math.isfinite(mean):
        parts.append(f'<line class="mean" x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{y(mean):.1f}" '
                     f'y2="{y(mean):.1f}"><title>mean {mean:.2f}</title></line>'
                     f'<text x="{WIDTH - RIGHT}" y="{y(mean) - 4:.1f}" text-anchor="end">'
                     f'mean {mean:.2f}</text>')
    parts.append("</svg>")
    return Markup("".join(parts))


def _frame(rows: int, low: float, high: float, label: str) -> tuple[list[str], object, float]:
    ticks = nice_ticks(low, high)
    lo, hi = ticks[0], ticks[-1]
    height = FINAL_TOP + FINAL_BOTTOM + ROW * rows
    plot_w = FINAL_WIDTH - FINAL_LEFT - FINAL_RIGHT

    def x(value: float) -> float:
        return FINAL_LEFT + plot_w * (value - lo) / ((hi - lo) or 1.0)

    parts = [_svg_open(FINAL_WIDTH, height, label)]
    for tick in ticks:
        parts.append(f'<line class="grid" x1="{x(tick):.1f}" x2="{x(tick):.1f}" '
                     f'y1="{FINAL_TOP}" y2="{height - FINAL_BOTTOM}"/><text x="{x(tick):.1f}" '
                     f'y="{height - FINAL_BOTTOM + 16}" text-anchor="middle">{tick:g}</text>')
    return parts, x, height


def _finite(value: object) -> bool:
    return isinstance(value, int | float) and math.isfinite(value)


def mos_plot(teams: list[dict], *, scale: tuple[float, float] | None = None,
             label: str = "Subjective score per team, 95% CI") -> Markup:
    """One row per team (best first): a dot at its score, a bar over its 95% interval.

    ``scale`` fixes the axis to the judges' scale (1-10, say) and cuts intervals at its ends;
    teams without a score are left out.
    """
    teams = [t for t in teams if _finite(t["score"])]
    if not teams:
        return Markup("")
    lows = [t["low"] if _finite(t["low"]) else t["score"] for t in teams]
    highs = [t["high"] if _finite(t["high"]) else t["score"] for t in teams]
    if scale is None:
        low, high = min(lows), max(highs)
    else:  # no score leaves the scale: intervals are drawn up to its ends
        low, high = scale
        lows = [min(max(v, low), high) for v in lows]
        highs = [min(max(v, low), high) for v in highs]
    parts, x, _ = _frame(len(teams), low, high, label)
    for i, (team, low, high) in enumerate(zip(teams, lows, highs, strict=True)):
        y = FINAL_TOP + ROW * i + ROW / 2
        name = escape(team["team"])
        parts.append(f'<text x="{FINAL_LEFT - 8}" y="{y + 4:.1f}" text-anchor="end">{name}</text>'
                     f'<line {CI} x1="{x(low):.1f}" x2="{x(high):.1f}" y1="{y:.1f}" '
                     f'y2="{y:.1f}"/><circle {DOT} cx="{x(team["score"]):.1f}" cy="{y:.1f}" '
                     f'r="4"><title>{name}: {team["score"]:.3f} [{low:.3f}, {high:.3f}]</title>'
                     f'</circle>')
    parts.append("</svg>")
    return Markup("".join(parts))


def spread_plot(teams: list[str], images: list[dict]) -> Markup:
    """One row per team: a tick per image at that image's score, and the spread between them."""
    images = [s for s in images if _finite(s["score"])]
    values = [s["score"] for s in images]
    if not teams or not values:
        return Markup("")
    parts, x, _ = _frame(len(teams), min(values), max(values), "Per-image scores per team")
    for i, team in enumerate(teams):
        y = FINAL_TOP + ROW * i + ROW / 2
        mine = [s for s in images if s["team"] == team]
        parts.append(f'<text x="{FINAL_LEFT - 8}" y="{y + 4:.1f}" text-anchor="end">'
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
