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

# The smallest side other metrics accept (LPIPS's and DISTS's networks pool the image down).
CONV_MIN_SIDE = 32
_BY_NAME = {spec.name: spec for spec in RAIM_METRICS}
# pyiqa's RGB PSNR (its default) and SSIM (``ssimc``): no Y conversion at all.
_RGB = {"psnr": PSNR.with_options(test_y_channel=False),
        "ssim": SSIM.with_options(test_y_channel=False)}


@dataclass(frozen=True)
class Measure:
    """What a formula asks of the metrics: which ones, on Y or RGB, after which border crop,
    and whether a prediction of another size is resized (bilinear) to the ground truth's."""

    metrics: tuple[str, ...] = METRIC_NAMES
    color: str = "y"
    crop: int = RAIM_CROP
    resize: bool = False

    def __post_init__(self) -> None:
        unknown = [m for m in self.metrics if m not in _BY_NAME]
        if unknown:
            raise ValueError(f"unknown metric(s) {', '.join(unknown)}; known: "
                             f"{', '.join(METRIC_NAMES)}")
        if self.color not in ("y", "rgb"):
            raise ValueError(f"color must be 'y' or 'rgb', got {self.color!r}")

    @property
    def specs(self) -> tuple[MetricSpec, ...]:
        """The metrics in registry order, with their options for this colour space."""
        table = {**_BY_NAME, **(_RGB if self.color == "rgb" else {})}
        return tuple(table[name] for name in METRIC_NAMES if name in self.metrics)

    @property
    def reference(self) -> bool:
        """True for the RAIM 2024 reading (Y, 4-pixel crop): the five metrics of the pipeline."""
        return self.color == "y" and self.crop == RAIM_CROP

    @property
    def computed(self) -> tuple[str, ...]:
        """The metrics scoring computes: all five on the reference reading, else the formula's."""
        return METRIC_NAMES if self.reference else tuple(s.name for s in self.specs)

    @property
    def min_side(self) -> int:
        """The smallest side a prediction may have, border crop included."""
        floor = NIQE_BLOCK if "niqe" in self.computed else CONV_MIN_SIDE
        return floor + 2 * self.crop

    @property
    def flat_undefined(self) -> tuple[str, ...]:
        """The metrics that have no value for a prediction of a single colour."""
        return tuple(s.name for s in RAIM_METRICS
                     if s.name in self.computed and s.undefined_when_flat)
