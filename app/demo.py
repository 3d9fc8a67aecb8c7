"""The demo challenge of ``raim serve --demo``: real sample photographs, one open phase, a team.

The bundle is written under RAIM_DATA_DIR/demo (ground truth, degraded inputs, and a
ready-made restored set a new user can zip and submit), loaded like any bundle, and
a team ``demo`` gets a fresh API token each time.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from app.accounts import create_team, create_token, find_team
from app.bundles.load import install_bundle
from app.config import Settings
from app.db import session_scope
from app.lookups import find_challenge
from metrics.samples import write_sample_set

DEMO_SLUG = "demo"
DEMO_TEAM = "demo"
DEMO_IMAGES = 6
DEMO_SIZE = 256

BUNDLE_YAML = f"""\
slug: {DEMO_SLUG}
title: Demo restoration challenge
description: Six real photographs, degraded by blur, noise and JPEG. Restore them.
formula: raim-2024
phases:
  - slug: development
    title: Development
    kind: paired
    inputs: samples/lq
    ground_truth: samples/gt
    max_submissions_per_day: 50
    leaderboard: public
    rank_by: best
"""


@dataclass(frozen=True)
class Demo:
    challenge: str
    phase: str
    team: str
    token: str
    example_predictions: Path


def install_demo(settings: Settings) -> Demo:
    """Create (or refresh) the demo challenge and return a token of its demo team."""
    root = settings.data_dir / "demo"
    samples = write_sample_set(root / "samples", count=DEMO_IMAGES, size=DEMO_SIZE, seed=2024)
    (root / "challenge.yaml").write_text(BUNDLE_YAML)
    install_bundle(root)
    with session_scope(immediate=True) as session:
        challenge = find_challenge(session, DEMO_SLUG)
        team = find_team(session, challenge, DEMO_TEAM)
        if team is None:
            _, token = create_team(session, challenge, DEMO_TEAM)
        else:
            _, token = create_token(session, team.members[0].user, name="demo")
    return Demo(DEMO_SLUG, "development", DEMO_TEAM, token, samples.pred)
