"""The metrics RAIM uses: our names, pyiqa's names and options, direction and weight files."""

from __future__ import annotations

from dataclasses import dataclass, field, replace

PYIQA_VERSION = "0.1.16"


@dataclass(frozen=True)
class MetricSpec:
    """How one metric is computed; ``version`` is stored with every result it produces."""

    name: str
    pyiqa_name: str
    options: dict = field(default_factory=dict)
    full_reference: bool = True
    lower_is_better: bool = False
    weights: tuple[str, ...] = ()  # files under the weights dir; the first is pyiqa's own

    @property
    def version(self) -> str:
        opts = ",".join(f"{k}={v}" for k, v in sorted(self.options.items()))
        return f"pyiqa-{PYIQA_VERSION}:{self.pyiqa_name}" + (f"({opts})" if opts else "")

    def with_options(self, **options) -> MetricSpec:
        return replace(self, options=options)


_Y = {"test_y_channel": True, "color_space": "ycbcr"}

PSNR = MetricSpec("psnr", "psnr", dict(_Y))
SSIM = MetricSpec("ssim", "ssim", dict(_Y))
LPIPS = MetricSpec(
    "lpips",
    "lpips",
    lower_is_better=True,
    weights=("pyiqa/LPIPS_v0.1_alex-df73285e.pth", "checkpoints/alexnet-owt-7be5be79.pth"),
)
DISTS = MetricSpec(
    "dists",
    "dists",
    lower_is_better=True,
    weights=("pyiqa/DISTS_weights-f5e65c96.pth", "checkpoints/vgg16-397923af.pth"),
)
NIQE = MetricSpec(
    "niqe",
    "niqe",
    full_reference=False,
    lower_is_better=True,
    weights=("pyiqa/niqe_modelparameters.mat",),
)

# The five metrics of the RAIM reference procedure, with its exact options.
RAIM_METRICS: tuple[MetricSpec, ...] = (PSNR, SSIM, LPIPS, DISTS, NIQE)
METRIC_NAMES: tuple[str, ...] = tuple(m.name for m in RAIM_METRICS)

# The reference procedure crops this many pixels from every border before scoring.
RAIM_CROP = 4
# NIQE works on 96x96 blocks: smaller images (after the crop) cannot be scored.
NIQE_BLOCK = 96
RAIM_MIN_SIDE = NIQE_BLOCK + 2 * RAIM_CROP
