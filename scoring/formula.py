"""A challenge formula as data: a weighted sum of normalised metric terms (RAIM 2024 by default).

Each term is ``weight * (value - offset) / scale`` for higher-is-better metrics and
``weight * (1 - value / scale)`` for lower-is-better ones, never clipped. The RAIM 2024
formula is

    20*PSNR/50 + 15*(SSIM-0.5)/0.5 + 20*(1-LPIPS/0.4) + 40*(1-DISTS/0.3) + 30*(1-NIQE/10)

Because it is linear, the mean of per-image scores equals the score of the means.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass


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


@dataclass(frozen=True)
class Formula:
    name: str
    terms: tuple[Term, ...]

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
        }

    @classmethod
    def from_dict(cls, data: Mapping) -> Formula:
        """Build from a mapping such as a challenge.yaml ``formula:`` entry; errors name the key."""
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
        return cls(str(data.get("name", "custom")), tuple(terms))


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

NAMED_FORMULAS: dict[str, Formula] = {RAIM_2024.name: RAIM_2024}


def formula_from_config(value: str | Mapping | None) -> Formula:
    """A formula named in configuration (``raim-2024``) or given inline as a mapping."""
    if value is None:
        return RAIM_2024
    if isinstance(value, str):
        if value not in NAMED_FORMULAS:
            raise ValueError(f"unknown formula {value!r}; known: {', '.join(NAMED_FORMULAS)}")
        return NAMED_FORMULAS[value]
    return Formula.from_dict(value)
