"""DISTS (Ding et al., 2020) computed stage by stage on pyiqa's own network, same numbers.

pyiqa's ``DISTS.forward`` runs VGG16 over the prediction, then over the ground truth,
keeps all six feature maps of both (about 0.5 GB each for a 1024x1024 image), and only
then compares them. This module walks the five VGG stages once, comparing each stage's
features as soon as both exist and dropping the previous ones, with the same PyTorch
operations in the same order, so the value is bit-for-bit pyiqa's while peak memory is
about a third.

What depends only on the ground truth (its feature maps) can be kept on disk in a
``GtFeatureCache``: every submission of a phase is scored against the same images, so
from the second submission on, part of the ground-truth half of the network is a file
read. Features are stored exactly (float32). For a 1024x1024 image, stages 1-5 cost
256, 128, 64, 32 and 8 MB and about 20, 27, 29, 19 and 5 % of one VGG pass: caching
from stage 3 on (104 MB) saves more than half of the ground truth's pass, caching
everything (488 MB) all of it. ``first_stage`` and a byte budget choose the trade.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import numpy as np

STAGES = 5
_C1 = 1e-6
_C2 = 1e-6


class GtFeatureCache:
    """Ground-truth DISTS features on disk, one folder per image, within a byte budget.

    Entries are written whole (to a temporary folder, then renamed) and never changed;
    once the budget is spent new entries are simply not stored.
    """

    def __init__(self, root: Path, *, max_bytes: int, first_stage: int = 3, salt: str = ""):
        if not 1 <= first_stage <= STAGES:
            raise ValueError(f"first_stage must be between 1 and {STAGES}, got {first_stage}")
        self.root = Path(root)
        self.max_bytes = max_bytes
        self.first_stage = first_stage
        self.salt = salt  # model version, torch version, device: anything that changes numbers
        self.root.mkdir(parents=True, exist_ok=True)

    def key(self, gt_image: np.ndarray, crop: int) -> str:
        digest = hashlib.sha256(self.salt.encode())
        digest.update(
            f"{gt_image.shape}|{gt_image.dtype}|crop={crop}|from={self.first_stage}".encode()
        )
        digest.update(np.ascontiguousarray(gt_image).data)
        return digest.hexdigest()

    def used_bytes(self) -> int:
        return sum(f.stat().st_size for f in self.root.rglob("*.npy"))

    def has(self, key: str) -> bool:
        return (self.root / key / f"stage{STAGES}.npy").is_file()

    def load(self, key: str, stage: int):
        import torch

        return torch.from_numpy(np.load(self.root / key / f"stage{stage}.npy"))

    def store(self, key: str, features: list) -> bool:
        """Keep one image's features of stages first_stage..5; False when over the budget."""
        size = sum(f.numel() * f.element_size() for f in features)
        if self.has(key) or self.used_bytes() + size > self.max_bytes:
            return False
        tmp = Path(tempfile.mkdtemp(prefix=".tmp-", dir=self.root))
        try:
            for stage, feature in enumerate(features, self.first_stage):
                np.save(tmp / f"stage{stage}.npy", feature.detach().cpu().contiguous().numpy())
            os.replace(tmp, self.root / key)
        except OSError:
            shutil.rmtree(tmp, ignore_errors=True)
            return False
        return True


class StagedDists:
    """pyiqa's DISTS network, evaluated stage by stage; optionally caching ground-truth features."""

    def __init__(
        self, pyiqa_model, *, cache: GtFeatureCache | None = None, pair_batch: bool = False
    ):
        import torch

        self.net = pyiqa_model.net
        self.stages = [getattr(self.net, f"stage{i}") for i in range(1, STAGES + 1)]
        self.cache = cache
        self.pair_batch = pair_batch  # one batch of two per stage: pays on a GPU, not on a CPU
        w_sum = self.net.alpha.sum() + self.net.beta.sum()
        self.alpha = torch.split(self.net.alpha / w_sum, self.net.chns, dim=1)
        self.beta = torch.split(self.net.beta / w_sum, self.net.chns, dim=1)

    def _term(self, k: int, f0, f1):
        """pyiqa's texture (S1) and structure (S2) sums of stage k, the same operations."""
        x_mean = f0.mean([2, 3], keepdim=True)
        y_mean = f1.mean([2, 3], keepdim=True)
        s1 = (2 * x_mean * y_mean + _C1) / (x_mean**2 + y_mean**2 + _C1)
        x_var = ((f0 - x_mean) ** 2).mean([2, 3], keepdim=True)
        y_var = ((f1 - y_mean) ** 2).mean([2, 3], keepdim=True)
        xy_cov = (f0 * f1).mean([2, 3], keepdim=True) - x_mean * y_mean
        s2 = (2 * xy_cov + _C2) / (x_var + y_var + _C2)
        return (self.alpha[k] * s1).sum(1, keepdim=True), (self.beta[k] * s2).sum(1, keepdim=True)

    def _pairs(self, pred, gt, key: str | None) -> Iterator[tuple]:
        """(prediction, ground truth) features of stages 1..5, one stage at a time."""
        cache = self.cache if key is not None else None
        hit = cache is not None and cache.has(key)
        hp = (pred - self.net.mean) / self.net.std
        hg = (gt - self.net.mean) / self.net.std
        kept = []
        for k, stage in enumerate(self.stages, 1):
            if hit and k >= cache.first_stage:
                hp = stage(hp)
                yield hp, cache.load(key, k).to(hp.device)
                continue
            if self.pair_batch:
                hp, hg = stage(_cat(hp, hg)).chunk(2)
            else:
                hp, hg = stage(hp), stage(hg)
            if cache is not None and not hit and k >= cache.first_stage:
                kept.append(hg)
            yield hp, hg
        if kept:
            cache.store(key, kept)

    def store_gt(self, gt, key: str) -> bool:
        """Compute one ground truth's cached stages alone and store them (False: not stored)."""
        import torch

        if self.cache is None or self.cache.has(key):
            return False
        kept = []
        with torch.inference_mode():
            h = (gt - self.net.mean) / self.net.std
            for k, stage in enumerate(self.stages, 1):
                h = stage(h)
                if k >= self.cache.first_stage:
                    kept.append(h)
        return self.cache.store(key, kept)

    def __call__(self, pred, gt, *, gt_key: str | None = None) -> float:
        """DISTS of two 1 x 3 x H x W tensors in [0, 1]; gt_key: the ground truth's cache key."""
        d1, d2 = self._term(0, pred, gt)
        dist1, dist2 = 0 + d1, 0 + d2
        for k, (hp, hg) in enumerate(self._pairs(pred, gt, gt_key), 1):
            d1, d2 = self._term(k, hp, hg)
            dist1 = dist1 + d1
            dist2 = dist2 + d2
        score = 1 - (dist1 + dist2)
        return float(score.reshape(-1)[0].item())


def _cat(a, b):
    import torch

    return torch.cat([a, b])
