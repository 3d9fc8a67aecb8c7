"""A schemathesis fuzz run over /openapi.json as anonymous, a team and an organiser: no 5xx.

A small, derandomized budget per operation keeps it fast; ``bench/fuzz_api.py`` runs the same
driver with a larger one and prints the figures.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi import FastAPI

from app.main import create_app
from tests.utils.arena import Arena, build_arena
from tests.utils.fuzz import fuzz_api
from tests.utils.pages import scored_submission

EXAMPLES = 8


@pytest.fixture
def app(db_url: str) -> Iterator[FastAPI]:
    yield create_app(background=False)


@pytest.fixture
def arena(db_url: str, sample_set) -> Arena:
    return build_arena(sample_set)


def test_fuzzed_requests_never_meet_a_server_error(app, arena):
    submission = scored_submission(arena.phase_id, arena.team_ids["alpha"], {"001": 21.0})
    report = fuzz_api(app, {"anonymous": {}, "team": arena.auth("alpha"),
                            "organiser": arena.auth("organiser")},
                      examples=EXAMPLES,
                      path_values={"challenge": arena.challenge, "phase": arena.phase,
                                   "submission_id": str(submission)})
    print("\n" + report.table())
    assert len(report.operations) >= 12
    assert report.requests >= len(report.operations) * 3 * EXAMPLES
    assert report.server_errors == []
