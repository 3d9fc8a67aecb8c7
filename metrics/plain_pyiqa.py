"""The organisers' procedure with plain pyiqa, none of the engine's numerics: the yardstick.

docs/fidelity.md, ``bench/score_bench.py`` and the cross-machine tests compare the engine
with this: every metric created by ``pyiqa.create_metric`` with the RAIM options (loaded
by ``MetricSuite``, which does only that) and called through pyiqa's own ``forward`` on
1 x 3 x H x W float32 RGB in [0, 1], borders cropped, so pyiqa converts colours itself
(with a float32 product whose rounding follows the BLAS path: what it is here to show).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np

from metrics.registry import RAIM_CROP, RAIM_METRICS


def plain_pyiqa(weights_dir: Path, device: str = "cpu") -> Callable[[np.ndarray, np.ndarray], dict]:
    """A function scoring one decoded (prediction, ground truth) pair with plain pyiqa."""
    import torch

    from metrics.engine import MetricSuite  # only to load pyiqa's models, each by create_metric

    suite = MetricSuite(weights_dir, device=device, specs=RAIM_METRICS, crop=RAIM_CROP)

    def tensor(image: np.ndarray):
        t = torch.from_numpy(np.ascontiguousarray(image)).permute(2, 0, 1).unsqueeze(0)
        return (t.float() / 255.0)[..., RAIM_CROP:-RAIM_CROP, RAIM_CROP:-RAIM_CROP]

    def score(pred: np.ndarray, gt: np.ndarray) -> dict[str, float]:
        x, y = tensor(pred), tensor(gt)
        with torch.no_grad():  # through each model's own forward: pyiqa converts colours itself
            return {
                spec.name: float(suite.model(spec.name)(x, y) if spec.full_reference
                                 else suite.model(spec.name)(x))
                for spec in RAIM_METRICS
            }

    return score
