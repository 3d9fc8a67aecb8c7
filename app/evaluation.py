"""Scores a prediction set against its ground truth: validate, decode, measure, apply the formula.

Both the ``raim score`` command and the queue worker call this; it knows nothing of HTTP
or the database.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from app.config import Settings
from metrics.images import SIDE_FILES, ImageSet, Inventory, decode, pair_images
from metrics.pipeline import FastScorer
from metrics.registry import Measure
from scoring.formula import RAIM_2024, Formula, formula_from_config
from scoring.report import Report, image_row

Progress = Callable[[int, int, str], None]  # (done, total, image name)


def measure_for(formula: Formula) -> Measure:
    """What the formula asks of the metrics: its metrics, colour space, crop, size policy."""
    return Measure(formula.metrics, formula.color, formula.crop,
                   resize=formula.size_mismatch == "resize")


def phase_formula(phase: Any) -> Formula:
    """A phase's formula: its own (``formula`` key of the phase) or its challenge's, scored
    over the phase's stages when it has some."""
    formula = formula_from_config(getattr(phase, "formula", None) or
                                  phase.challenge.formula or None)
    return formula.with_stages(getattr(phase, "stages", None) or ())


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
    formula: Formula = RAIM_2024,
) -> Inventory:
    """Pair and check every file; raises metrics.images.InvalidInput listing all problems.

    Paired phases pair ``pred`` with the ground truth ``gt``; unpaired ones (``gt`` None) with
    the phase's ``inputs`` when given (same names, same sizes), else check ``pred`` alone.
    The formula says the border crop, the smallest side, the size policy and the stages.
    """
    measure = measure_for(formula)
    pred_set = ImageSet(pred, "prediction", max_pixels=max_pixels, side_files=SIDE_FILES)
    gt_set = ImageSet(gt, "ground truth", max_pixels=max_pixels) if gt is not None else None
    inputs_set = (ImageSet(inputs, "inputs", max_pixels=max_pixels)
                  if gt is None and inputs is not None else None)
    try:
        return pair_images(
            pred_set,
            gt_set,
            max_pixels=max_pixels,
            max_images=max_images,
            min_side=measure.min_side if gt is not None else 1,
            inputs=inputs_set,
            flat_undefined=measure.flat_undefined if gt is not None else (),
            crop=measure.crop,
            stages=formula.stages,
            resize=measure.resize,
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
        checked = inventory(pred, gt, max_pixels=max_pixels, max_images=max_images,
                            formula=formula)
    measure = measure_for(formula)
    # Read as the upload check read them: the same caps, so a worker cannot be blown up either.
    pred_set = ImageSet(pred, "prediction", max_pixels=max_pixels, side_files=SIDE_FILES)
    gt_set = ImageSet(gt, "ground truth", max_pixels=max_pixels)
    report = Report(metrics=formula.metrics, stages=formula.stages)
    resized = {p.name: p.resized_from for p in checked.pairs if p.resized_from}
    total = len(checked.pairs)
    # Paired inventories always name both files of a pair.
    sources = [(p.name, _loader(pred_set, p.pred), _loader(gt_set, str(p.gt))) for p in checked.pairs]
    try:
        for done, (name, values) in enumerate(scorer.score_pairs(sources, measure), 1):
            report.images.append(image_row(name, values, formula, resized.get(name)))
            if on_progress is not None:
                on_progress(done, total, name)
    finally:
        pred_set.close()
        gt_set.close()
    return Evaluation(report, checked.notes + stage_notes(report), scorer.versions_for(measure))


def stage_notes(report: Report) -> list[str]:
    """One note giving each stage's mean score (what the submission's score averages)."""
    if not report.stages:
        return []
    parts = [f"{stage} {means['score']:.4f} ({means['images']} images)"
             for stage, means in report.stage_means.items()]
    return [f"score = mean of the stages' mean scores: {'; '.join(parts)}"]


def _loader(images: ImageSet, name: str) -> Callable[[], np.ndarray]:
    """Reads (capped like an image) and decodes one file when called (from the scorer's
    decode-ahead threads)."""
    return lambda: decode(images.read(name), name)
