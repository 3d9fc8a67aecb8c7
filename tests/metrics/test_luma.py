"""metrics.luma: Y planes from 8-bit RGB in integers, exact, ties rounded to even."""

from fractions import Fraction

import numpy as np
import pytest
import torch

from metrics.engine import Prepared
from metrics.luma import YCBCR, YIQ, LumaPlanes, matrix
from metrics.samples import photo, tile


def _exact_fraction(m, r, g, b) -> Fraction:
    wr, wg, wb = m.weights
    return m.offset + Fraction(wr * r + wg * g + wb * b, m.scale)


def _colours(count=5000, seed=3) -> np.ndarray:
    rng = np.random.default_rng(seed)
    corners = np.array([[0, 0, 0], [255, 255, 255], [255, 0, 0], [0, 255, 0], [0, 0, 255]])
    return np.concatenate([corners, rng.integers(0, 256, (count, 3))]).astype(np.uint8)[None]


@pytest.mark.parametrize("m", [YCBCR, YIQ], ids=lambda m: m.name)
def test_exact_plane_is_the_rational_value_correctly_rounded(m):
    rgb = _colours()
    plane = m.exact(m.numerator(rgb))[0]
    for (r, g, b), value in zip(rgb[0].tolist(), plane.tolist(), strict=True):
        assert value == float(_exact_fraction(m, r, g, b) / 255)  # the same bits, not approximately


@pytest.mark.parametrize("m", [YCBCR, YIQ], ids=lambda m: m.name)
def test_rounded_plane_rounds_the_rational_value_half_to_even(m):
    rgb = _colours()
    levels = m.rounded(m.numerator(rgb))[0]
    for (r, g, b), level in zip(rgb[0].tolist(), levels.tolist(), strict=True):
        assert level == round(_exact_fraction(m, r, g, b))  # Python's round: half to even


def test_ties_go_to_the_even_level():
    # colours whose YIQ luma is exactly k + 1/2 levels
    ties = [(r, g, b) for r in range(0, 40) for g in range(0, 40) for b in range(0, 40)
            if (299 * r + 587 * g + 114 * b) % 1000 == 500]
    assert ties, "no tie colours in the search range"
    rgb = np.array(ties, dtype=np.uint8)[None]
    levels = YIQ.rounded(YIQ.numerator(rgb))[0]
    for (r, g, b), level in zip(ties, levels.tolist(), strict=True):
        below = (299 * r + 587 * g + 114 * b) // 1000
        assert level == (below if below % 2 == 0 else below + 1)


def test_rounded_planes_match_pyiqas_except_on_exact_ties():
    """Away from ties pyiqa's float32 product rounds to the same level; ties are what it gets wrong."""
    from pyiqa.utils.color_util import to_y_channel

    rgb = tile(photo("coffee"), 256, np.random.default_rng(1))
    planes = LumaPlanes(rgb)
    for space in ("ycbcr", "yiq"):
        m = matrix(space)
        ours = planes.rounded(space).astype(np.float64)
        theirs = to_y_channel(Prepared(rgb).tensor(), 255, space).round()[0, 0].to(torch.float64).numpy()
        tie = (m.numerator(rgb) % m.scale) == m.scale // 2
        np.testing.assert_array_equal(ours[~tie], theirs[~tie])
        assert np.abs(ours[tie] - theirs[tie]).max(initial=0) <= 1


def test_planes_are_computed_once_per_image_and_colour_space():
    planes = LumaPlanes(np.full((8, 8, 3), 7, np.uint8))
    assert planes.rounded("yiq") is planes.rounded("YIQ")
    assert planes.exact("ycbcr") is planes.exact("ycbcr")


def test_unknown_colour_space_and_non_uint8_input_are_refused():
    with pytest.raises(ValueError, match="lhm"):
        matrix("lhm")
    with pytest.raises(ValueError, match="uint8"):
        YIQ.numerator(np.zeros((4, 4, 3), np.float32))
