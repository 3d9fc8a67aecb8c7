"""Scores image pairs in a process of its own and prints the values as JSON (cross-machine tests).

    python tests/utils/score_worker.py PRED_DIR GT_DIR WEIGHTS_DIR
        [--threads N] [--engine suite|fast|pyiqa] [--blas native|reversed|fused]

The parent sets the MKL variables (MKL_CBWR, MKL_ENABLE_INSTRUCTIONS) in this process's
environment; they must be set before MKL loads, hence a process per setting. ``--blas``
emulates, on any CPU, what other BLAS code paths do to a float32 product: it replaces
``torch.matmul`` of float32 tensors by a 3x3 matrix (pyiqa's colour conversions, the only
such products in the five metrics) with the same sum in another order (``reversed``) or
accumulated in float64 and rounded once (``fused``, as FMA kernels come close to). On a
CPU whose MKL takes one path whatever the variables say (AMD), this is how the test still
sees the machine dependence that the engine must not have.
"""

import argparse
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))


def emulate_blas(order: str) -> None:
    import torch

    native = torch.matmul

    def matmul(a, b, *args, **kwargs):
        if a.dtype == torch.float32 and b.shape == (3, 3) and a.shape[-1] == 3 and not args:
            if order == "fused":
                return native(a.double(), b.double()).float()
            x0, x1, x2 = a[..., 0:1], a[..., 1:2], a[..., 2:3]
            return x0 * b[0] + (x1 * b[1] + x2 * b[2])
        return native(a, b, *args, **kwargs)

    torch.matmul = matmul


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("pred", type=Path)
    parser.add_argument("gt", type=Path)
    parser.add_argument("weights", type=Path)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--engine", choices=("suite", "fast", "pyiqa"), default="fast")
    parser.add_argument("--blas", choices=("native", "reversed", "fused"), default="native")
    args = parser.parse_args()

    import torch

    torch.set_num_threads(args.threads)
    if args.blas != "native":
        emulate_blas(args.blas)
    from metrics.images import decode
    from scoring.formula import RAIM_2024

    names = sorted(p.stem for p in args.pred.iterdir())

    def load(folder: Path, stem: str):
        return decode(next(folder.glob(f"{stem}.*")).read_bytes(), stem)

    if args.engine == "fast":
        from metrics.pipeline import FastScorer

        scorer = FastScorer(args.weights, device="cpu", reuse_memory=False)
        sources = [(n, lambda n=n: load(args.pred, n), lambda n=n: load(args.gt, n)) for n in names]
        values = dict(scorer.score_pairs(sources))
    else:
        if args.engine == "suite":
            from metrics.engine import MetricSuite

            score = MetricSuite(args.weights, device="cpu").score
        else:
            from metrics.plain_pyiqa import plain_pyiqa

            score = plain_pyiqa(args.weights)
        values = {n: score(load(args.pred, n), load(args.gt, n)) for n in names}
    for v in values.values():
        v["score"] = RAIM_2024.score(v)
    print(json.dumps(values))


if __name__ == "__main__":
    main()
