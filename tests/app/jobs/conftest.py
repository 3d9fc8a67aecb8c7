"""Jobs fixtures: a challenge whose phase has real, scorable ground truth, on each database."""

from pathlib import Path

import pytest

from metrics.samples import write_sample_set
from tests.utils.arena import Arena, build_arena


@pytest.fixture
def arena(db_url: str, tmp_path: Path) -> Arena:
    return build_arena(write_sample_set(tmp_path / "scorable", count=3, size=128))
