"""Real-photograph sample sets: tiles of scikit-image's bundled photos, degraded like RAIM inputs.

Used by the tests, the benchmarks and the demo challenge, so that every number this
project shows comes from real images rather than synthetic noise. Nothing is downloaded:
only the photographs that ship inside the scikit-image wheel are used.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

PHOTOS = (
    "astronaut",
    "chelsea",
    "coffee",
    "hubble_deep_field",
    "immunohistochemistry",
    "motorcycle_left",
    "retina",
    "rocket",
    "grass",
    "gravel",
    "brick",
    "camera",
)
DEGRADATIONS = ("defocus", "motion", "noise", "jpeg")


def photo(name: str) -> np.ndarray:
    """One bundled photograph as H x W x 3 uint8 RGB (gray ones replicated)."""
    from skimage import data

    if name == "motorcycle_left":
        image = data.stereo_motorcycle()[0]
    else:
        image = getattr(data, name)()
    image = np.asarray(image)
    if image.ndim == 2:
        image = np.repeat(image[..., None], 3, axis=2)
    return np.ascontiguousarray(image[..., :3]).astype(np.uint8)


def tile(image: np.ndarray, size: int, rng: np.random.Generator) -> np.ndarray:
    """A random size x size crop; images smaller than that are first enlarged (bicubic)."""
    h, w = image.shape[:2]
    if min(h, w) < size:
        factor = size / min(h, w)
        image = cv2.resize(
            image,
            (max(size, round(w * factor)), max(size, round(h * factor))),
            interpolation=cv2.INTER_CUBIC,
        )
        h, w = image.shape[:2]
    y = int(rng.integers(0, h - size + 1))
    x = int(rng.integers(0, w - size + 1))
    return np.ascontiguousarray(image[y : y + size, x : x + size])


def degrade(image: np.ndarray, kind: str, rng: np.random.Generator) -> np.ndarray:
    """Defocus blur, motion blur, sensor noise or JPEG compression, at a random strength."""
    if kind == "defocus":
        radius = int(rng.integers(2, 6))
        kernel = np.zeros((2 * radius + 1, 2 * radius + 1), np.float32)
        cv2.circle(kernel, (radius, radius), radius, 1.0, -1)
        return cv2.filter2D(image, -1, kernel / kernel.sum(), borderType=cv2.BORDER_REFLECT)
    if kind == "motion":
        length = int(rng.integers(5, 13))
        kernel = np.zeros((length, length), np.float32)
        kernel[length // 2, :] = 1.0
        rotation = cv2.getRotationMatrix2D(
            (length / 2 - 0.5, length / 2 - 0.5), float(rng.uniform(0, 180)), 1
        )
        kernel = cv2.warpAffine(kernel, rotation, (length, length))
        return cv2.filter2D(
            image, -1, kernel / max(kernel.sum(), 1e-6), borderType=cv2.BORDER_REFLECT
        )
    if kind == "noise":
        sigma = float(rng.uniform(5, 20))
        noisy = image.astype(np.float32) + rng.normal(0, sigma, image.shape).astype(np.float32)
        return np.clip(noisy + 0.5, 0, 255).astype(np.uint8)
    if kind == "jpeg":
        quality = int(rng.integers(15, 50))
        ok, buf = cv2.imencode(
            ".jpg", cv2.cvtColor(image, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, quality]
        )
        return cv2.cvtColor(cv2.imdecode(buf, cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)
    raise ValueError(f"unknown degradation {kind!r}; known: {', '.join(DEGRADATIONS)}")


def restore(image: np.ndarray) -> np.ndarray:
    """A plain 'restoration' (light denoise, then unsharp mask): a believable team submission."""
    smooth = cv2.bilateralFilter(image, 5, 25, 5)
    blurred = cv2.GaussianBlur(smooth, (0, 0), 2.0)
    return cv2.addWeighted(smooth, 1.6, blurred, -0.6, 0)


@dataclass(frozen=True)
class SampleSet:
    root: Path

    @property
    def gt(self) -> Path:
        return self.root / "gt"

    @property
    def lq(self) -> Path:
        return self.root / "lq"

    @property
    def pred(self) -> Path:
        return self.root / "pred"


def write_sample_set(root: Path, *, count: int, size: int, seed: int = 0) -> SampleSet:
    """Write gt/, lq/ (degraded) and pred/ (restored) as NNN.png; deterministic for a seed."""
    rng = np.random.default_rng(seed)
    out = SampleSet(Path(root))
    for folder in (out.gt, out.lq, out.pred):
        folder.mkdir(parents=True, exist_ok=True)
    cache: dict[str, np.ndarray] = {}
    for i in range(count):
        name = PHOTOS[i % len(PHOTOS)]
        if name not in cache:
            cache[name] = photo(name)
        gt = tile(cache[name], size, rng)
        lq = degrade(gt, DEGRADATIONS[i % len(DEGRADATIONS)], rng)
        stem = f"{i + 1:03d}.png"
        for folder, image in ((out.gt, gt), (out.lq, lq), (out.pred, restore(lq))):
            cv2.imwrite(str(folder / stem), cv2.cvtColor(image, cv2.COLOR_RGB2BGR))
    return out
