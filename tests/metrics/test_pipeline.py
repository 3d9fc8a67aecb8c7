"""metrics.pipeline.FastScorer gives MetricSuite's numbers, in order, through its pipeline."""

from pathlib import Path

import pytest

from metrics.fast_dists import StagedDists
from metrics.images import InvalidInput, Problem, decode
from metrics.pipeline import FastScorer
from metrics.samples import write_sample_set

# The fast engine gives the reference loop's numbers: the same pyiqa calls on the same inputs
# (SSIM through metrics.fast_ssim agrees to ~1e-14).
TOLERANCE = {"psnr": 1e-9, "ssim": 1e-9, "lpips": 1e-7, "dists": 1e-7, "niqe": 1e-9}

# 112x112: after the 4-pixel crop NIQE needs at least one 96x96 block (96x96 would leave 88x88).
SIZE = 112


@pytest.fixture(scope="module")
def photo_set(tmp_path_factory):
    return write_sample_set(tmp_path_factory.mktemp("pipeline"), count=3, size=SIZE, seed=11)


def _loader(path: Path):
    return lambda: decode(path.read_bytes(), path.name)


def _sources(samples, names=None):
    files = sorted(samples.pred.glob("*.png"))
    if names is not None:
        files = [samples.pred / f"{n}.png" for n in names]
    return [(f.stem, _loader(f), _loader(samples.gt / f.name)) for f in files]


@pytest.fixture(scope="module")
def reference(raim_suite, photo_set):
    return {
        name: raim_suite.score(load_pred(), load_gt())
        for name, load_pred, load_gt in _sources(photo_set)
    }


@pytest.fixture(scope="module")
def scorer(raim_suite):
    return FastScorer(
        raim_suite.weights_dir, suite=raim_suite, reuse_memory=False, threads=2, prefetch=2
    )


def _assert_agrees(values, expected):
    assert tuple(values) == tuple(expected)
    for metric, tolerance in TOLERANCE.items():
        assert values[metric] == pytest.approx(expected[metric], abs=tolerance), metric


@pytest.mark.slow
def test_score_pairs_matches_reference_suite_on_every_metric(scorer, photo_set, reference):
    results = list(scorer.score_pairs(_sources(photo_set)))
    assert [name for name, _ in results] == sorted(reference)
    for name, values in results:
        _assert_agrees(values, reference[name])


@pytest.mark.slow
def test_score_pairs_keeps_input_order(scorer, photo_set, reference):
    order = ["003", "001", "002"]
    results = list(scorer.score_pairs(_sources(photo_set, order)))
    assert [name for name, _ in results] == order
    for name, values in results:
        _assert_agrees(values, reference[name])


@pytest.mark.slow
def test_score_pairs_raises_the_decode_error_naming_the_file(scorer, photo_set):
    def broken():
        raise InvalidInput([Problem("002.png", "not a decodable image")])

    sources = _sources(photo_set)
    sources[1] = (sources[1][0], broken, sources[1][2])
    results = scorer.score_pairs(sources)
    assert next(results)[0] == "001"
    with pytest.raises(InvalidInput, match="002.png: not a decodable image"):
        next(results)


@pytest.mark.slow
def test_score_pairs_rejects_a_size_mismatch_naming_both_sizes(scorer, photo_set):
    pred = decode((photo_set.pred / "001.png").read_bytes())
    gt = decode((photo_set.gt / "001.png").read_bytes())[:, : SIZE - 8]
    with pytest.raises(
        ValueError, match=f"001: prediction {SIZE}x{SIZE} and ground truth {SIZE - 8}x{SIZE}"
    ):
        list(scorer.score_pairs([("001", lambda: pred, lambda: gt)]))


def _cached_scorer(suite, cache_dir, *, max_bytes: int, from_stage: int) -> FastScorer:
    return FastScorer(suite.weights_dir, suite=suite, reuse_memory=False, gt_cache_dir=cache_dir,
                      gt_cache_max_bytes=max_bytes, gt_cache_from_stage=from_stage)


@pytest.mark.slow
def test_gt_cache_warm_pass_gives_the_same_numbers(raim_suite, photo_set, reference, tmp_path):
    cached = _cached_scorer(raim_suite, tmp_path, max_bytes=10**9, from_stage=1)
    first = dict(cached.score_pairs(_sources(photo_set)))
    entries = sorted(p.name for p in tmp_path.iterdir())
    assert len(entries) == 3 and not any(e.startswith(".") for e in entries)
    second = dict(cached.score_pairs(_sources(photo_set)))
    for name, expected in reference.items():
        _assert_agrees(first[name], expected)
        assert second[name] == first[name]  # features read back exactly: bit-identical


@pytest.mark.slow
def test_gt_cache_stores_nothing_beyond_its_byte_budget(raim_suite, photo_set, reference, tmp_path):
    tiny = _cached_scorer(raim_suite, tmp_path, max_bytes=1000, from_stage=5)
    results = dict(tiny.score_pairs(_sources(photo_set)))
    assert list(tmp_path.iterdir()) == []
    for name, expected in reference.items():
        _assert_agrees(results[name], expected)


@pytest.mark.slow
def test_staged_dists_in_pair_batches_matches_pyiqa(raim_suite, photo_set, reference):
    import torch

    from metrics.engine import Prepared

    batched = StagedDists(raim_suite.model("dists"), pair_batch=True)  # the GPU layout, run on CPU
    for name, load_pred, load_gt in _sources(photo_set):
        with torch.inference_mode():
            value = batched(Prepared(load_pred(), 4).tensor(), Prepared(load_gt(), 4).tensor())
        assert value == pytest.approx(reference[name]["dists"], abs=TOLERANCE["dists"])


@pytest.mark.slow
def test_versions_are_the_reference_suites_but_name_the_ssim_code(scorer, raim_suite):
    fast, reference = scorer.versions(), raim_suite.versions()
    assert fast.keys() == reference.keys() and fast["numerics"] == reference["numerics"]
    assert {k: v for k, v in fast.items() if k != "ssim"} == {
        k: v for k, v in reference.items() if k != "ssim"
    }
    assert fast["ssim"].startswith("raim-fast-ssim-") and reference["ssim"] in fast["ssim"]


def test_scorer_refuses_a_suite_with_other_metrics(tmp_path):
    from metrics.engine import MetricSuite
    from metrics.registry import PSNR

    partial = MetricSuite(tmp_path, device="cpu", specs=[PSNR])  # PSNR needs no weight file
    with pytest.raises(ValueError, match="RAIM metrics only"):
        FastScorer(tmp_path, suite=partial)


@pytest.mark.slow
def test_fill_gt_cache_ahead_of_submissions_gives_the_same_numbers(
    raim_suite, photo_set, reference, tmp_path
):
    filled = _cached_scorer(raim_suite, tmp_path, max_bytes=10**9, from_stage=2)
    ground_truths = [_loader(p) for p in sorted(photo_set.gt.glob("*.png"))]
    assert filled.fill_gt_cache(ground_truths) == 3
    assert filled.fill_gt_cache(ground_truths) == 0  # already there
    for name, values in filled.score_pairs(_sources(photo_set)):
        _assert_agrees(values, reference[name])


@pytest.mark.slow
def test_fill_gt_cache_without_a_cache_says_so(scorer, photo_set):
    with pytest.raises(ValueError, match="no ground-truth cache is configured"):
        scorer.fill_gt_cache([_loader(photo_set.gt / "001.png")])
