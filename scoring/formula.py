"""A challenge formula as data: a weighted sum of normalised metric terms, and how images are read.

Each term is ``weight * (value - offset) / scale`` for higher-is-better metrics and
``weight * (1 - value / scale)`` for lower-is-better ones, never clipped. The RAIM 2024
formula is

    20*PSNR/50 + 15*(SSIM-0.5)/0.5 + 20*(1-LPIPS/0.4) + 40*(1-DISTS/0.3) + 30*(1-NIQE/10)

Because it is linear, the mean of per-image scores equals the score of the means.

Beside its terms a formula says how the metrics read the images (docs/challenge-bundle.md):
``crop`` (pixels cut from every border, 4 in RAIM 2024), ``color`` (``y``: PSNR and SSIM on
the Y channel as RAIM 2024; ``rgb``: pyiqa's RGB PSNR and SSIM), ``size_mismatch`` (``reject``
a prediction whose size differs from the ground truth's, the default, or ``resize`` it,
bilinear, to the ground truth's size, each such image then named in the results) and
``stages`` (set from the phase: the score is the mean of the stages' mean scores). The RAIM
2026 multi-exposure fusion track (``raim-2026-fusion``) is

    30*PSNR/50 + 22.5*(SSIM-0.5)/0.5 + 30*(1-LPIPS/0.4), RGB, no crop, resize
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace


@dataclass(frozen=True)
class Term:
    """One metric's contribution to the score."""

    metric: str
    weight: float
    scale: float
    offset: float = 0.0
    lower_is_better: bool = False

    def __post_init__(self) -> None:
        if self.scale == 0:
            raise ValueError(f"term {self.metric!r}: scale must not be zero")

    def value(self, metric_value: float) -> float:
        if self.lower_is_better:
            return self.weight * (1.0 - (metric_value - self.offset) / self.scale)
        return self.weight * (metric_value - self.offset) / self.scale


COLORS = ("y", "rgb")
SIZE_POLICIES = ("reject", "resize")
DEFAULT_CROP = 4
_DEFAULT_OPTIONS = {"crop": DEFAULT_CROP, "color": "y", "size_mismatch": "reject", "stages": ()}
_OPTION_KEYS = tuple(_DEFAULT_OPTIONS)


@dataclass(frozen=True)
class Formula:
    name: str
    terms: tuple[Term, ...]
    crop: int = DEFAULT_CROP
    color: str = "y"
    size_mismatch: str = "reject"
    stages: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if isinstance(self.crop, bool) or not isinstance(self.crop, int) or self.crop < 0:
            raise ValueError(f"formula crop must be a whole number of pixels >= 0, "
                             f"got {self.crop!r}")
        if self.color not in COLORS:
            raise ValueError(f"formula color must be one of {', '.join(COLORS)}, "
                             f"got {self.color!r}")
        if self.size_mismatch not in SIZE_POLICIES:
            raise ValueError(f"formula size_mismatch must be one of {', '.join(SIZE_POLICIES)}, "
                             f"got {self.size_mismatch!r}")
        if len(set(self.stages)) != len(self.stages):
            raise ValueError(f"formula stages must differ from each other, got {list(self.stages)}")

    def with_stages(self, stages: tuple[str, ...] | list[str] | None) -> Formula:
        """The same formula scored as the mean of these stages (a phase's ``stages``)."""
        return replace(self, stages=tuple(stages or ()))

    def options(self) -> dict:
        """The reading options that differ from RAIM 2024's (crop 4, Y, reject, one stage)."""
        return {key: list(value) if isinstance(value, tuple) else value
                for key, value in ((k, getattr(self, k)) for k in _OPTION_KEYS)
                if value != _DEFAULT_OPTIONS[key]}

    @property
    def metrics(self) -> tuple[str, ...]:
        return tuple(t.metric for t in self.terms)

    def score(self, values: Mapping[str, float]) -> float:
        missing = [t.metric for t in self.terms if t.metric not in values]
        if missing:
            raise KeyError(f"formula {self.name!r} needs {', '.join(missing)}")
        return sum(t.value(values[t.metric]) for t in self.terms)

    def breakdown(self, values: Mapping[str, float]) -> dict[str, float]:
        """Each term's contribution, for pages that explain a score."""
        return {t.metric: t.value(values[t.metric]) for t in self.terms}

    def to_dict(self) -> dict:
        """Name, terms and the options that differ from the defaults (raim-2024 has none)."""
        return {
            "name": self.name,
            "terms": [
                {
                    "metric": t.metric,
                    "weight": t.weight,
                    "scale": t.scale,
                    "offset": t.offset,
                    "lower_is_better": t.lower_is_better,
                }
                for t in self.terms
            ],
            **self.options(),
        }

    @classmethod
    def from_dict(cls, data: Mapping) -> Formula:
        """Build from a mapping such as a challenge.yaml ``formula:`` entry; errors name the key."""
        unknown_keys = set(data) - {"name", "terms", *_OPTION_KEYS}
        if unknown_keys:
            raise ValueError(f"formula: unknown key(s) {', '.join(sorted(map(str, unknown_keys)))}"
                             f"; known: name, terms, {', '.join(_OPTION_KEYS)}")
        if "terms" not in data or not data["terms"]:
            raise ValueError("formula needs a non-empty 'terms' list")
        terms = []
        for i, raw in enumerate(data["terms"]):
            unknown = set(raw) - {"metric", "weight", "scale", "offset", "lower_is_better"}
            if unknown:
                raise ValueError(f"formula term {i}: unknown key(s) {', '.join(sorted(unknown))}")
            for key in ("metric", "weight", "scale"):
                if key not in raw:
                    raise ValueError(f"formula term {i}: missing {key!r}")
            terms.append(
                Term(
                    metric=str(raw["metric"]),
                    weight=float(raw["weight"]),
                    scale=float(raw["scale"]),
                    offset=float(raw.get("offset", 0.0)),
                    lower_is_better=bool(raw.get("lower_is_better", False)),
                )
            )
        stages = data.get("stages") or ()
        if isinstance(stages, str) or not all(isinstance(x, str) and x for x in stages):
            raise ValueError(f"formula stages must be a list of folder names, got {stages!r}")
        return cls(
            str(data.get("name", "custom")),
            tuple(terms),
            crop=data.get("crop", DEFAULT_CROP),
            color=str(data.get("color", "y")),
            size_mismatch=str(data.get("size_mismatch", "reject")),
            stages=tuple(stages),
        )


RAIM_2024 = Formula(
    "raim-2024",
    (
        Term("psnr", 20, 50),
        Term("ssim", 15, 0.5, offset=0.5),
        Term("lpips", 20, 0.4, lower_is_better=True),
        Term("dists", 40, 0.3, lower_is_better=True),
        Term("niqe", 30, 10, lower_is_better=True),
    ),
)

# NTIRE 2026 RAIM Track 2, multi-exposure fusion (arXiv 2604.09030): pyiqa's RGB PSNR and SSIM,
# no border crop, a prediction of the wrong size resized (bilinear) to the ground truth's.
RAIM_2026_FUSION = Formula(
    "raim-2026-fusion",
    (
        Term("psnr", 30, 50),
        Term("ssim", 22.5, 0.5, offset=0.5),
        Term("lpips", 30, 0.4, lower_is_better=True),
    ),
    crop=0,
    color="rgb",
    size_mismatch="resize",
)

NAMED_FORMULAS: dict[str, Formula] = {f.name: f for f in (RAIM_2024, RAIM_2026_FUSION)}


def formula_from_config(value: str | Mapping | None) -> Formula:
    """A formula named in configuration (``raim-2024``) or given inline as a mapping."""
    if value is None:
        return RAIM_2024
    if isinstance(value, str):
        if value not in NAMED_FORMULAS:
            raise ValueError(f"unknown formula {value!r}; known: {', '.join(NAMED_FORMULAS)}")
        return NAMED_FORMULAS[value]
    return Formula.from_dict(value)
