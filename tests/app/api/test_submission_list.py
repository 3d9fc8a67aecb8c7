"""GET /api/submissions (a team's own, a page at a time) and GET /api/submissions/{id}/results.csv."""

import csv
import io
from pathlib import Path

import pytest
from sqlalchemy import select

from app.db import session_scope
from app.models import Challenge, ImageResult, Submission
from metrics.registry import METRIC_NAMES
from tests.utils.arena import Arena, add_phase, zip_folder


def upload(client, arena: Arena, zip_path: Path, who: str = "alpha", phase: str | None = None):
    data = {"phase": phase} if phase else {}
    with zip_path.open("rb") as handle:
        response = client.post("/score", headers=arena.auth(who), data=data,
                               files={"file": (zip_path.name, handle, "application/zip")})
    assert response.status_code == 202, response.text
    return response.json()["id"]


@pytest.fixture
def good_zip(arena: Arena, tmp_path: Path) -> Path:
    return zip_folder(arena.samples.pred, tmp_path / "results.zip")


def mark_scored(sub_id: int) -> None:
    """Store hand-made results, as a worker would (the numbers are the test's own)."""
    with session_scope() as session:
        sub = session.get_one(Submission, sub_id)
        for index, name in enumerate(["001", "002"]):
            session.add(ImageResult(submission_id=sub_id, name=name, psnr=30.0 + index,
                                    ssim=0.5, lpips=0.25, dists=0.125, niqe=4.0,
                                    score=60.0 + index))
        sub.status, sub.score = "scored", 60.5
        sub.mean = {"psnr": 30.5, "ssim": 0.5, "lpips": 0.25, "dists": 0.125, "niqe": 4.0,
                    "score": 60.5}


def test_list_is_the_teams_own_newest_first_with_the_single_view_shape(client, arena, good_zip):
    ids = [upload(client, arena, good_zip) for _ in range(3)]
    body = client.get("/api/submissions", headers=arena.auth("alpha")).json()
    assert [item["id"] for item in body["items"]] == ids[::-1]
    assert (body["page"], body["per_page"], body["total"]) == (1, 20, 3)
    single = client.get(f"/api/submissions/{ids[0]}", headers=arena.auth("alpha")).json()
    assert body["items"][-1] == single


def test_list_pages(client, arena, good_zip):
    ids = [upload(client, arena, good_zip) for _ in range(3)]
    first = client.get("/api/submissions?per_page=2", headers=arena.auth("alpha")).json()
    second = client.get("/api/submissions?per_page=2&page=2", headers=arena.auth("alpha")).json()
    beyond = client.get("/api/submissions?per_page=2&page=3", headers=arena.auth("alpha")).json()
    assert [i["id"] for i in first["items"]] == [ids[2], ids[1]]
    assert [i["id"] for i in second["items"]] == [ids[0]]
    assert beyond["items"] == [] and beyond["total"] == 3
    assert client.get("/api/submissions?page=0", headers=arena.auth("alpha")).status_code == 422


def test_another_team_and_an_organiser_see_none_of_them(client, arena, good_zip):
    upload(client, arena, good_zip)
    for who in ("beta", "organiser"):
        body = client.get("/api/submissions", headers=arena.auth(who)).json()
        assert body["items"] == [] and body["total"] == 0
    assert client.get("/api/submissions").status_code == 401


def test_list_filters_by_phase_and_challenge(client, arena, good_zip):
    add_phase(arena_challenge_id(), "second", arena.samples.gt, position=1)
    first = upload(client, arena, good_zip, phase="validation")
    second = upload(client, arena, good_zip, phase="second")

    def listed(query: str) -> list[int]:
        body = client.get(f"/api/submissions?{query}", headers=arena.auth("alpha")).json()
        return [item["id"] for item in body["items"]]

    assert listed("phase=validation") == [first]
    assert listed("phase=raim-test/second") == [second]
    assert listed("challenge=raim-test") == [second, first]
    assert listed("challenge=other") == []
    assert listed("phase=other/second") == []


def arena_challenge_id() -> int:
    with session_scope() as session:
        return session.scalars(select(Challenge.id)).one()


def test_results_file_has_one_row_per_image_for_the_team_and_organisers(client, arena, good_zip):
    sub_id = upload(client, arena, good_zip)
    url = f"/api/submissions/{sub_id}/results.csv"
    queued = client.get(url, headers=arena.auth("alpha"))
    assert queued.status_code == 409 and "queued" in queued.json()["detail"]
    mark_scored(sub_id)
    response = client.get(url, headers=arena.auth("alpha"))
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/csv")
    assert f"submission-{sub_id}-results.csv" in response.headers["content-disposition"]
    rows = list(csv.DictReader(io.StringIO(response.text)))
    assert list(rows[0]) == ["name", *METRIC_NAMES, "score"]
    assert [(row["name"], float(row["psnr"]), float(row["score"])) for row in rows] == [
        ("001", 30.0, 60.0), ("002", 31.0, 61.0)]
    assert client.get(url, headers=arena.auth("organiser")).text == response.text
    assert client.get(url, headers=arena.auth("beta")).status_code == 404
