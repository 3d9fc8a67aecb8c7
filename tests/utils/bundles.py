"""Write challenge bundles (challenge.yaml plus real-photograph image folders) for tests."""

from __future__ import annotations

import shutil
from pathlib import Path

from metrics.samples import SampleSet

DEFAULT_YAML = """\
slug: {slug}
title: Restore Any Image Model (test)
description: A small challenge made of real photographs.
formula: raim-2024
phases:
  - slug: validation
    title: Validation
    kind: paired
    inputs: validation/lq
    ground_truth: validation/gt
    start: 2024-02-01T00:00:00Z
    end: 2099-03-15T23:59:59Z
    max_submissions_per_day: 5
    max_submissions: 100
    leaderboard: public
    rank_by: best
  - slug: final
    kind: unpaired
    inputs: final/lq
    qualify: {from: validation, top: 10}
ranking:
  - {phase: validation, weight: 0.4}
  - {phase: final, weight: 0.6}
"""


def write_bundle(root: Path, samples: SampleSet, *, slug: str = "raim-test",
                 yaml_text: str | None = None) -> Path:
    """A bundle folder: validation/{lq,gt} and final/lq copied from ``samples``.

    ``yaml_text`` replaces the default challenge.yaml; ``{slug}`` in it is replaced by ``slug``.
    """
    root = Path(root)
    shutil.copytree(samples.lq, root / "validation" / "lq")
    shutil.copytree(samples.gt, root / "validation" / "gt")
    shutil.copytree(samples.lq, root / "final" / "lq")
    (root / "challenge.yaml").write_text((yaml_text or DEFAULT_YAML).replace("{slug}", slug))
    return root
