"""The CUDA code paths against the CPU path: the fast engine (pair-batched DISTS on a GPU),
StagedDists batched and not, the ground-truth feature cache read back on the device.

Each test runs on the CPU and on CUDA; the CUDA runs skip where no CUDA device is visible.
Bounds: docs/fidelity.md, "GPUs" (``metrics.numerics.CPU_CUDA_BOUNDS``); batched against
unbatched and cached against computed on one device: 1e-4 relative.
"""

from pathlib import Path

import pytest
import torch

from metrics.engine import MetricSuite, Prepared
from metrics.fast_dists import StagedDists
from metrics.images import decode
from metrics.numerics import CPU_CUDA_BOUNDS, scoring_mode
from metrics.pipeline import FastScorer
from metrics.samples import write_sample_set

NO_CUDA = ("no CUDA device is visible: this compares the CUDA path with the CPU path and runs "
           "on a GPU machine (bench/gpu_check.py prints the same comparison at full size)")
DEVICES = ["cpu", pytest.param("cuda", marks=pytest.mark.skipif(
    not torch.cuda.is_available(), reason=NO_CUDA))]
SAME_DEVICE = 1e-4  # relative: another summation order on one device, never a pinned value

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def photo_set(tmp_path_factory):
    return write_sample_set(tmp_path_factory.mktemp("cuda"), count=3, size=112, seed=5)


def _pairs(samples) -> list[tuple[str, object, object]]:
    return [(p.stem, decode(p.read_bytes()), decode((samples.gt / p.name).read_bytes()))
            for p in sorted(samples.pred.glob("*.png"))]


def _sources(pairs):
    return [(name, lambda p=p: p, lambda g=g: g) for name, p, g in pairs]


@pytest.fixture(scope="module")
def cpu_reference(raim_suite, photo_set):
    """The CPU reference loop's numbers: what every device must give, within the bounds."""
    return {name: raim_suite.score(pred, gt) for name, pred, gt in _pairs(photo_set)}


@pytest.fixture(scope="module")
def suites(raim_suite, weights_dir):
    loaded = {"cpu": raim_suite}

    def on(device: str) -> MetricSuite:
        if device not in loaded:
            loaded[device] = MetricSuite(weights_dir, device=device)
        return loaded[device]

    return on


def _scorer(suite: MetricSuite, **cache) -> FastScorer:
    return FastScorer(Path(suite.weights_dir), suite=suite, reuse_memory=False, **cache)


@pytest.mark.parametrize("device", DEVICES)
def test_fast_engine_agrees_with_the_cpu_reference_within_the_bounds(
    device, suites, photo_set, cpu_reference
):
    scorer = _scorer(suites(device))
    assert scorer._dists.pair_batch is device.startswith("cuda")  # a GPU batches the pair
    for name, values in scorer.score_pairs(_sources(_pairs(photo_set))):
        for metric, bound in CPU_CUDA_BOUNDS.items():
            assert values[metric] == pytest.approx(cpu_reference[name][metric], abs=bound), (
                name, metric)


@pytest.mark.parametrize("device", DEVICES)
def test_pair_batched_dists_equals_the_unbatched_path(device, suites, photo_set):
    suite = suites(device)
    batched = StagedDists(suite.model("dists"), pair_batch=True)
    unbatched = StagedDists(suite.model("dists"), pair_batch=False)
    for _, pred, gt in _pairs(photo_set):
        with scoring_mode():
            pred_t = Prepared(pred, suite.crop).tensor().to(suite.device)
            gt_t = Prepared(gt, suite.crop).tensor().to(suite.device)
            assert batched(pred_t, gt_t) == pytest.approx(unbatched(pred_t, gt_t), rel=SAME_DEVICE)


@pytest.mark.parametrize("device", DEVICES)
def test_cached_features_give_the_computed_score(device, suites, photo_set, tmp_path):
    """The default cache (stages 3-5, a share of the disk) filled on first use, then read."""
    suite = suites(device)
    plain = dict(_scorer(suite).score_pairs(_sources(_pairs(photo_set))))
    cached = _scorer(suite, gt_cache_dir=tmp_path, gt_cache_max_bytes=20 * 1024**3,
                     gt_cache_free_share=0.1, gt_cache_from_stage=3)
    first = dict(cached.score_pairs(_sources(_pairs(photo_set))))
    second = dict(cached.score_pairs(_sources(_pairs(photo_set))))
    stats = cached.gt_cache.stats()
    assert (stats["misses"], stats["hits"], stats["entries"]) == (3, 3, 3)
    for name, values in plain.items():
        for metric in values:
            assert first[name][metric] == pytest.approx(values[metric], rel=SAME_DEVICE)
            assert second[name][metric] == pytest.approx(values[metric], rel=SAME_DEVICE)
