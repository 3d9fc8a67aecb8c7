"""A schemathesis fuzz run over /openapi.json as anonymous, a team, an organiser and a remote
worker: no 5xx.

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
from tests.utils.workers import new_worker_token

EXAMPLES = 8


@pytest.fixture
def app(db_url: str) -> Iterator[FastAPI]:
    yield create_app(background=False)


@pytest.fixture
def arena(db_url: str, sample_set) -> Arena:
    return build_arena(sample_set)


def test_fuzzed_requests_never_meet_a_server_error(app, arena):
    submission = scored_submission(arena.phase_id, arena.team_ids["alpha"], {"001": 21.0})
    values = {"challenge": arena.challenge, "phase": arena.phase,
              "submission_id": str(submission)}
    report = fuzz_api(app, {"anonymous": {}, "team": arena.auth("alpha"),
                            "organiser": arena.auth("organiser")},
                      examples=EXAMPLES, path_values=values)
    # A run of its own: the organiser's run may revoke any worker token it can number.
    worker = fuzz_api(app, {"worker": {"Authorization": f"Bearer {new_worker_token()}"}},
                      examples=EXAMPLES, path_values=values)
    print("\n" + report.table() + "\n" + worker.table())
    assert len(report.operations) >= 12
    assert report.requests >= len(report.operations) * 3 * EXAMPLES
    assert worker.by_identity["worker"][200] > 0  # past the token: hello, claim, heartbeats
    assert report.server_errors == [] and worker.server_errors == []
