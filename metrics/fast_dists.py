"""DISTS (Ding et al., 2020) computed stage by stage on pyiqa's own network, same numbers.

pyiqa's ``DISTS.forward`` runs VGG16 over the prediction, then over the ground truth,
keeps all six feature maps of both (about 0.5 GB each for a 1024x1024 image), and only
then compares them. This module walks the five VGG stages once, comparing each stage's
features as soon as both exist and dropping the previous ones, with the same PyTorch
operations in the same order, so the value is bit-for-bit pyiqa's while peak memory is
about a third.

On the CPU the big temporaries go too. A stage whose output is ``BAND_FROM_BYTES`` or more
(stages 1 and 2 of a 1024x1024 image) runs its 3x3 convolutions in bands of rows, each band
from the rows it needs around it, written into the stage's output: the intermediate maps,
oneDNN's copies of them and PyTorch's im2col buffers (0.6 GB for stage 2 at 1024x1024) then
exist one band at a time. Each output pixel is the same sum of the same products; oneDNN
may still pick another kernel for a band than for the whole image, which moves a map value
by a float32 rounding step and DISTS by 6e-8 at most where seen, less than pyiqa's own DISTS
moves between instruction sets (1.2e-7, AVX-512 against AVX2, at 1024x1024). The statistics of a
stage and the squares inside L2 pooling are computed a few channels at a time
(``CHUNK_BYTES``): each channel's reduction is the same as over the whole tensor, and the
values are bit-identical.

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
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from metrics.disk_budget import disk_budget

STAGES = 5
BAND_FROM_BYTES = 100 * 1024**2  # a stage with an output this big or bigger runs in bands
CHUNK_BYTES = 32 * 1024**2  # the largest map of a band, or temporary of a statistic or a pool
_C1 = 1e-6
_C2 = 1e-6
NPY_HEADER = 128  # bytes of an .npy file besides its array
LEFTOVER_SECONDS = 3600
RECENT_SECONDS = 3600  # entries used this recently make room only when over the budget


class GtFeatureCache:
    """Ground-truth DISTS features on disk, one folder per image, within a disk budget.

    The budget is the smaller of ``max_bytes`` and ``free_share`` of what the cache could
    have on its disk (``metrics.disk_budget``): computed when the cache is opened and again
    before every write, so the cache never fills the disk. Entries are written whole (to a
    temporary folder, then renamed) and never changed; a hit marks its entry as used (the
    folder's mtime), and a write removes the least recently used entries until the new one
    fits, but not entries used within the last hour (``RECENT_SECONDS``) unless the cache is
    over its budget: every submission reads a phase's images in the same order, and plain
    LRU on a phase bigger than the budget would evict each image just before it is read
    again; instead what fits stays and the rest is computed. An entry bigger than the whole
    budget is not stored. The disk is the only index, so processes sharing a folder see
    each other's entries and evictions.
    """

    def __init__(
        self,
        root: Path,
        *,
        max_bytes: int,
        free_share: float = 1.0,
        first_stage: int = 3,
        salt: str = "",
    ):
        if not 1 <= first_stage <= STAGES:
            raise ValueError(f"first_stage must be between 1 and {STAGES}, got {first_stage}")
        if not 0 < free_share <= 1:
            raise ValueError(f"free_share must be in (0, 1], got {free_share}")
        self.root = Path(root)
        self.max_bytes = max_bytes
        self.free_share = free_share
        self.first_stage = first_stage
        self.salt = salt  # model version, torch version, device: anything that changes numbers
        self.hits = self.misses = 0
        self._lock = threading.Lock()
        self.root.mkdir(parents=True, exist_ok=True)
        self._clear_leftovers()
        self.budget_bytes = self.budget()

    def _clear_leftovers(self) -> None:
        """Remove unfinished writes of processes killed in the middle of one (an hour old)."""
        for tmp in self.root.glob(".tmp-*"):
            try:
                if time.time() - tmp.stat().st_mtime > LEFTOVER_SECONDS:
                    shutil.rmtree(tmp, ignore_errors=True)
            except OSError:
                continue

    def key(self, gt_image: np.ndarray, crop: int) -> str:
        digest = hashlib.sha256(self.salt.encode())
        digest.update(
            f"{gt_image.shape}|{gt_image.dtype}|crop={crop}|from={self.first_stage}".encode()
        )
        digest.update(np.ascontiguousarray(gt_image).data)
        return digest.hexdigest()

    def _entries(self) -> list[tuple[float, int, Path]]:
        """(last use, bytes, folder) of every complete entry, least recently used first."""
        found = []
        for folder in self.root.iterdir():
            if folder.name.startswith(".") or not folder.is_dir():
                continue  # a write in progress, or not an entry
            try:
                used = folder.stat().st_mtime
                size = sum(f.stat().st_size for f in folder.glob("*.npy"))
            except OSError:
                continue  # removed meanwhile (another process evicted it)
            found.append((used, size, folder))
        return sorted(found, key=lambda entry: entry[0])

    def used_bytes(self) -> int:
        return sum(size for _, size, _ in self._entries())

    def budget(self, used: int | None = None) -> int:
        """The bytes the cache may hold now (the cap, or the share of the disk if smaller)."""
        used = self.used_bytes() if used is None else used
        return disk_budget(self.root, cap=self.max_bytes, share=self.free_share, used=used)

    def has(self, key: str) -> bool:
        return (self.root / key / f"stage{STAGES}.npy").is_file()

    def lookup(self, key: str) -> bool:
        """Whether the entry is there, counted as a hit (and marked as just used) or a miss."""
        if self.has(key):
            try:
                os.utime(self.root / key)
            except OSError:
                pass  # evicted meanwhile: load() will say so
            self.hits += 1
            return True
        self.misses += 1
        return False

    def load(self, key: str, stage: int):
        """One stage's features, or None when the entry has gone (evicted by another process)."""
        import torch

        try:
            return torch.from_numpy(np.load(self.root / key / f"stage{stage}.npy"))
        except (OSError, ValueError):
            return None

    def store(self, key: str, features: list) -> bool:
        """Keep one image's features of stages first_stage..5, removing the least recently
        used entries to make room; False when not stored (there, or bigger than the budget)."""
        size = sum(f.numel() * f.element_size() + NPY_HEADER for f in features)
        with self._lock:
            if self.has(key):
                return False
            entries = self._entries()
            used = sum(entry_size for _, entry_size, _ in entries)
            self.budget_bytes = self.budget(used)
            if size > self.budget_bytes:
                return False
            now = time.time()
            for last_use, entry_size, folder in entries:  # least recently used first
                if used + size <= self.budget_bytes:
                    break
                if used <= self.budget_bytes and now - last_use < RECENT_SECONDS:
                    # Used lately, maybe by the submission being scored: a phase bigger than
                    # the budget keeps what fits rather than evicting each image just before
                    # it is needed again. Over the budget (the disk filled up), it goes.
                    return False
                shutil.rmtree(folder, ignore_errors=True)
                used -= entry_size
            if used + size > self.budget_bytes:
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

    def stats(self) -> dict[str, int]:
        """Plain figures for heartbeats and the queue page: hits and misses of this process,
        and the cache's bytes, entries and budget on disk now."""
        entries = self._entries()
        used = sum(size for _, size, _ in entries)
        self.budget_bytes = self.budget(used)
        return {"hits": self.hits, "misses": self.misses, "bytes": used,
                "budget_bytes": self.budget_bytes, "entries": len(entries)}


class StagedDists:
    """pyiqa's DISTS network, evaluated stage by stage; optionally caching ground-truth features."""

    def __init__(
        self, pyiqa_model, *, cache: GtFeatureCache | None = None, pair_batch: bool = False
    ):
        import torch

        self.net = pyiqa_model.net
        self.stages = [getattr(self.net, f"stage{i}") for i in range(1, STAGES + 1)]
        _check_layout(self.stages)
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
        # (f - mean) ** 2, squared in place (the same multiplication), a few channels at a time
        x_var = _by_channels(lambda c: (f0[:, c] - x_mean[:, c]).pow_(2).mean([2, 3], keepdim=True),
                             f0)
        y_var = _by_channels(lambda c: (f1[:, c] - y_mean[:, c]).pow_(2).mean([2, 3], keepdim=True),
                             f1)
        xy_cov = _by_channels(lambda c: (f0[:, c] * f1[:, c]).mean([2, 3], keepdim=True),
                              f0) - x_mean * y_mean
        s2 = (2 * xy_cov + _C2) / (x_var + y_var + _C2)
        return (self.alpha[k] * s1).sum(1, keepdim=True), (self.beta[k] * s2).sum(1, keepdim=True)

    def _stage(self, k: int, h):
        """Stage k of VGG on one image: pyiqa's modules; on the CPU, L2 pooling a few channels
        at a time and the convolutions of a large stage in bands of rows (module notes)."""
        stage = self.stages[k - 1]
        if h.device.type != "cpu":
            return stage(h)
        if k > 1:
            h = _l2_pool(stage[0], h)
        convolutions = stage if k == 1 else stage[1:]
        size = h[:, :1].numel() * convolutions[-2].out_channels * h.element_size()
        return _in_bands(convolutions, h) if size >= BAND_FROM_BYTES else convolutions(h)

    def _pairs(self, pred, gt, key: str | None) -> Iterator[tuple]:
        """(prediction, ground truth) features of stages 1..5, one stage at a time; a miss
        stores the ground truth's features it computed (first use fills the cache)."""
        cache = self.cache if key is not None else None
        hit = cache is not None and cache.lookup(key)
        hp = (pred - self.net.mean) / self.net.std
        hg = (gt - self.net.mean) / self.net.std
        kept = []
        for k, stage in enumerate(self.stages, 1):
            if hit and k >= cache.first_stage:
                hp = self._stage(k, hp)
                cached = cache.load(key, k)
                if cached is not None:
                    yield hp, cached.to(hp.device)
                    continue
                # Gone since the lookup (evicted by another process): compute the ground
                # truth's stages from the last one computed here, store nothing.
                for earlier in range(cache.first_stage, k + 1):
                    hg = self._stage(earlier, hg)
                hit, cache = False, None
                yield hp, hg
                continue
            if self.pair_batch:
                hp, hg = stage(_cat(hp, hg)).chunk(2)
            else:  # one at a time, so that each stage's input is freed as soon as it can be
                hp = self._stage(k, hp)
                hg = self._stage(k, hg)
            if cache is not None and not hit and k >= cache.first_stage:
                kept.append(hg)
            yield hp, hg
        if kept and cache is not None:
            cache.store(key, kept)

    def store_gt(self, gt, key: str) -> bool:
        """Compute one ground truth's cached stages alone and store them (False: not stored)."""
        import torch

        if self.cache is None or self.cache.has(key):
            return False
        kept = []
        with torch.inference_mode():
            h = (gt - self.net.mean) / self.net.std
            for k in range(1, STAGES + 1):
                h = self._stage(k, h)
                if k >= self.cache.first_stage:
                    kept.append(h)
        return self.cache.store(key, kept)

    def __call__(self, pred, gt, *, gt_key: str | None = None) -> float:
        """DISTS of two 1 x 3 x H x W tensors in [0, 1]; gt_key: the ground truth's cache key."""
        d1, d2 = self._term(0, pred, gt)
        dist1, dist2 = 0 + d1, 0 + d2
        for k, pair in enumerate(self._pairs(pred, gt, gt_key), 1):
            d1, d2 = self._term(k, *pair)
            del pair  # not held while the next stage runs: the generator frees them as it goes
            dist1 = dist1 + d1
            dist2 = dist2 + d2
        score = 1 - (dist1 + dist2)
        return float(score.reshape(-1)[0].item())


def _cat(a, b):
    import torch

    return torch.cat([a, b])


def _check_layout(stages) -> None:
    """The banded convolutions and the chunked pooling assume pyiqa 0.1.16's DISTS network:
    say so at once if another version builds it differently."""
    import torch

    for k, stage in enumerate(stages, 1):
        modules = list(stage) if k == 1 else list(stage)[1:]
        pairs = list(zip(modules[::2], modules[1::2], strict=False))
        fits = len(modules) % 2 == 0 and all(
            isinstance(conv, torch.nn.Conv2d) and conv.kernel_size == (3, 3)
            and conv.padding == (1, 1) and conv.stride == (1, 1) and conv.groups == 1
            and isinstance(relu, torch.nn.ReLU) for conv, relu in pairs)
        if not fits or (k > 1 and not hasattr(stage[0], "filter")):
            raise RuntimeError(f"DISTS: stage {k} of pyiqa's network is not what "
                               "metrics.fast_dists computes in bands (L2 pooling first after "
                               "stage 1, then 3x3 convolutions with padding 1, each with a ReLU)")


def _channel_groups(h) -> Iterator[slice]:
    """Slices of h's channels whose share of h is at most CHUNK_BYTES (at least one each)."""
    per_channel = h[:, :1].numel() * h.element_size()
    step = max(1, CHUNK_BYTES // max(per_channel, 1))
    for start in range(0, h.shape[1], step):
        yield slice(start, start + step)


def _by_channels(statistic, h):
    """``statistic(channels)`` of each group of h's channels, concatenated along channels."""
    import torch

    return torch.cat([statistic(c) for c in _channel_groups(h)], dim=1)


def _l2_pool(pool, h):
    """pyiqa's ``L2pooling.forward`` (square, depthwise Hanning blur with stride 2, square
    root), a few channels at a time: each channel is pooled on its own either way."""
    import torch.nn.functional as F

    def pooled(channels: slice):
        part = h[:, channels]
        return (F.conv2d(part**2, pool.filter[channels], stride=pool.stride,
                         padding=pool.padding, groups=part.shape[1]) + 1e-12).sqrt()

    return _by_channels(pooled, h)


def _in_bands(convolutions, h):
    """``convolutions`` (3x3 convolutions with padding 1, each followed by a ReLU) over h in
    bands of output rows, each band worked from the rows it needs around it: one row more
    per convolution, or the zero row the padding gives at the image's top and bottom edge
    (the columns' padding is the convolutions' own). Only one band's intermediates exist at
    a time; the output is written into one tensor of the stage's size."""
    import torch
    import torch.nn.functional as F

    layers = [m for m in convolutions if isinstance(m, torch.nn.Conv2d)]
    depth, (n, _, rows, cols) = len(layers), h.shape
    widest = max(layer.out_channels for layer in layers)
    band = max(8, CHUNK_BYTES // (widest * cols * h.element_size()))
    out = torch.empty((n, layers[-1].out_channels, rows, cols), dtype=h.dtype, device=h.device)
    for top in range(0, rows, band):
        bottom = min(top + band, rows)
        lo, hi = max(top - depth, 0), min(bottom + depth, rows)  # rows of x held, [lo, hi)
        x = h[:, :, lo:hi]
        for layer in layers:
            x = F.pad(x, (0, 0, 1 if lo == 0 else 0, 1 if hi == rows else 0))
            x = F.conv2d(x, layer.weight, layer.bias, padding=(0, 1)).relu_()
            lo, hi = (lo + 1 if lo > 0 else 0), (hi - 1 if hi < rows else rows)
        out[:, :, top:bottom] = x[:, :, top - lo : bottom - lo]
    return out
