"""Page fixtures: the real application (no background worker) on SQLite, and a test challenge."""

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from app.config import Settings
from app.main import create_app
from tests.utils.arena import Arena, build_arena


@pytest.fixture
def client(settings: Settings) -> Iterator[TestClient]:
    from app import db

    with TestClient(create_app(background=False)) as test_client:
        yield test_client
    db.dispose_engines()


@pytest.fixture
def arena(settings: Settings, sample_set) -> Arena:
    """Challenge raim-test, open paired phase ``validation``, teams alpha and beta."""
    return build_arena(sample_set)
