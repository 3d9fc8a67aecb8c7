"""Draws the per-image score chart of a submission as inline SVG, on the server, with no library."""

from __future__ import annotations

import math
from html import escape

from markupsafe import Markup

WIDTH, HEIGHT = 960, 260
LEFT, RIGHT, TOP, BOTTOM = 48, 12, 14, 46
MAX_LABELS = 40


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
    parts = [f'<svg class="plot" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" '
             f'aria-label="Score of each image" xmlns="http://www.w3.org/2000/svg">']
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
