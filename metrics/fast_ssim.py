"""SSIM on the Y channel (Wang et al. 2004), vectorised, giving pyiqa's ``ssim`` numbers.

pyiqa's SSIM (``create_metric('ssim', test_y_channel=True, color_space='ycbcr')``) does:

1. Y = round(255 * BT.601 luma) computed in float32 from the [0, 1] RGB tensor (the
   same float32 matmul is used here, so the rounded Y plane is bit-identical);
2. converts Y to float64 and, with ``downsample=False`` (its default for ``ssim``), keeps
   the full resolution;
3. filters Y, Y', Y*Y, Y'*Y' and Y*Y' with an 11x11 Gaussian (sigma 1.5, weights stored
   in float32), 'valid' region only, through a float64 2D convolution;
4. clamps the contrast-structure map at zero and averages the SSIM map.

Step 3 is where pyiqa spends its time (five 121-tap float64 convolutions through
PyTorch's generic float64 path). Here the same float32-rounded 11x11 weights filter each
plane with OpenCV's float64 ``filter2D``, about ten times faster. The weights are NOT
replaced by two separable 11-tap passes: pyiqa's float32 window sums to 1 - 6e-9, and
that alone moves SSIM by ~1e-7; with the same window the results agree to ~1e-14.
"""

from __future__ import annotations

from functools import lru_cache

import cv2
import numpy as np

WINDOW = 11
SIGMA = 1.5
DATA_RANGE = 255.0
C1 = (0.01 * DATA_RANGE) ** 2
C2 = (0.03 * DATA_RANGE) ** 2

# BT.601 RGB -> YCbCr matrix (columns Y, Cb, Cr) as pyiqa's rgb2ycbcr writes it.
_YCBCR = ((65.481, -37.797, 112.0), (128.553, -74.203, -93.786), (24.966, 112.0, -18.214))
_YCBCR_BIAS = (16.0, 128.0, 128.0)


@lru_cache(maxsize=1)
def gaussian_window() -> np.ndarray:
    """pyiqa's window (MATLAB ``fspecial('gaussian', 11, 1.5)``), stored in float32, as float64."""
    half = (WINDOW - 1) / 2.0
    y, x = np.ogrid[-half : half + 1, -half : half + 1]
    h = np.exp(-(x * x + y * y) / (2.0 * SIGMA * SIGMA))
    h[h < np.finfo(h.dtype).eps * h.max()] = 0
    h /= h.sum()
    return h.astype(np.float32).astype(np.float64)


def y_channel(rgb):
    """1 x 3 x H x W float32 RGB in [0, 1] -> H x W float64 Y in [16, 235], rounded.

    Mirrors pyiqa's ``to_y_channel(x, 255, 'ycbcr')`` operation for operation, so the
    rounding of every pixel is the same.
    """
    import torch

    if rgb.ndim != 4 or rgb.shape[0] != 1 or rgb.shape[1] != 3:
        raise ValueError(f"expected a 1 x 3 x H x W tensor, got shape {tuple(rgb.shape)}")
    weights = torch.tensor(_YCBCR).to(rgb)
    bias = torch.tensor(_YCBCR_BIAS).view(1, 3, 1, 1).to(rgb)
    ycbcr = (torch.matmul(rgb.permute(0, 2, 3, 1), weights).permute(0, 3, 1, 2) + bias) / 255.0
    y = (ycbcr[:, [0], :, :] * DATA_RANGE).round()
    return y.to(torch.float64)[0, 0].cpu().numpy()


def _valid_gaussian(plane: np.ndarray) -> np.ndarray:
    """The 11x11 Gaussian filter of one float64 plane, 'valid' region only."""
    filtered = cv2.filter2D(plane, cv2.CV_64F, gaussian_window(), borderType=cv2.BORDER_REFLECT)
    r = WINDOW // 2
    return filtered[r:-r, r:-r]


def ssim_y(y1: np.ndarray, y2: np.ndarray) -> float:
    """SSIM of two H x W float64 Y planes (range 0..255), cs map clamped at zero."""
    if y1.shape != y2.shape:
        raise ValueError(f"SSIM needs planes of one shape, got {y1.shape} and {y2.shape}")
    if min(y1.shape) < WINDOW:
        raise ValueError(f"SSIM needs images of at least {WINDOW}x{WINDOW} pixels, got {y1.shape}")
    mu1, mu2 = _valid_gaussian(y1), _valid_gaussian(y2)
    mu1_sq, mu2_sq, mu1_mu2 = mu1 * mu1, mu2 * mu2, mu1 * mu2
    sigma1_sq = _valid_gaussian(y1 * y1) - mu1_sq
    sigma2_sq = _valid_gaussian(y2 * y2) - mu2_sq
    sigma12 = _valid_gaussian(y1 * y2) - mu1_mu2
    cs_map = np.maximum((2.0 * sigma12 + C2) / (sigma1_sq + sigma2_sq + C2), 0.0)
    ssim_map = (2.0 * mu1_mu2 + C1) / (mu1_sq + mu2_sq + C1) * cs_map
    return float(ssim_map.mean())


def ssim(pred, gt) -> float:
    """pyiqa's ``ssim`` (Y channel, ycbcr) of two 1 x 3 x H x W float32 RGB tensors in [0, 1]."""
    if tuple(pred.shape) != tuple(gt.shape):
        raise ValueError(
            f"SSIM needs images of one shape, got {tuple(pred.shape)} and {tuple(gt.shape)}"
        )
    return ssim_y(y_channel(pred), y_channel(gt))
