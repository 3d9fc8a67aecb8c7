"""A full disk is the server's state, not the client's fault: 507 with Retry-After, nothing kept."""

from __future__ import annotations

import errno
import os
from collections.abc import Iterator

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from app.config import Settings, get_settings
from app.db import session_scope
from app.main import create_app
from app.models import Submission
from tests.utils.arena import Arena, build_arena, zip_folder
from tests.utils.faults import fill_disk_under


@pytest.fixture
def app(settings: Settings) -> Iterator[FastAPI]:
    from app import db

    yield create_app(background=False)
    db.dispose_engines()


@pytest.fixture
def arena(settings: Settings, sample_set) -> Arena:
    return build_arena(sample_set)


def upload(app: FastAPI, arena: Arena, tmp_path) -> object:  # type: ignore[no-untyped-def]
    good = zip_folder(arena.samples.pred, tmp_path / "r.zip")
    with TestClient(app) as client:
        return client.post("/score", headers=arena.auth("alpha"),
                           files={"file": ("r.zip", good.read_bytes(), "application/zip")})


def assert_nothing_stored() -> None:
    with session_scope() as session:
        assert session.scalar(select(func.count(Submission.id))) == 0
    uploads = get_settings().uploads_dir
    assert [p for p in uploads.rglob("*") if p.is_file()] == []  # no partial file either


def assert_disk_full_answer(response) -> None:  # type: ignore[no-untyped-def]
    assert response.status_code == 507, response.text
    assert int(response.headers["Retry-After"]) > 0
    body = response.json()
    assert set(body) == {"detail", "problems"} and "no space left" in body["detail"]


def test_disk_filling_up_while_the_upload_streams_in_is_a_507(app, arena, tmp_path,
                                                               monkeypatch):
    fill_disk_under(monkeypatch, get_settings().uploads_dir, room=10_000)
    response = upload(app, arena, tmp_path)
    assert_disk_full_answer(response)
    assert_nothing_stored()


def test_disk_full_when_the_upload_is_moved_into_place_is_a_507(app, arena, tmp_path,
                                                                 monkeypatch):
    import app.intake.accept as accept

    real_replace = os.replace

    def replace(source, target):  # type: ignore[no-untyped-def]
        if str(target).endswith(".zip"):
            raise OSError(errno.EDQUOT, os.strerror(errno.EDQUOT))
        return real_replace(source, target)

    monkeypatch.setattr(accept.os, "replace", replace)
    response = upload(app, arena, tmp_path)
    assert_disk_full_answer(response)
    assert_nothing_stored()
