"""metrics.fast_ssim gives pyiqa's SSIM (Y channel, ycbcr, valid 11x11 Gaussian, cs clamped)."""

import numpy as np
import pytest
import torch

from metrics import fast_ssim
from metrics.engine import to_tensor
from metrics.images import decode
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


def test_ssim_matches_pyiqa_on_real_photographs(photo_pairs, pyiqa_ssim):
    for pred, gt in photo_pairs:
        p, g = to_tensor(pred, 4), to_tensor(gt, 4)
        expected = float(pyiqa_ssim(p, g))
        assert fast_ssim.ssim(p, g) == pytest.approx(expected, abs=1e-10)


def test_ssim_clamps_negative_contrast_structure_like_pyiqa(photo_pairs, pyiqa_ssim):
    _, gt = photo_pairs[0]
    inverted = 255 - gt  # anti-correlated everywhere: the cs map is negative before the clamp
    p, g = to_tensor(inverted, 4), to_tensor(gt, 4)
    value = fast_ssim.ssim(p, g)
    assert value >= 0.0
    assert value == pytest.approx(float(pyiqa_ssim(p, g)), abs=1e-10)


def test_ssim_of_identical_images_is_one(photo_pairs):
    _, gt = photo_pairs[1]
    g = to_tensor(gt, 4)
    assert fast_ssim.ssim(g, g) == pytest.approx(1.0, abs=1e-12)


def test_y_channel_rounds_every_pixel_as_pyiqa(photo_pairs):
    from pyiqa.utils.color_util import to_y_channel

    pred, _ = photo_pairs[2]
    x = to_tensor(pred, 4)
    expected = to_y_channel(x, 255, "ycbcr").to(torch.float64)[0, 0].numpy()
    np.testing.assert_array_equal(fast_ssim.y_channel(x), expected)


def test_gaussian_window_is_pyiqa_fspecial_11_sigma_1_5():
    from pyiqa.matlab_utils import fspecial

    expected = fspecial(11, 1.5, 1)[0, 0].to(torch.float64).numpy()
    np.testing.assert_array_equal(fast_ssim.gaussian_window(), expected)


def test_ssim_rejects_images_of_different_shapes():
    with pytest.raises(ValueError, match="one shape"):
        fast_ssim.ssim(torch.zeros(1, 3, 32, 32), torch.zeros(1, 3, 32, 40))


def test_ssim_rejects_images_smaller_than_the_window():
    with pytest.raises(ValueError, match="at least 11x11"):
        fast_ssim.ssim(torch.zeros(1, 3, 8, 8), torch.zeros(1, 3, 8, 8))
