"""The server-side SVG chart of per-image scores."""

import re

import pytest

from app.web.svg import nice_ticks, score_plot


def test_nice_ticks_cover_the_range_with_round_steps():
    assert nice_ticks(0, 48.16) == [0, 10, 20, 30, 40, 50]
    assert nice_ticks(-3.2, 97.1) == [-25, 0, 25, 50, 75, 100]


def test_nice_ticks_of_an_empty_range_still_make_an_axis():
    assert nice_ticks(0.0, 0.0) == [0.0, 0.2, 0.4, 0.6, 0.8, 1.0]


def test_nice_ticks_refuse_non_finite_bounds():
    with pytest.raises(ValueError, match="finite"):
        nice_ticks(0, float("nan"))


def bars(svg: str) -> list[tuple[float, float]]:
    return [(float(y), float(h)) for y, h in
            re.findall(r'class="bar" x="[^"]+" y="([^"]+)" width="[^"]+" height="([^"]+)"', svg)]


def test_score_plot_draws_one_bar_per_image_scaled_to_its_score():
    svg = str(score_plot([("001", 100.0), ("002", 50.0)], 75.0))
    (y1, h1), (y2, h2) = bars(svg)
    assert h1 == pytest.approx(2 * h2, rel=0.02)
    assert y1 + h1 == pytest.approx(y2 + h2)  # both stand on the zero line
    assert "mean 75.00" in svg


def test_score_plot_hangs_negative_scores_below_zero():
    svg = str(score_plot([("001", 40.0), ("002", -20.0)]))
    (y1, h1), (y2, _) = bars(svg)
    assert y2 == pytest.approx(y1 + h1, abs=0.2)  # the negative bar starts at the zero line


def test_score_plot_escapes_image_names():
    svg = str(score_plot([("<script>", 1.0)]))
    assert "<script>" not in svg and "&lt;script&gt;" in svg


def test_score_plot_of_nothing_is_empty():
    assert str(score_plot([])) == ""
