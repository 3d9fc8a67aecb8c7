"""One error body for every 4xx and 5xx, ``{"detail", "problems"}``; no traceback ever leaves."""

from __future__ import annotations

import errno
import sqlite3
from collections.abc import Iterator

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy.exc import IntegrityError, OperationalError

from app.config import Settings
from app.errors import INTERNAL, server_failure
from app.main import create_app
from tests.utils.arena import Arena, build_arena

HTML = {"Accept": "text/html"}


@pytest.fixture
def app(settings: Settings) -> Iterator[FastAPI]:
    from app import db

    yield create_app(background=False)
    db.dispose_engines()


@pytest.fixture
def arena(settings: Settings, sample_set) -> Arena:
    return build_arena(sample_set)


def one_shape(response) -> dict:  # type: ignore[no-untyped-def]
    assert response.headers["content-type"].startswith("application/json"), response.text[:200]
    body = response.json()
    assert set(body) >= {"detail", "problems"}, body
    assert isinstance(body["detail"], str) and isinstance(body["problems"], list)
    return body


def test_unknown_url_and_wrong_method_answer_the_one_shape(app):
    with TestClient(app) as client:
        missing = client.get("/api/nothing-here")
        assert missing.status_code == 404 and one_shape(missing)["detail"] == "Not Found"
        wrong = client.delete("/api/organiser/queue")
        assert wrong.status_code == 405 and one_shape(wrong)
        assert wrong.headers["Allow"] == "GET"
        page = client.get("/nothing-here", headers=HTML)  # a browser gets the error page
        assert page.status_code == 404 and "<html" in page.text.lower()
        form_address = client.get("/organiser/bundles", headers=HTML)  # a form's, opened
        assert form_address.status_code == 405 and form_address.headers["Allow"] == "POST"
        assert "<html" in form_address.text.lower() and 'href="/"' in form_address.text


def test_validation_errors_answer_the_one_shape(app, arena):
    with TestClient(app) as client:
        response = client.post(f"/api/organiser/challenges/{arena.challenge}/judges",
                               headers=arena.auth("organiser"), json={"name": 3})
    assert response.status_code == 422
    assert "body.name" in one_shape(response)["detail"]


def test_an_unexpected_exception_is_a_500_without_its_traceback(app, arena, monkeypatch):
    import app.api.leaderboards as leaderboards
    import app.web.pages as pages

    def broken(*_args, **_kwargs):  # type: ignore[no-untyped-def]
        raise RuntimeError("secret internals: /srv/raim/app.py line 42")

    monkeypatch.setattr(leaderboards, "phase_leaderboard", broken)
    monkeypatch.setattr(pages, "phase_leaderboard", broken)
    url = f"/api/challenges/{arena.challenge}/phases/{arena.phase}/leaderboard"
    with TestClient(app, raise_server_exceptions=False) as client:
        response = client.get(url)
        page = client.get(f"/challenges/{arena.challenge}/phases/{arena.phase}/leaderboard",
                          headers=HTML)
    assert response.status_code == 500
    assert one_shape(response) == {"detail": INTERNAL, "problems": []}
    assert page.status_code == 500 and INTERNAL in page.text  # the styled page for browsers
    for text in (response.text, page.text):
        assert "secret" not in text and "Traceback" not in text


def _sqlite_error(message: str, code: int) -> sqlite3.OperationalError:
    error = sqlite3.OperationalError(message)
    error.sqlite_errorcode = code  # type: ignore[attr-defined]
    return error


@pytest.mark.parametrize(("exc", "status"), [
    (OSError(errno.ENOSPC, "No space left on device"), 507),
    (OSError(errno.EDQUOT, "Disk quota exceeded"), 507),
    (OperationalError("INSERT", {}, _sqlite_error("database or disk is full", 13)), 507),
    (OperationalError("COMMIT", {}, _sqlite_error("database is locked", 5)), 503),
    (OSError(errno.EACCES, "Permission denied"), None),
    (IntegrityError("INSERT", {}, sqlite3.IntegrityError("UNIQUE")), None),
    (RuntimeError("a bug"), None),
])
def test_server_failures_are_classified_for_retrying(exc, status):
    failure = server_failure(exc)
    assert (failure.status if failure else None) == status
    if failure is not None:
        assert int(failure.headers["Retry-After"]) > 0
