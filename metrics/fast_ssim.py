"""SSIM of two Y planes (Wang et al. 2004), vectorised, giving pyiqa's ``ssim`` numbers.

pyiqa's SSIM (``create_metric('ssim', test_y_channel=True, color_space='ycbcr')``) does:

1. Y = round(255 * BT.601 luma); here the caller passes that plane, computed exactly by
   ``metrics.luma`` (the same integer levels pyiqa's reference gets from them);
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
Flat regions are safe: C1 and C2 keep every ratio finite (SSIM of two flat planes is 1).
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

# Stored with every result this code computes (metrics.pipeline.FastScorer.versions).
VERSION = "raim-fast-ssim-2"


@lru_cache(maxsize=1)
def gaussian_window() -> np.ndarray:
    """pyiqa's window (MATLAB ``fspecial('gaussian', 11, 1.5)``), stored in float32, as float64."""
    half = (WINDOW - 1) / 2.0
    y, x = np.ogrid[-half : half + 1, -half : half + 1]
    h = np.exp(-(x * x + y * y) / (2.0 * SIGMA * SIGMA))
    h[h < np.finfo(h.dtype).eps * h.max()] = 0
    h /= h.sum()
    return h.astype(np.float32).astype(np.float64)


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
