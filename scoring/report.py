"""Per-image results and their means in the JSON shape that the CLI, the API and CI share.

Contract: ``{"images": [{"name", <metric>..., "score"}], "mean": {<metric>..., "score"}}``
with plain finite floats.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from scoring.formula import Formula


class NonFiniteMetric(ValueError):
    """A metric came out NaN or infinite for an image; the message names both."""


@dataclass
class Report:
    metrics: tuple[str, ...]
    images: list[dict] = field(default_factory=list)

    @property
    def mean(self) -> dict[str, float]:
        keys = (*self.metrics, "score")
        if not self.images:
            return {}
        return {k: math.fsum(img[k] for img in self.images) / len(self.images) for k in keys}

    def to_json(self) -> dict:
        return {"images": self.images, "mean": self.mean}


def image_row(name: str, values: Mapping[str, float], formula: Formula) -> dict:
    """One image's row: its metric values and its formula score, all finite floats."""
    bad = [k for k, v in values.items() if not math.isfinite(v)]
    if bad:
        raise NonFiniteMetric(
            f"{name}: {', '.join(bad)} is not a finite number "
            f"({', '.join(f'{k}={values[k]}' for k in bad)})"
        )
    row: dict = {"name": name}
    row.update({k: float(values[k]) for k in formula.metrics})
    row.update({k: float(v) for k, v in values.items() if k not in row})
    row["score"] = float(formula.score(values))
    return row


def build_report(per_image: Iterable[tuple[str, Mapping[str, float]]], formula: Formula) -> Report:
    report = Report(metrics=formula.metrics)
    for name, values in per_image:
        report.images.append(image_row(name, values, formula))
    return report
