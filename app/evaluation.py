"""Scores a prediction set against its ground truth: validate, decode, measure, apply the formula.

Both the ``raim score`` command and the queue worker call this; it knows nothing of HTTP
or the database.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from app.config import Settings
from metrics.images import ImageSet, Inventory, decode, pair_images
from metrics.pipeline import FastScorer
from metrics.registry import RAIM_CROP, RAIM_METRICS, RAIM_MIN_SIDE
from scoring.formula import RAIM_2024, Formula
from scoring.report import Report, image_row

Progress = Callable[[int, int, str], None]  # (done, total, image name)
# Paired sets are scored with the RAIM metrics; these have no value for a single-colour image.
FLAT_UNDEFINED = tuple(spec.name for spec in RAIM_METRICS if spec.undefined_when_flat)


@dataclass
class Evaluation:
    report: Report
    notes: list[str]
    versions: dict[str, str]


def inventory(
    pred: Path,
    gt: Path | None,
    *,
    max_pixels: int,
    max_images: int | None = None,
    inputs: Path | None = None,
) -> Inventory:
    """Pair and check every file; raises metrics.images.InvalidInput listing all problems.

    Paired phases pair ``pred`` with the ground truth ``gt``; unpaired ones (``gt`` None) with
    the phase's ``inputs`` when given (same names, same sizes), else check ``pred`` alone.
    """
    pred_set = ImageSet(pred, "prediction", max_pixels=max_pixels)
    gt_set = ImageSet(gt, "ground truth", max_pixels=max_pixels) if gt is not None else None
    inputs_set = (ImageSet(inputs, "inputs", max_pixels=max_pixels)
                  if gt is None and inputs is not None else None)
    try:
        return pair_images(
            pred_set,
            gt_set,
            max_pixels=max_pixels,
            max_images=max_images,
            min_side=RAIM_MIN_SIDE if gt is not None else 1,
            inputs=inputs_set,
            flat_undefined=FLAT_UNDEFINED if gt is not None else (),
            crop=RAIM_CROP,
        )
    finally:
        for images in (pred_set, gt_set, inputs_set):
            if images is not None:
                images.close()


def build_scorer(settings: Settings, device: str | None = None) -> FastScorer:
    """The process's scorer: models loaded once, pipelined, with the configured DISTS cache."""
    return FastScorer(
        settings.weights_dir,
        device=device or settings.device,
        gt_cache_dir=settings.dists_cache_path,
        gt_cache_max_bytes=settings.dists_cache_bytes,
        gt_cache_free_share=settings.dists_cache_free_share,
        gt_cache_from_stage=settings.dists_cache_from_stage,
    )


def evaluate(
    pred: Path,
    gt: Path,
    scorer: FastScorer,
    *,
    formula: Formula = RAIM_2024,
    max_pixels: int,
    max_images: int | None = None,
    on_progress: Progress | None = None,
    checked: Inventory | None = None,
) -> Evaluation:
    """Every image's metrics and score, in name order; raises InvalidInput before any scoring.

    ``checked``: the inventory of these same inputs when the caller already validated them.
    """
    if checked is None:
        checked = inventory(pred, gt, max_pixels=max_pixels, max_images=max_images)
    # Read as the upload check read them: the same caps, so a worker cannot be blown up either.
    pred_set = ImageSet(pred, "prediction", max_pixels=max_pixels)
    gt_set = ImageSet(gt, "ground truth", max_pixels=max_pixels)
    report = Report(metrics=formula.metrics)
    total = len(checked.pairs)
    # Paired inventories always name both files of a pair.
    sources = [(p.name, _loader(pred_set, p.pred), _loader(gt_set, str(p.gt))) for p in checked.pairs]
    try:
        for done, (name, values) in enumerate(scorer.score_pairs(sources), 1):
            report.images.append(image_row(name, values, formula))
            if on_progress is not None:
                on_progress(done, total, name)
    finally:
        pred_set.close()
        gt_set.close()
    return Evaluation(report, checked.notes, scorer.versions())


def _loader(images: ImageSet, name: str) -> Callable[[], np.ndarray]:
    """Reads (capped like an image) and decodes one file when called (from the scorer's
    decode-ahead threads)."""
    return lambda: decode(images.read(name), name)
