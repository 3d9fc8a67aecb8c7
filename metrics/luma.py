"""Luma (Y) planes of 8-bit RGB images, computed exactly in integers, with one rounding rule.

pyiqa turns RGB into Y with a float32 matrix product (``rgb2ycbcr`` for PSNR and SSIM,
``rgb2yiq`` for NIQE), multiplies by 255 and, for SSIM and NIQE, rounds. In exact
arithmetic a good share of a photograph's pixels land exactly on .5, and the float32
product puts each of them a hair above or below it depending on the BLAS code path the
CPU gets (see docs/fidelity.md). Which way those pixels round then depends on the
machine, and NIQE moves by up to 4e-3.

Here each Y value is an exact rational number of the 8-bit values, ``(offset * scale +
wr*R + wg*G + wb*B) / scale`` levels, with the integer weights of pyiqa's matrices
(BT.601: 65.481, 128.553, 24.966 and offset 16 for YCbCr; 0.299, 0.587, 0.114 for YIQ):

- **exact** planes (PSNR, which pyiqa does not round) are that fraction over 255,
  one correctly rounded float64 division per pixel: the same bits on every machine;
- **rounded** planes (SSIM and NIQE) round it to an integer level, **half to even**:
  what pyiqa's own code (``torch.round``) does to an exact product, so these are the
  numbers pyiqa means, free of the BLAS path. The rule matters: on the photographs of
  tests/data and three 512x512 sample tiles, half to even lands within 1e-3 of plain pyiqa's
  NIQE (exactly on three of seven), rounding half up as MATLAB's uint8 conversion does up to
  1.1e-2 away, half down up to 1.7e-2 (docs/fidelity.md).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class LumaMatrix:
    """Y = offset + (wr*R + wg*G + wb*B) / scale, in 8-bit levels, with integer weights."""

    name: str
    weights: tuple[int, int, int]
    scale: int
    offset: int

    def numerator(self, rgb: np.ndarray) -> np.ndarray:
        """H x W int32: Y times ``scale``, exactly (at most 6.0e7 for YCbCr, far below 2**31)."""
        if rgb.dtype != np.uint8 or rgb.ndim != 3 or rgb.shape[2] != 3:
            raise ValueError(f"expected an H x W x 3 uint8 RGB image, got {rgb.dtype} {rgb.shape}")
        wr, wg, wb = self.weights
        channels = rgb.astype(np.int32)
        return (
            self.offset * self.scale
            + wr * channels[..., 0]
            + wg * channels[..., 1]
            + wb * channels[..., 2]
        )

    def exact(self, numerator: np.ndarray) -> np.ndarray:
        """H x W float64 Y in [0, 1]: numerator / (255 * scale), correctly rounded."""
        return numerator.astype(np.float64) / float(255 * self.scale)

    def rounded(self, numerator: np.ndarray) -> np.ndarray:
        """H x W uint8 Y in levels, ties to even (the rule in this module's docstring)."""
        half = self.scale // 2  # both scales are even: a tie is a remainder of exactly half
        quotient, remainder = np.divmod(numerator, self.scale)
        up = (remainder > half) | ((remainder == half) & (quotient % 2 == 1))
        return (quotient + up).astype(np.uint8)


# pyiqa's rgb2ycbcr (ITU-R BT.601, studio range 16..235) and rgb2yiq (its Y row).
YCBCR = LumaMatrix("ycbcr", (65481, 128553, 24966), 255000, 16)
YIQ = LumaMatrix("yiq", (299, 587, 114), 1000, 0)
MATRICES = {m.name: m for m in (YCBCR, YIQ)}


def matrix(color_space: str) -> LumaMatrix:
    try:
        return MATRICES[color_space.lower()]
    except KeyError:
        raise ValueError(
            f"no exact luma for colour space {color_space!r}; known: {', '.join(MATRICES)}"
        ) from None


class LumaPlanes:
    """The Y planes of one image, each computed at most once (several metrics share them)."""

    def __init__(self, rgb: np.ndarray):
        self.rgb = rgb
        self._planes: dict[tuple[str, str], np.ndarray] = {}

    def _plane(self, color_space: str, kind: str) -> np.ndarray:
        m = matrix(color_space)
        if (m.name, "numerator") not in self._planes:
            self._planes[m.name, "numerator"] = m.numerator(self.rgb)
        if (m.name, kind) not in self._planes:
            self._planes[m.name, kind] = getattr(m, kind)(self._planes[m.name, "numerator"])
        return self._planes[m.name, kind]

    def exact(self, color_space: str) -> np.ndarray:
        """float64 Y in [0, 1], unrounded (what pyiqa's PSNR reads)."""
        return self._plane(color_space, "exact")

    def rounded(self, color_space: str) -> np.ndarray:
        """uint8 Y levels, ties to even (what pyiqa's SSIM and NIQE read)."""
        return self._plane(color_space, "rounded")
