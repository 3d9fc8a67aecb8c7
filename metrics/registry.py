"""The metrics RAIM uses: our names, pyiqa's names and options, direction and weight files."""

from __future__ import annotations

from dataclasses import dataclass, field, replace

PYIQA_VERSION = "0.1.16"


@dataclass(frozen=True)
class LumaInput:
    """A metric that reads a Y plane instead of RGB: which colour space, and whether pyiqa
    rounds it to integer levels (it does at data range 255: SSIM, NIQE; not for PSNR)."""

    color_space: str
    rounded: bool


@dataclass(frozen=True)
class MetricSpec:
    """How one metric is computed; ``version`` is stored with every result it produces."""

    name: str
    pyiqa_name: str
    options: dict = field(default_factory=dict)
    full_reference: bool = True
    lower_is_better: bool = False
    weights: tuple[str, ...] = ()  # files under the weights dir; the first is pyiqa's own
    # How pyiqa's metric reads Y (None: it never does): its own default for test_y_channel
    # and whether it rounds. metrics.luma then computes that plane exactly (metrics.engine).
    y_by_default: bool = False
    rounds_y: bool | None = None
    # True where a Y plane of one level everywhere leaves the metric undefined (NIQE's fit
    # of local contrast statistics): refused before any model runs (metrics.engine).
    undefined_when_flat: bool = False

    @property
    def luma(self) -> LumaInput | None:
        """The Y plane this metric reads with its options, or None when it reads RGB."""
        if self.rounds_y is None or not self.options.get("test_y_channel", self.y_by_default):
            return None
        return LumaInput(str(self.options.get("color_space", "yiq")), self.rounds_y)

    @property
    def version(self) -> str:
        opts = ",".join(f"{k}={v}" for k, v in sorted(self.options.items()))
        return f"pyiqa-{PYIQA_VERSION}:{self.pyiqa_name}" + (f"({opts})" if opts else "")

    def with_options(self, **options) -> MetricSpec:
        return replace(self, options=options)


_Y = {"test_y_channel": True, "color_space": "ycbcr"}

PSNR = MetricSpec("psnr", "psnr", dict(_Y), rounds_y=False)
SSIM = MetricSpec("ssim", "ssim", dict(_Y), y_by_default=True, rounds_y=True)
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
    y_by_default=True,  # pyiqa's NIQE always works on Y (YIQ unless told otherwise)
    rounds_y=True,
    undefined_when_flat=True,
)

# The five metrics of the RAIM reference procedure, with its exact options.
RAIM_METRICS: tuple[MetricSpec, ...] = (PSNR, SSIM, LPIPS, DISTS, NIQE)
METRIC_NAMES: tuple[str, ...] = tuple(m.name for m in RAIM_METRICS)

# The reference procedure crops this many pixels from every border before scoring.
RAIM_CROP = 4
# NIQE works on 96x96 blocks: smaller images (after the crop) cannot be scored.
NIQE_BLOCK = 96
RAIM_MIN_SIDE = NIQE_BLOCK + 2 * RAIM_CROP
