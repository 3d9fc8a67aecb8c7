"""metrics.fast_ssim gives pyiqa's SSIM of the same Y planes (valid 11x11 Gaussian, cs clamped)."""

import numpy as np
import pytest
import torch

from metrics import fast_ssim
from metrics.engine import Prepared
from metrics.images import decode
from metrics.registry import SSIM
from metrics.samples import write_sample_set


@pytest.fixture(scope="module")
def photo_pairs(tmp_path_factory):
    """Three 96x96 real-photograph pairs (restored prediction, ground truth), decoded."""
    samples = write_sample_set(tmp_path_factory.mktemp("ssim"), count=3, size=96, seed=5)
    return [
        (decode(p.read_bytes()), decode((samples.gt / p.name).read_bytes()))
        for p in sorted(samples.pred.glob("*.png"))
    ]


@pytest.fixture(scope="module")
def pyiqa_ssim():
    """pyiqa's own SSIM with the RAIM options (no weights needed)."""
    import pyiqa

    return pyiqa.create_metric("ssim", test_y_channel=True, color_space="ycbcr", device="cpu")


def _planes(image):
    """The rounded BT.601 Y plane the RAIM SSIM reads (4-pixel crop), as float64 levels."""
    return Prepared(image, 4).luma.rounded(SSIM.luma.color_space).astype(np.float64)


def _pyiqa_on_planes(pyiqa_ssim, y1, y2) -> float:
    """pyiqa's SSIM network fed the same planes (1-channel, [0, 1]: it multiplies by 255)."""
    def as_input(y):
        return torch.from_numpy(y / 255.0)[None, None]

    return float(pyiqa_ssim.net(as_input(y1), as_input(y2)))


def test_ssim_matches_pyiqa_on_real_photographs(photo_pairs, pyiqa_ssim):
    for pred, gt in photo_pairs:
        y1, y2 = _planes(pred), _planes(gt)
        expected = _pyiqa_on_planes(pyiqa_ssim, y1, y2)
        assert fast_ssim.ssim_y(y1, y2) == pytest.approx(expected, abs=1e-10)


def test_ssim_clamps_negative_contrast_structure_like_pyiqa(photo_pairs, pyiqa_ssim):
    _, gt = photo_pairs[0]
    inverted = 255 - gt  # anti-correlated everywhere: the cs map is negative before the clamp
    y1, y2 = _planes(inverted), _planes(gt)
    value = fast_ssim.ssim_y(y1, y2)
    assert value >= 0.0
    assert value == pytest.approx(_pyiqa_on_planes(pyiqa_ssim, y1, y2), abs=1e-10)


def test_ssim_of_identical_images_is_one(photo_pairs):
    _, gt = photo_pairs[1]
    y = _planes(gt)
    assert fast_ssim.ssim_y(y, y) == pytest.approx(1.0, abs=1e-12)


def test_ssim_of_flat_planes_is_finite():
    flat, other = np.full((40, 40), 128.0), np.full((40, 40), 17.0)
    assert fast_ssim.ssim_y(flat, flat) == 1.0  # C1 and C2 keep every ratio defined
    assert 0.0 <= fast_ssim.ssim_y(flat, other) < 1.0


def test_gaussian_window_is_pyiqa_fspecial_11_sigma_1_5():
    from pyiqa.matlab_utils import fspecial

    expected = fspecial(11, 1.5, 1)[0, 0].to(torch.float64).numpy()
    np.testing.assert_array_equal(fast_ssim.gaussian_window(), expected)


def test_ssim_rejects_images_of_different_shapes():
    with pytest.raises(ValueError, match="one shape"):
        fast_ssim.ssim_y(np.zeros((32, 32)), np.zeros((32, 40)))


def test_ssim_rejects_images_smaller_than_the_window():
    with pytest.raises(ValueError, match="at least 11x11"):
        fast_ssim.ssim_y(np.zeros((8, 8)), np.zeros((8, 8)))
