"""FastScorer: the RAIM metrics for a stream of image pairs, pipelined, with MetricSuite's numbers.

Same models, same options, same 4-pixel crop, same exact luma planes as
``metrics.engine.MetricSuite`` (it is built on one), but organised for throughput:

- the next pairs are decoded and prepared (cropped, luma planes computed) in a thread
  pool while the current one is scored;
- the CPU metrics (NIQE, and SSIM through ``metrics.fast_ssim``) run in that pool beside
  the networks and PSNR, which keep the calling thread (on the CPU, beside PSNR and LPIPS
  only: DISTS starts when they are done, so that their memory peaks do not add up);
- DISTS runs stage by stage (``metrics.fast_dists``), so memory stays at one pair's
  working set, and can read the ground truth's features from a ``GtFeatureCache``;
- every model call runs under ``metrics.numerics.scoring_mode`` (no gradients, no TF32);
- on glibc, freed blocks are kept for reuse while a pair is scored (``keep_freed_memory``):
  by default every 100 MB+ tensor is a fresh mapping whose pages the kernel zeroes, which
  cost a third of DISTS's CPU time at 1024x1024 in the profile (bench/NOTES.md); between
  pairs the free pages go back (``give_back_freed_memory``), so that peak RSS does not
  creep up with the number of pairs.

Results come back in input order, one ``(name, values)`` per pair, as soon as each is done.

A formula that reads the images otherwise (``metrics.registry.Measure``: RGB, another crop,
fewer metrics) is scored pair by pair by a suite derived from this one (``MetricSuite.derive``:
the loaded networks are shared), each metric computed by pyiqa's own network. Either way a
prediction of another size is refused, or resized to its ground truth's when the measure says so.
"""

from __future__ import annotations

import ctypes
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

import numpy as np

from metrics import fast_ssim
from metrics.engine import MetricSuite, Prepared
from metrics.fast_dists import GtFeatureCache, StagedDists
from metrics.images import resize_to
from metrics.numerics import scoring_mode
from metrics.registry import RAIM_METRICS, SSIM, Measure

Loader = Callable[[], np.ndarray]  # returns one decoded H x W x 3 uint8 RGB image
PairSource = tuple[str, Loader, Loader]  # (name, prediction loader, ground-truth loader)
Decoded = tuple[np.ndarray, Prepared, Prepared]  # the raw ground truth (its cache key), both prepared

# glibc mallopt parameters (malloc.h)
_M_TRIM_THRESHOLD = -1
_M_MMAP_THRESHOLD = -3
_M_MMAP_MAX = -4
_M_ARENA_MAX = -8
_MMAP_MAX_DEFAULT = 65536
# Blocks this big or bigger are mappings of their own, given back when freed: at 1024x1024
# only DISTS's stage-1 feature maps (258 MiB each). Kept in the heap, they left holes the
# other blocks could not fill: one DISTS call took 1.7 to 2.1 GB over the models instead of
# 1.4 GB (its live peak), and NIQE 0.9 GB instead of 0.4 (bench/NOTES.md, section 5).
HUGE_BLOCK_BYTES = 200 * 1024**2


def keep_freed_memory() -> bool:
    """Process-wide: glibc serves big blocks from its heap and keeps freed ones for reuse.

    One arena for all threads, so that blocks freed by one thread serve the others (with
    per-thread arenas peak RSS was 3.6 GB after 4 pairs of 1024x1024, 2.8 GB with one).
    Blocks of ``HUGE_BLOCK_BYTES`` and more stay mappings of their own (the kernel zeroes
    their pages each time: the price of not fragmenting the heap). Freed memory is kept
    while a pair is scored; ``FastScorer`` gives it back after each pair
    (``give_back_freed_memory``): kept across pairs, the heap fragmented slowly, 3.95 GB
    after 100 pairs (bench/RESULTS.md). False where the C library is not glibc.
    """
    try:
        mallopt = ctypes.CDLL("libc.so.6").mallopt
    except (OSError, AttributeError):
        return False
    settings = ((_M_ARENA_MAX, 1), (_M_MMAP_MAX, _MMAP_MAX_DEFAULT),
                (_M_MMAP_THRESHOLD, HUGE_BLOCK_BYTES), (_M_TRIM_THRESHOLD, -1))
    return all(bool(mallopt(option, value)) for option, value in settings)


def give_back_freed_memory() -> bool:
    """glibc's ``malloc_trim(0)``: the free pages of the heap, also between used blocks, go
    back to the kernel. Called between pairs, so that the next pair faults in pages afresh
    once (a fraction of a second) instead of the heap's holes adding up over a submission;
    False where the C library is not glibc."""
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):
        return False
    return True


def _one_torch_thread() -> None:
    """Pool threads run the CPU metrics with one intra-op thread each (a per-thread setting),
    so that they do not oversubscribe the cores the networks' threads are using."""
    import torch

    torch.set_num_threads(1)


def fit_prediction(name: str, pred: np.ndarray, gt: np.ndarray, resize: bool) -> np.ndarray:
    """The prediction, resized to the ground truth's size when ``resize`` (else a size
    difference is an error naming the image and both sizes)."""
    if pred.shape == gt.shape:
        return pred
    if resize:
        return resize_to(pred, gt.shape[1], gt.shape[0])
    raise ValueError(
        f"{name}: prediction {pred.shape[1]}x{pred.shape[0]} and ground truth "
        f"{gt.shape[1]}x{gt.shape[0]} differ in size"
    )


class FastScorer:
    """The five RAIM metrics, models loaded once, scoring pairs in a pipeline."""

    def __init__(
        self,
        weights_dir: Path,
        *,
        device: str = "auto",
        threads: int = 2,
        prefetch: int = 1,
        gt_cache_dir: Path | None = None,
        gt_cache_max_bytes: int = 0,
        gt_cache_free_share: float = 1.0,
        gt_cache_from_stage: int = 3,
        reuse_memory: bool = True,
        suite: MetricSuite | None = None,
    ):
        """``threads``: decode and CPU-metric workers; ``prefetch``: pairs decoded ahead (one
        hides decoding, ~0.05 s against seconds of scoring; each more holds another prepared
        pair, tens of MB at 1024x1024, through DISTS's memory peak);
        ``gt_cache_*``: the ground-truth DISTS feature cache (off unless a dir and a budget:
        at most ``gt_cache_max_bytes`` and ``gt_cache_free_share`` of its disk);
        ``reuse_memory``: call ``keep_freed_memory()``; ``suite``: an already loaded
        MetricSuite with the RAIM specs to reuse (its weights and device then apply)."""
        if threads < 1 or prefetch < 1:
            raise ValueError(
                f"threads and prefetch must be at least 1, got {threads} and {prefetch}"
            )
        if suite is None:
            suite = MetricSuite(weights_dir, device=device, specs=RAIM_METRICS)
        if suite.specs != RAIM_METRICS:
            raise ValueError(f"FastScorer reproduces the RAIM metrics only, not {suite.names}")
        self.suite = suite
        self.reuse_memory = reuse_memory and keep_freed_memory()
        self.crop = self.suite.crop
        self.threads = threads
        self.prefetch = prefetch
        cache = None
        if gt_cache_dir is not None and gt_cache_max_bytes > 0:
            cache = GtFeatureCache(
                gt_cache_dir,
                max_bytes=gt_cache_max_bytes,
                free_share=gt_cache_free_share,
                first_stage=gt_cache_from_stage,
                salt=self._cache_salt(),
            )
        self.gt_cache = cache
        self._derived: dict[Measure, MetricSuite] = {}
        on_gpu = self.suite.device.startswith("cuda")
        self._dists_on_device = on_gpu  # its memory is the device's: overlap the CPU metrics
        self._dists = StagedDists(self.suite.model("dists"), cache=cache, pair_batch=on_gpu)

    def _cache_salt(self) -> str:
        import torch

        return f"{self.suite.versions()['dists']}|torch-{torch.__version__}|{self.suite.device}"

    @property
    def names(self) -> tuple[str, ...]:
        return self.suite.names

    def versions(self) -> dict[str, str]:
        """The suite's versions, SSIM's naming the vectorised code that computes it here."""
        return {**self.suite.versions(), "ssim": f"{fast_ssim.VERSION} (reproduces {SSIM.version})"}

    # -- one pair ----------------------------------------------------------------------

    def _cpu_metrics(self, name: str, pred: Prepared, gt: Prepared) -> dict[str, float]:
        """SSIM (always on the CPU) and NIQE (on the suite's device), run off the calling thread."""
        luma = SSIM.luma
        return {
            "ssim": fast_ssim.ssim_y(
                pred.luma.rounded(luma.color_space).astype(np.float64),
                gt.luma.rounded(luma.color_space).astype(np.float64),
            ),
            "niqe": self.suite.metric("niqe", pred, None, name),
        }

    def _dists_of(self, pred: Prepared, gt: Prepared, gt_key: str | None) -> float:
        device = self.suite.device
        with scoring_mode():
            pred_d, gt_d = pred.tensor().to(device), gt.tensor().to(device)
            return self._dists(pred_d, gt_d, gt_key=gt_key)

    def score(self, pred: np.ndarray, gt: np.ndarray) -> dict[str, float]:
        """Every metric of one decoded pair, in the suite's metric order (no pipelining)."""
        return next(self.score_pairs([("image", lambda: pred, lambda: gt)]))[1]

    def fill_gt_cache(self, ground_truths: Iterable[Loader]) -> int:
        """Store the ground truths' DISTS features ahead of any submission (for example when
        a phase's data is uploaded); returns how many were stored (cached ones are skipped)."""
        if self.gt_cache is None:
            raise ValueError("no ground-truth cache is configured (a directory and a byte budget)")
        stored = 0
        for load in ground_truths:
            gt = load()
            with scoring_mode():
                gt_t = self.suite.prepare(gt).tensor().to(self.suite.device)
                stored += self._dists.store_gt(gt_t, self.gt_cache.key(gt, self.crop))
        return stored

    # -- a stream of pairs ---------------------------------------------------------------

    def versions_for(self, measure: Measure | None = None) -> dict[str, str]:
        """The versions of what ``score_pairs(…, measure)`` computes."""
        if measure is None or measure.reference:
            return self.versions()
        return self._suite_for(measure).versions()

    def _suite_for(self, measure: Measure) -> MetricSuite:
        key = Measure(measure.metrics, measure.color, measure.crop)
        if key not in self._derived:
            self._derived[key] = self.suite.derive(key.specs, key.crop)
        return self._derived[key]

    def score_pairs(
        self, pairs: Iterable[PairSource], measure: Measure | None = None
    ) -> Iterator[tuple[str, dict[str, float]]]:
        """(name, metric values) for each (name, pred loader, gt loader), in input order.

        ``measure`` None or a reference one (Y, 4-pixel crop): the five RAIM metrics, pipelined;
        else the measure's metrics, pair by pair (module notes).
        """
        resize = measure is not None and measure.resize
        if measure is not None and not measure.reference:
            yield from self._score_plain(pairs, measure)
            return
        with ThreadPoolExecutor(
            self.threads, thread_name_prefix="raim-score", initializer=_one_torch_thread
        ) as pool:
            pending: deque[tuple[str, Future[Decoded]]] = deque()
            source = iter(pairs)
            try:
                self._fill(pool, source, pending, resize)
                while pending:
                    name, decoded = pending.popleft()
                    prepared = decoded.result()
                    self._fill(pool, source, pending, resize)
                    values = self._score_decoded(pool, name, *prepared)
                    del prepared, decoded
                    if self.reuse_memory:
                        give_back_freed_memory()  # no heap holes carried to the next pair
                    yield name, values
            finally:
                for _, future in pending:
                    future.cancel()

    def _fill(
        self,
        pool: ThreadPoolExecutor,
        source: Iterator[PairSource],
        pending: deque[tuple[str, Future[Decoded]]],
        resize: bool = False,
    ) -> None:
        while len(pending) < self.prefetch:
            item = next(source, None)
            if item is None:
                return
            name, load_pred, load_gt = item
            pending.append((name, pool.submit(self._decode_pair, name, load_pred, load_gt, resize)))

    def _score_plain(
        self, pairs: Iterable[PairSource], measure: Measure
    ) -> Iterator[tuple[str, dict[str, float]]]:
        suite = self._suite_for(measure)
        for name, load_pred, load_gt in pairs:
            gt = load_gt()
            pred = fit_prediction(name, load_pred(), gt, measure.resize)
            yield name, suite.score(pred, gt, name)

    def _decode_pair(
        self, name: str, load_pred: Loader, load_gt: Loader, resize: bool = False
    ) -> Decoded:
        """Decode, crop and check one pair, and compute its luma planes (in a pool thread)."""
        gt = load_gt()
        pred = fit_prediction(name, load_pred(), gt, resize)
        pred_p, gt_p = self.suite.prepare(pred), self.suite.prepare(gt)
        self.suite.check(name, pred_p)
        for spec in self.suite.specs:  # every input the metrics read, made here, off the hot path
            pred_p.tensor(spec.luma)
            if spec.full_reference:
                gt_p.tensor(spec.luma)
        return gt, pred_p, gt_p

    def _score_decoded(
        self,
        pool: ThreadPoolExecutor,
        name: str,
        gt: np.ndarray,
        pred_p: Prepared,
        gt_p: Prepared,
    ) -> dict[str, float]:
        cpu = pool.submit(self._cpu_metrics, name, pred_p, gt_p)
        key = self.gt_cache.key(gt, self.crop) if self.gt_cache is not None else None
        values = {
            "psnr": self.suite.metric("psnr", pred_p, gt_p, name),
            "lpips": self.suite.metric("lpips", pred_p, gt_p, name),
        }
        if not self._dists_on_device:
            # On the CPU, DISTS waits for NIQE and SSIM: they share the cores anyway, and
            # NIQE's 0.4 GB need not come on top of DISTS's 1 GB peak (bench/RESULTS.md).
            values.update(cpu.result())
        values["dists"] = self._dists_of(pred_p, gt_p, key)
        values.update(cpu.result())
        return {metric: values[metric] for metric in self.names}
