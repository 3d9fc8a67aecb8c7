"""Any integer in a URL's id is an answer, never a crash: an id no row can have is not found (404).

SQLite refuses integers above 2**63 and PostgreSQL's INTEGER columns those above 2**31 - 1;
either used to surface as a 500. The routes are listed from the application itself.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from fastapi import FastAPI
from fastapi.dependencies.utils import get_flat_params
from fastapi.routing import APIRoute, RouteContext, iter_route_contexts
from fastapi.testclient import TestClient

from app.main import create_app
from tests.utils.arena import Arena, build_arena
from tests.utils.workers import WORKER_PREFIX, new_worker_token

IMPOSSIBLE_IDS = [2**31, 99_999_999_999, 2**63, 88_435_613_600_275_562_496, 0, -1]


def integer_id_routes(app: FastAPI) -> list[tuple[str, RouteContext, list[str]]]:
    """(method, route, names of its integer path parameters) for every route that has one."""
    found = []
    for route in iter_route_contexts(app.routes):
        if not isinstance(route.original_route, APIRoute) or route.dependant is None:
            continue
        names = sorted({p.name for p in get_flat_params(route.dependant)
                        if p.name in route.param_convertors and p.field_info.annotation is int})
        found += [(method, route, names) for method in sorted(route.methods or ()) if names]
    return found


def fill(path: str, values: dict[str, str]) -> str:
    return re.sub(r"{([^}:]+)(:[^}]*)?}", lambda m: values[m.group(1)], path)


@pytest.fixture
def app(db_url: str) -> Iterator[FastAPI]:
    yield create_app(background=False)


@pytest.fixture
def arena(db_url: str, sample_set) -> Arena:
    return build_arena(sample_set)


def test_every_integer_path_parameter_answers_404_for_an_impossible_id(app, arena):
    routes = integer_id_routes(app)
    assert len(routes) >= 12  # submissions, rescoring, downloads, inspection, tokens, worker API
    others = {"challenge": arena.challenge, "phase": arena.phase, "stem": "001"}
    worker = {"Authorization": f"Bearer {new_worker_token()}"}
    wrong = []
    with TestClient(app) as client:
        for method, route, names in routes:
            # each route asked by the identity it serves: the worker API by a worker token
            headers = worker if route.path.startswith(WORKER_PREFIX) else arena.auth("organiser")
            for value in IMPOSSIBLE_IDS:
                url = fill(route.path, {**others, **{name: str(value) for name in names}})
                response = client.request(method, url, headers=headers)
                body = response.json()
                if response.status_code != 404 or str(value) not in body["detail"] or \
                        set(body) != {"detail", "problems"}:
                    wrong.append(f"{method} {url} -> {response.status_code} {body}")
    assert wrong == []
