"""Fills the DISTS ground-truth feature cache while the embedded worker has nothing to score.

Every submission of a phase is scored against the same ground truth, and the cache keeps its
DISTS features (``metrics.fast_dists.GtFeatureCache``). Filled only on a miss, the phase's
first submission would pay for the whole ground truth's pass. Instead, once a phase's ground
truth is loaded, the embedded worker of ``raim serve`` (which reads the same disk) fills the
cache in its idle time: one image per step, and the worker looks for a queued job between
steps, so a submission waits for at most one image's pass (about 3 s at 1024x1024 on a CPU).

What is warmed: the ground truth of every paired phase that has not ended and is scored on
the reference reading (``Measure.reference``: the only one whose DISTS features the cache
holds). Images already cached are skipped at the cost of a decode and a hash; a dataset is
done for this process once every image went through (a new upload has a new fingerprint and
is warmed again). Off with ``RAIM_DISTS_CACHE_WARM=false``, or with the cache itself off.
Remote workers and Celery workers fill their own cache on first use.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path

from sqlalchemy import or_, select
from sqlalchemy.orm import selectinload

from app.config import Settings
from app.db import session_scope
from app.evaluation import measure_for, phase_formula
from app.models import Phase, utcnow
from metrics.images import ImageSet, decode
from metrics.pipeline import FastScorer

log = logging.getLogger(__name__)

DatasetKey = tuple[int, str]  # (dataset id, fingerprint)


def ground_truths(settings: Settings) -> list[tuple[DatasetKey, Path]]:
    """The ground-truth folders to warm, in phase order: see the module notes."""
    now = utcnow()
    with session_scope() as session:
        phases = session.scalars(
            select(Phase).where(Phase.kind == "paired", or_(Phase.end.is_(None), Phase.end > now))
            .options(selectinload(Phase.datasets), selectinload(Phase.challenge))
            .order_by(Phase.challenge_id, Phase.position, Phase.id))
        found = []
        for phase in phases:
            gt = phase.dataset("ground_truth")
            if gt is not None and measure_for(phase_formula(phase)).reference:
                found.append(((gt.id, gt.fingerprint), settings.datasets_dir / gt.path))
    return found


class CacheWarmer:
    """The embedded worker's idle work: one ground-truth image into the cache per ``step``."""

    def __init__(self, settings: Settings):
        self.settings = settings
        self.done: set[DatasetKey] = set()
        self._next: dict[DatasetKey, int] = {}  # the next image of a dataset being warmed
        self._sets: dict[DatasetKey, ImageSet] = {}  # its images, listed once

    @property
    def enabled(self) -> bool:
        return self.settings.dists_cache_warm and self.settings.dists_cache_bytes > 0

    def step(self, models: Callable[[], FastScorer]) -> bool:
        """Warm the next image that needs it; False when every ground truth is done. The
        models are asked for (and loaded the first time) only when an image is to be warmed."""
        if not self.enabled:
            return False
        for key, folder in ground_truths(self.settings):
            if key in self.done:
                continue
            images = self._sets.get(key)
            if images is None:  # listed once per dataset, kept open until it is done
                images = self._sets[key] = ImageSet(folder, "ground truth",
                                                    max_pixels=self.settings.max_pixels)
            names, at = images.names(), self._next.get(key, 0)
            if images.problems or at >= len(names):
                self.done.add(key)
                self._sets.pop(key).close()
                if images.problems:
                    log.warning("DISTS feature cache: %s not warmed: %s", folder,
                                images.problems[0].message)
                else:
                    log.info("DISTS feature cache: the ground truth in %s is cached "
                             "(%d images)", folder, len(names))
                continue
            self._next[key] = at + 1
            scorer = models()
            if scorer.gt_cache is None:  # no room for a cache on this disk
                return False
            name = names[at]
            stored = scorer.fill_gt_cache([lambda: decode(images.read(name), name)])  # noqa: B023
            log.debug("ground truth %s: %s %s", folder.name, name,
                      "cached" if stored else "already cached")
            return True
        return False
