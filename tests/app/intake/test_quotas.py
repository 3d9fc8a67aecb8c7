"""Quotas (app.intake.quotas): the day boundary, and the quota holding under concurrent uploads."""

import threading
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select

from app.db import session_scope
from app.intake.quotas import day_start
from app.models import Submission
from metrics.samples import write_sample_set
from tests.utils.arena import build_arena, zip_folder
from tests.utils.processes import free_port, service_env, start_api, stop


def test_day_start_is_midnight_utc_of_the_same_day():
    now = datetime(2026, 3, 4, 23, 59, 59, tzinfo=UTC)
    assert day_start(now) == datetime(2026, 3, 4, tzinfo=UTC)


def race(url: str, token: str, zip_path: Path, count: int) -> list[httpx.Response]:
    """``count`` uploads released at the same moment, each from its own thread."""
    barrier = threading.Barrier(count)
    responses: list[httpx.Response] = []
    lock = threading.Lock()
    body = zip_path.read_bytes()

    def upload() -> None:
        with httpx.Client(timeout=120) as client:
            barrier.wait()
            response = client.post(url, headers={"Authorization": f"Bearer {token}"},
                                   files={"file": ("r.zip", body, "application/zip")})
        with lock:
            responses.append(response)

    threads = [threading.Thread(target=upload) for _ in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return responses


@pytest.mark.parametrize("racers", [2, 4])
def test_concurrent_uploads_race_for_the_last_slot_and_only_one_wins(db_url, tmp_path, racers):
    arena = build_arena(write_sample_set(tmp_path / "s", count=3, size=128), total=2)
    good = zip_folder(arena.samples.pred, tmp_path / "r.zip")
    port, log = free_port(), tmp_path / "api.log"
    server = start_api(port, service_env(), log)
    try:
        url = f"http://127.0.0.1:{port}/score"
        first = httpx.post(url, headers=arena.auth("alpha"), timeout=120,
                           files={"file": ("r.zip", good.read_bytes())})
        assert first.status_code == 202, first.text
        responses = race(url, arena.tokens["alpha"], good, racers)
    finally:
        stop(server)
    codes = sorted(r.status_code for r in responses)
    assert codes == [202] + [429] * (racers - 1), [r.text for r in responses]
    assert all(r.json()["limit"] == 2 for r in responses if r.status_code == 429)
    with session_scope() as session:
        assert len(session.scalars(select(Submission)).all()) == 2
