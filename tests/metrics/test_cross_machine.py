"""A submission gets the same numbers on every machine: BLAS code paths, thread counts, CPUs.

Each setting runs in a process of its own (MKL reads its variables when it loads). MKL
on an AMD CPU takes one code path whatever MKL_ENABLE_INSTRUCTIONS says, so the settings
also include two emulated BLAS paths (tests/utils/score_worker.py): the colour product
summed in another order, and accumulated in float64 as FMA kernels nearly do. Plain
pyiqa moves under them; the engine must not.
"""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from metrics.samples import write_sample_set
from scoring.formula import RAIM_2024

ROOT = Path(__file__).resolve().parents[2]
WORKER = ROOT / "tests" / "utils" / "score_worker.py"
PHOTOS = ROOT / "tests" / "data" / "raim_pairs"

# Exact luma: identical up to float64 reordering. The float32 networks: bounded. The score
# may move only by what the networks moved, through the formula's weights (docs/fidelity.md).
EXACT = ("psnr", "ssim", "niqe")
EXACT_TOLERANCE = 1e-9
NETWORK_TOLERANCE = {"lpips": 1e-6, "dists": 1e-6}
SCORE_SHARE = {t.metric: abs(t.weight / t.scale) for t in RAIM_2024.terms if t.metric in NETWORK_TOLERANCE}

MKL_SETTINGS = {
    "MKL_CBWR=COMPATIBLE": {"MKL_CBWR": "COMPATIBLE"},
    "SSE4_2": {"MKL_ENABLE_INSTRUCTIONS": "SSE4_2"},
    "AVX2": {"MKL_ENABLE_INSTRUCTIONS": "AVX2"},
    "AVX512": {"MKL_ENABLE_INSTRUCTIONS": "AVX512"},
}


@pytest.fixture(scope="module")
def photographs(tmp_path_factory) -> tuple[Path, Path]:
    """The four committed photograph pairs plus two 256x256 sample pairs (more tie pixels)."""
    root = tmp_path_factory.mktemp("machines")
    samples = write_sample_set(root / "samples", count=2, size=256, seed=8)
    pred, gt = root / "pred", root / "gt"
    pred.mkdir()
    gt.mkdir()
    for source, target in ((PHOTOS / "pred", pred), (PHOTOS / "gt", gt)):
        for f in source.iterdir():
            (target / f.name).write_bytes(f.read_bytes())
    for f in samples.pred.iterdir():
        (pred / f"s{f.name}").write_bytes(f.read_bytes())
        (gt / f"s{f.name}").write_bytes((samples.gt / f.name).read_bytes())
    return pred, gt


def _run(photographs, weights_dir, *, env=None, threads=2, engine="fast", blas="native") -> dict:
    pred, gt = photographs
    environment = {k: v for k, v in os.environ.items() if not k.startswith("MKL_")}
    environment.update(env or {})
    done = subprocess.run(
        [sys.executable, str(WORKER), str(pred), str(gt), str(weights_dir),
         "--threads", str(threads), "--engine", engine, "--blas", blas],
        env=environment, capture_output=True, text=True, timeout=600, check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.splitlines()[-1])


def _largest_differences(runs: dict[str, dict]) -> dict[str, float]:
    """For each metric, the largest difference from the first run over all runs and images."""
    first = next(iter(runs.values()))
    worst: dict[str, float] = {}
    for values in runs.values():
        for image, metrics in values.items():
            for metric, value in metrics.items():
                gap = abs(value - first[image][metric])
                worst[metric] = max(worst.get(metric, 0.0), gap)
    return worst


def _assert_machine_independent(runs: dict[str, dict]) -> None:
    worst = _largest_differences(runs)
    print(f"largest differences over {list(runs)}: "  # shown with -s, and on failure
          + ", ".join(f"{metric} {gap:.2g}" for metric, gap in worst.items()))
    for metric in EXACT:
        assert worst[metric] <= EXACT_TOLERANCE, (metric, worst[metric], list(runs))
    for metric, tolerance in NETWORK_TOLERANCE.items():
        assert worst[metric] <= tolerance, (metric, worst[metric], list(runs))
    networks = sum(share * worst[m] for m, share in SCORE_SHARE.items())
    assert worst["score"] <= EXACT_TOLERANCE + networks, (worst, list(runs))


@pytest.mark.slow
def test_engine_gives_the_same_numbers_under_every_mkl_path_and_thread_count(photographs,
                                                                            weights_dir):
    runs = {
        f"{name}, {threads} thread(s)": _run(photographs, weights_dir, env=env, threads=threads)
        for name, env in MKL_SETTINGS.items()
        for threads in (1, 2)
    }
    _assert_machine_independent(runs)


@pytest.mark.slow
@pytest.mark.parametrize("engine", ["fast", "suite"])
def test_engine_gives_the_same_numbers_under_emulated_blas_paths(photographs, weights_dir,
                                                                engine):
    runs = {blas: _run(photographs, weights_dir, engine=engine, blas=blas)
            for blas in ("native", "reversed", "fused")}
    _assert_machine_independent(runs)


@pytest.mark.slow
def test_plain_pyiqa_moves_under_those_paths_so_the_check_can_fail(photographs, weights_dir):
    runs = {blas: _run(photographs, weights_dir, engine="pyiqa", blas=blas)
            for blas in ("native", "fused")}
    worst = _largest_differences(runs)
    assert worst["niqe"] > 1e-5 and worst["score"] > 1e-5, worst
