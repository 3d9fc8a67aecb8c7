"""MetricSuite: loads the pyiqa models once, then scores decoded image pairs like the reference.

The reference procedure (docs/fidelity.md) with one change that makes it exact: the
metrics that read a Y plane (PSNR, SSIM, NIQE) are given it computed in integers by
``metrics.luma``, once per image, instead of converting RGB themselves with a float32
product whose rounding follows the CPU. pyiqa still computes every metric; each network
is called inside ``metrics.numerics.scoring_mode``.
"""

from __future__ import annotations

import contextlib
import io
import logging
import math
from collections.abc import Iterable
from pathlib import Path

import numpy as np

from metrics import weights as weights_mod
from metrics.images import InvalidInput, Problem
from metrics.luma import LumaPlanes
from metrics.numerics import NUMERICS_VERSION, configure_torch, scoring_mode
from metrics.registry import RAIM_CROP, RAIM_METRICS, LumaInput, MetricSpec

log = logging.getLogger(__name__)


class MetricUndefined(InvalidInput):
    """A metric has no value for an image (a flat image's NIQE, say): one problem naming both.

    An InvalidInput, so the service fails the submission at once and never retries it.
    """


def resolve_device(name: str = "auto") -> str:
    """'auto' means CUDA when a GPU is visible, else the CPU."""
    import torch

    if name == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise RuntimeError(f"device {name!r} asked for, but no CUDA GPU is available")
    return name


class Prepared:
    """One decoded image with its borders cropped, and each input a metric reads, made once."""

    def __init__(self, image: np.ndarray, crop: int = 0):
        cropped = image[crop:-crop, crop:-crop] if crop else image
        self.rgb = np.ascontiguousarray(cropped)
        self.luma = LumaPlanes(self.rgb)
        self._tensors: dict[LumaInput | None, object] = {}

    def tensor(self, luma: LumaInput | None = None):
        """1 x 3 x H x W float32 RGB in [0, 1] (``luma`` None), else the 1 x 1 x H x W float64
        Y plane in [0, 1] that pyiqa reads: exact, or integer levels over 255 (pyiqa's own
        ``* 255`` and rounding give those levels back exactly)."""
        import torch

        if luma not in self._tensors:
            if luma is None:
                plane = torch.from_numpy(self.rgb).permute(2, 0, 1).unsqueeze(0).float() / 255.0
            elif luma.rounded:
                levels = self.luma.rounded(luma.color_space)
                plane = torch.from_numpy(levels.astype(np.float64) / 255.0)[None, None]
            else:
                plane = torch.from_numpy(self.luma.exact(luma.color_space))[None, None]
            self._tensors[luma] = plane
        return self._tensors[luma]

    def flat(self, luma: LumaInput) -> bool:
        """True when the plane has a single level (NIQE has nothing to fit: undefined)."""
        plane = self.luma.rounded(luma.color_space)
        return bool(plane.min() == plane.max())


def undefined_problems(name: str, pred: Prepared, specs: Iterable[MetricSpec]) -> list[Problem]:
    """What makes a metric undefined for this prediction, found before any model runs."""
    return [
        Problem(name, f"{spec.name.upper()} is undefined for an image without any variation "
                      "(its luma is one level everywhere after the border crop), so it cannot "
                      "be scored")
        for spec in specs
        if spec.undefined_when_flat and spec.luma is not None and pred.flat(spec.luma)
    ]


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

        configure_torch()
        self.specs = tuple(specs)
        self._by_name = {spec.name: spec for spec in self.specs}
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

    def derive(self, specs: Iterable[MetricSpec], crop: int) -> MetricSuite:
        """A suite of these specs and crop on the same device, sharing this suite's loaded
        models where a spec is the same (only new ones are created: no weights read twice)."""
        suite = object.__new__(MetricSuite)
        suite.specs = tuple(specs)
        suite._by_name = {spec.name: spec for spec in suite.specs}
        suite.crop = crop
        suite.device = self.device
        suite.weights_dir = self.weights_dir
        for spec in suite.specs:
            weights_mod.require(self.weights_dir, spec.weights)
        suite._models = {
            spec.name: self._models[spec.name] if self._by_name.get(spec.name) == spec
            else self._create(spec)
            for spec in suite.specs
        }
        return suite

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(spec.name for spec in self.specs)

    def versions(self) -> dict[str, str]:
        """Each metric's version, and the numerics version under the key ``numerics``."""
        return {**{spec.name: spec.version for spec in self.specs}, "numerics": NUMERICS_VERSION}

    def model(self, name: str):
        """The loaded pyiqa model of one metric (shared with metrics.pipeline, never rebuilt)."""
        return self._models[name]

    def prepare(self, image: np.ndarray) -> Prepared:
        return Prepared(image, self.crop)

    def metric(self, name: str, pred: Prepared, gt: Prepared | None, image: str = "image") -> float:
        """One metric of one prepared pair, computed by pyiqa's network on this suite's device.

        Raises MetricUndefined (naming ``image`` and the metric) where it has no value.
        """
        import torch

        spec = self._by_name[name]
        net = self._models[name].net  # not the model's forward: see metrics.numerics
        inputs = [pred.tensor(spec.luma)]
        if spec.full_reference:
            if gt is None:
                raise ValueError(f"{spec.name} needs a ground-truth image")
            inputs.append(gt.tensor(spec.luma))
        try:
            with scoring_mode():
                out = net(*(x.to(self.device) for x in inputs))
            value = float(out.reshape(-1)[0].item())
        except torch.linalg.LinAlgError as exc:
            raise MetricUndefined([Problem(image, f"{spec.name.upper()} is undefined for this "
                                                  f"image ({exc})".splitlines()[0])]) from exc
        if not math.isfinite(value):
            raise MetricUndefined([Problem(image, f"{spec.name.upper()} is undefined for this "
                                                  f"image (it came out {value})")])
        return value

    def check(self, name: str, pred: Prepared) -> None:
        """Raise MetricUndefined when a metric is known to be undefined for this prediction."""
        problems = undefined_problems(name, pred, self.specs)
        if problems:
            raise MetricUndefined(problems)

    def score(self, pred: np.ndarray, gt: np.ndarray | None, name: str = "image") -> dict[str, float]:
        """Every metric for one pair of decoded images (gt may be None for no-reference only)."""
        pred_p = self.prepare(pred)
        gt_p = self.prepare(gt) if gt is not None else None
        self.check(name, pred_p)
        return {spec.name: self.metric(spec.name, pred_p, gt_p, name) for spec in self.specs}
