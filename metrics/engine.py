"""MetricSuite: loads the pyiqa models once, then scores decoded image pairs like the reference."""

from __future__ import annotations

import contextlib
import io
import logging
from collections.abc import Iterable
from pathlib import Path

import numpy as np

from metrics import weights as weights_mod
from metrics.registry import RAIM_CROP, RAIM_METRICS, MetricSpec

log = logging.getLogger(__name__)


def resolve_device(name: str = "auto") -> str:
    """'auto' means CUDA when a GPU is visible, else the CPU."""
    import torch

    if name == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise RuntimeError(f"device {name!r} asked for, but no CUDA GPU is available")
    return name


def to_tensor(image: np.ndarray, crop: int = 0):
    """H x W x 3 uint8 -> 1 x 3 x H x W float32 in [0, 1], borders cropped."""
    import torch

    tensor = torch.from_numpy(np.ascontiguousarray(image)).permute(2, 0, 1).unsqueeze(0)
    tensor = tensor.float() / 255.0
    if crop:
        tensor = tensor[..., crop:-crop, crop:-crop]
    return tensor


class MetricSuite:
    """The metric models of one process, built once and reused for every image."""

    def __init__(
        self,
        weights_dir: Path,
        *,
        device: str = "auto",
        specs: Iterable[MetricSpec] = RAIM_METRICS,
        crop: int = RAIM_CROP,
    ):
        import torch

        self.specs = tuple(specs)
        self.crop = crop
        self.device = resolve_device(device)
        self.weights_dir = Path(weights_dir)
        # Check every file first: a missing one must never turn into a download attempt.
        for spec in self.specs:
            weights_mod.require(self.weights_dir, spec.weights)
        torch.hub.set_dir(str(self.weights_dir))  # where torchvision finds the backbones
        self._models = {spec.name: self._create(spec) for spec in self.specs}

    def _create(self, spec: MetricSpec):
        import pyiqa

        options = dict(spec.options)
        if spec.weights:
            options["pretrained_model_path"] = str(self.weights_dir / spec.weights[0])
        chatter = io.StringIO()  # pyiqa prints "Loading pretrained model …" on stdout
        with contextlib.redirect_stdout(chatter):
            model = pyiqa.create_metric(spec.pyiqa_name, device=self.device, **options)
        for line in chatter.getvalue().splitlines():
            log.debug(line)
        model.eval()
        return model

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(spec.name for spec in self.specs)

    def versions(self) -> dict[str, str]:
        return {spec.name: spec.version for spec in self.specs}

    def model(self, name: str):
        """The loaded pyiqa model of one metric (shared with metrics.pipeline, never rebuilt)."""
        return self._models[name]

    def score(self, pred: np.ndarray, gt: np.ndarray | None) -> dict[str, float]:
        """Every metric for one pair of decoded images (gt may be None for no-reference only)."""
        import torch

        pred_t = to_tensor(pred, self.crop)
        gt_t = to_tensor(gt, self.crop) if gt is not None else None
        values: dict[str, float] = {}
        with torch.inference_mode():
            for spec in self.specs:
                model = self._models[spec.name]
                if spec.full_reference:
                    if gt_t is None:
                        raise ValueError(f"{spec.name} needs a ground-truth image")
                    out = model(pred_t, gt_t)
                else:
                    out = model(pred_t)
                values[spec.name] = float(out.reshape(-1)[0].item())
        return values
