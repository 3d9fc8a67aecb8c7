"""API fixtures: a test challenge on each database and a client of the app without workers."""

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from app.main import create_app
from metrics.samples import SampleSet, write_sample_set
from tests.utils.arena import Arena, build_arena


@pytest.fixture
def scorable_set(tmp_path: Path) -> SampleSet:
    """Three 128x128 real-photograph triples: NIQE needs more than 64x64 after the crop."""
    return write_sample_set(tmp_path / "scorable", count=3, size=128)


@pytest.fixture
def arena(db_url: str, scorable_set: SampleSet) -> Arena:
    """Challenge raim-test, open paired phase ``validation``, teams alpha and beta."""
    return build_arena(scorable_set)


@pytest.fixture
def client(db_url: str) -> Iterator[TestClient]:
    """The real application; scoring is run explicitly by tests (no background worker)."""
    with TestClient(create_app(background=False)) as test_client:
        yield test_client
