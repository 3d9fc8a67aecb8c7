"""Per-image results and their means in the JSON shape that the CLI, the API and CI share.

Contract: ``{"images": [{"name", <metric>..., "score"}], "mean": {<metric>..., "score"}}``
with plain finite floats. An image that was resized to the ground truth's size (a formula with
``size_mismatch: resize``) also carries ``"resized_from": "WxH"``, its size as submitted. With
stages (image names ``stage/stem``) the mean is the mean of the stages' means, and
``"stages": {stage: {<metric>..., "score", "images"}}`` is added.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from scoring.formula import Formula


class NonFiniteMetric(ValueError):
    """A metric came out NaN or infinite for an image; the message names both."""


def stage_of(name: str) -> str:
    """The stage an image name belongs to: its first folder (``stage1/001`` -> ``stage1``)."""
    return name.split("/", 1)[0]


@dataclass
class Report:
    metrics: tuple[str, ...]
    images: list[dict] = field(default_factory=list)
    stages: tuple[str, ...] = ()

    def _mean_of(self, rows: list[dict]) -> dict[str, float]:
        keys = (*self.metrics, "score")
        return {k: math.fsum(img[k] for img in rows) / len(rows) for k in keys}

    @property
    def stage_means(self) -> dict[str, dict[str, float]]:
        """Each stage's means and image count (empty without stages or images)."""
        found = {}
        for stage in self.stages:
            rows = [img for img in self.images if stage_of(img["name"]) == stage]
            if rows:
                found[stage] = {**self._mean_of(rows), "images": len(rows)}
        return found

    @property
    def mean(self) -> dict[str, float]:
        """The mean over images; with stages, the mean over stages of each stage's mean."""
        if not self.images:
            return {}
        if not self.stages:
            return self._mean_of(self.images)
        per_stage = self.stage_means
        keys = (*self.metrics, "score")
        return {k: math.fsum(m[k] for m in per_stage.values()) / len(per_stage) for k in keys}

    def to_json(self) -> dict:
        found = {"images": self.images, "mean": self.mean}
        if self.stages:
            found["stages"] = self.stage_means
        return found


def image_row(name: str, values: Mapping[str, float], formula: Formula,
              resized_from: str | None = None) -> dict:
    """One image's row: its metric values and its formula score, all finite floats, and
    ``resized_from`` (the size as submitted) when it was resized to the ground truth's."""
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
    if resized_from is not None:
        row["resized_from"] = resized_from
    return row


def build_report(per_image: Iterable[tuple[str, Mapping[str, float]]], formula: Formula,
                 resized: Mapping[str, str] | None = None) -> Report:
    """The report of these images' values; ``resized``: image name -> its size as submitted."""
    report = Report(metrics=formula.metrics, stages=formula.stages)
    for name, values in per_image:
        report.images.append(image_row(name, values, formula, (resized or {}).get(name)))
    return report
