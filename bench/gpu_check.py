"""Scores one real-photograph set on the CPU and on CUDA and prints the largest difference per metric.

    .venv/bin/python bench/gpu_check.py                # 8 pairs of 512x512
    .venv/bin/python bench/gpu_check.py --pairs 20 --size 1024

Both sides run ``metrics.pipeline.FastScorer`` (what the workers run) on the same decoded
pairs; the GPU side also runs ``MetricSuite`` (the reference loop), so that the GPU's own
two engines are compared too. The card, the torch and CUDA versions and the pinned flags
(``metrics.numerics``) are printed first, ready for bench/RESULTS.md. Exit status 2 when
no CUDA device is visible, 1 when a metric differs beyond docs/fidelity.md's bounds.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))



def main(argv: list[str] | None = None) -> int:
    from app.config import get_settings

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pairs", type=int, default=8)
    parser.add_argument("--size", type=int, default=512)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--weights-dir", type=Path, default=get_settings().weights_dir)
    args = parser.parse_args(argv)

    import torch

    if not torch.cuda.is_available():
        print("no CUDA device is visible: nothing to compare (run this on a GPU worker)")
        return 2
    from metrics.images import decode
    from metrics.numerics import CPU_CUDA_BOUNDS
    from metrics.pipeline import FastScorer
    from metrics.samples import write_sample_set

    print(f"device: {torch.cuda.get_device_name(0)}; torch {torch.__version__}, CUDA "
          f"{torch.version.cuda}, cuDNN {torch.backends.cudnn.version()}")
    with tempfile.TemporaryDirectory(prefix="raim-gpu-check-") as tmp:
        samples = write_sample_set(Path(tmp), count=args.pairs, size=args.size, seed=args.seed)
        pairs = [(p.stem, decode(p.read_bytes()), decode((samples.gt / p.name).read_bytes()))
                 for p in sorted(samples.pred.glob("*.png"))]
    sources = [(name, lambda p=p: p, lambda g=g: g) for name, p, g in pairs]
    results = {}
    for device in ("cpu", "cuda"):
        scorer = FastScorer(args.weights_dir, device=device, reuse_memory=False)
        results[device] = dict(scorer.score_pairs(sources))
        if device == "cuda":
            suite = scorer.suite
            results["cuda reference loop"] = {n: suite.score(p, g, n) for n, p, g in pairs}
    print(f"flags inside a metric call: {torch_flags_in_call()}")
    print("| metric | max abs CPU vs CUDA | max abs CUDA fast vs CUDA reference | bound |")
    print("|---|---|---|---|")
    failed = False
    for metric, bound in CPU_CUDA_BOUNDS.items():
        gaps = [max(abs(results[a][n][metric] - results[b][n][metric]) for n, _, _ in pairs)
                for a, b in (("cpu", "cuda"), ("cuda", "cuda reference loop"))]
        failed |= gaps[0] > bound
        print(f"| {metric} | {gaps[0]:.3g} | {gaps[1]:.3g} | {bound:g} |")
    return 1 if failed else 0


def torch_flags_in_call() -> dict:
    from metrics.numerics import scoring_mode, torch_flags

    with scoring_mode():
        return torch_flags()


if __name__ == "__main__":
    sys.exit(main())
