"""Judging fixtures: the real application with the judging routes, and the judged test world."""

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from tests.app.judging.world import World, build_world, make_app


@pytest.fixture
def client(db_url: str) -> Iterator[TestClient]:
    """The real application on the test database; no background worker (tests score by hand)."""
    with TestClient(make_app()) as test_client:
        yield test_client


@pytest.fixture
def world(db_url: str, tmp_path: Path) -> World:
    """Ten finalists and an outsider on ``raim-judged``; the final phase is still open."""
    return build_world(tmp_path / "world")
