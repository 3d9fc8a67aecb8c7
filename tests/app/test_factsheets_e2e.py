"""End to end over HTTP: a final phase asks for a factsheet; an upload without one is refused,
then every finalist sends one (in the form, or as factsheet.yaml in the zip); organisers see it
(API, submission page, CSV), other teams and judges never do. Then an organiser checks two
teams' results against reproduced outputs: one altered image out of five fails one team, the
audit log records both verdicts and the final page shows them next to the teams."""

from __future__ import annotations

import csv
import io
import zipfile
from collections.abc import Iterator
from pathlib import Path

import cv2
import numpy as np
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from app.db import session_scope
from app.jobs.worker import score_next
from app.models import Phase, Submission
from tests.app.judging.walk import forbidden_strings, walk_judge
from tests.app.judging.world import (
    World,
    add_judges,
    build_world,
    close_final,
    make_app,
    open_campaign,
)

FIELDS = [
    {"name": "method", "type": "text", "required": True},
    {"name": "runtime_per_image_s", "type": "number", "required": True},
    {"name": "hardware", "type": "text"},
    {"name": "extra_data", "type": "boolean", "required": True},
]
# What each team declares: distinctive strings that must never reach a judge.
DECLARED = {0: ("Zebra-Diffusion-Q7", "Quokka GPU 9000"), 1: ("Okapi-Transformer-X3", "Axolotl TPU"),
            2: ("Narwhal-GAN-B2", "Pangolin FPGA")}
HTML = {"Accept": "text/html"}


@pytest.fixture
def world(tmp_path: Path, db_url: str) -> World:
    built = build_world(tmp_path / "world", finalists=3, images=5)
    with session_scope() as session:
        final = session.scalars(select(Phase).where(Phase.slug == "final")).one()
        final.factsheet = {"source": "both", "fields": FIELDS}
    return built


def _final_count() -> int:
    with session_scope() as session:
        return session.scalar(select(func.count()).select_from(Submission).join(Phase)
                              .where(Phase.slug == "final")) or 0


def _post(client: TestClient, world: World, team: str, zip_path: Path, fields: dict) -> dict:
    with zip_path.open("rb") as handle:
        answer = client.post("/score", headers=world.auth(team),
                             data={"phase": "final", **fields},
                             files={"file": (zip_path.name, handle, "application/zip")})
    return {"status": answer.status_code, "body": answer.json()}


def _with_factsheet_yaml(source: Path, text: str) -> Path:
    target = source.with_name(source.stem + "-with-factsheet.zip")
    with zipfile.ZipFile(source) as old, zipfile.ZipFile(target, "w") as new:
        for item in old.infolist():
            new.writestr(item, old.read(item))
        new.writestr("factsheet.yaml", text)
    return target


def _submit_all(world: World, client: TestClient) -> dict[str, int]:
    ids = {}
    for i, team in enumerate(world.teams):
        method, hardware = DECLARED[i]
        if i == 1:  # this team puts its factsheet in the zip
            path = _with_factsheet_yaml(world.zips[team], f"method: {method}\nhardware: {hardware}"
                                                          f"\nruntime_per_image_s: 2.5\n"
                                                          f"extra_data: yes\n")
            sent = _post(client, world, team, path, {})
        else:
            sent = _post(client, world, team, world.zips[team], {
                "factsheet.method": method, "factsheet.hardware": hardware,
                "factsheet.runtime_per_image_s": str(0.5 + i), "factsheet.extra_data": "no"})
        assert sent["status"] == 202, sent
        ids[team] = sent["body"]["id"]
        score_next()
    return ids


def _png_zip(path: Path, images: dict[str, np.ndarray]) -> Path:
    with zipfile.ZipFile(path, "w") as archive:
        for stem, rgb in images.items():
            ok, png = cv2.imencode(".png", cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))
            assert ok
            archive.writestr(f"outputs/{stem}.png", png.tobytes())
    return path


def test_factsheet_required_stored_shown_to_organisers_and_never_to_judges(
        world: World, client_app: TestClient, tmp_path: Path) -> None:
    client = client_app
    team, other = world.teams[0], world.teams[1]

    # 0. The submit page shows the form, required fields marked for the browser too.
    submit = client.get(f"/challenges/{world.challenge}/phases/final/submit",
                        headers={**HTML, **world.auth(team)})
    assert submit.status_code == 200
    assert 'name="factsheet.method" type="text" maxlength="4000">' in submit.text  # 'both'
    assert 'name="factsheet.extra_data"' in submit.text and "factsheet.yaml" in submit.text

    # 1. Required: an upload without it is refused, each field named, nothing stored.
    refused = _post(client, world, team, world.zips[team], {})
    assert refused["status"] == 400
    named = {p["file"]: p["message"] for p in refused["body"]["problems"]}
    assert set(named) == {"factsheet.method", "factsheet.runtime_per_image_s",
                          "factsheet.extra_data"}
    assert all(m.startswith("required field missing") for m in named.values())
    assert "factsheet" in refused["body"]["detail"]
    wrong = _post(client, world, team, world.zips[team], {
        "factsheet.method": "x", "factsheet.runtime_per_image_s": "fast",
        "factsheet.extra_data": "yes"})
    assert wrong["status"] == 400
    assert wrong["body"]["problems"] == [{"file": "factsheet.runtime_per_image_s",
                                          "message": "must be a number (got 'fast')"}]
    assert _final_count() == 0

    # 2. Submitted: in the form (teams 0 and 2) or as factsheet.yaml in the zip (team 1),
    # which is not mistaken for an image.
    ids = _submit_all(world, client)
    with session_scope() as session:
        stored = {s.team.name: (s.status, s.factsheet, s.image_count)
                  for s in session.scalars(select(Submission).join(Phase)
                                           .where(Phase.slug == "final"))}
    assert stored[team] == ("scored", {"method": DECLARED[0][0], "runtime_per_image_s": 0.5,
                                       "hardware": DECLARED[0][1], "extra_data": False}, 5)
    assert stored[other] == ("scored", {"method": DECLARED[1][0], "runtime_per_image_s": 2.5,
                                        "hardware": DECLARED[1][1], "extra_data": True}, 5)

    # 3. Shown to organisers: the API, the submission page, the CSV.
    api = client.get(f"/api/organiser/submissions/{ids[other]}/factsheet",
                     headers=world.auth("organiser"))
    assert api.status_code == 200
    assert api.json()["factsheet"]["method"] == DECLARED[1][0]
    assert [f["name"] for f in api.json()["fields"]] == [f["name"] for f in FIELDS]
    page = client.get(f"/submissions/{ids[other]}", headers={**HTML, **world.auth("organiser")})
    assert page.status_code == 200 and DECLARED[1][0] in page.text and DECLARED[1][1] in page.text
    assert 'id="reproduction"' in page.text
    exported = client.get(f"/api/organiser/challenges/{world.challenge}/submissions.csv",
                          headers=world.auth("organiser"))
    lines = {r["submission_id"]: r for r in csv.DictReader(io.StringIO(exported.text))}
    assert lines[str(ids[team])]["factsheet.method"] == DECLARED[0][0]
    assert lines[str(ids[team])]["factsheet.extra_data"] == "no"
    assert lines[str(ids[other])]["factsheet.hardware"] == DECLARED[1][1]
    assert lines[str(ids[other])]["factsheet.runtime_per_image_s"] == "2.5"

    # ... and not to other teams.
    assert client.get(f"/api/organiser/submissions/{ids[other]}/factsheet",
                      headers=world.auth(team)).status_code == 403
    assert client.get(f"/submissions/{ids[other]}",
                      headers={**HTML, **world.auth(team)}).status_code == 404
    assert DECLARED[1][0] not in client.get(f"/challenges/{world.challenge}", headers={
        **HTML, **world.auth(team)}).text

    # 4. Never to judges: every page, JSON answer and image a judge's browser receives.
    close_final()
    open_campaign(world, client, criteria=True)
    tokens = add_judges(world, client, 2)
    secrets = [s for pair in DECLARED.values() for s in pair] + ["factsheet"]
    secrets += forbidden_strings(world)  # and, as ever, nothing naming a team
    for token in tokens.values():
        walk, _ = walk_judge(token)
        assert walk.responses
        for answer in walk.responses:
            text = answer.content.decode("latin-1")
            for secret in secrets:
                assert secret not in text, f"{answer.request.url} reveals {secret!r}"
        judge = {"Authorization": f"Bearer {token}"}
        assert client.get(f"/api/organiser/submissions/{ids[team]}/factsheet",
                          headers=judge).status_code == 403
        assert client.get(f"/api/submissions/{ids[team]}", headers=judge).status_code == 404


def test_reproduction_flags_one_altered_image_of_five_audited_and_on_the_final_page(
        world: World, client_app: TestClient, tmp_path: Path) -> None:
    client = client_app
    ids = _submit_all(world, client)
    honest, cheat = world.teams[0], world.teams[1]
    same = _png_zip(tmp_path / "honest.zip", world.results[honest])
    altered = {k: v.copy() for k, v in world.results[cheat].items()}
    stem = sorted(altered)[2]
    altered[stem][20:40, 20:40] = 255 - altered[stem][20:40, 20:40]
    changed = _png_zip(tmp_path / "cheat.zip", altered)
    organiser = world.auth("organiser")

    def check(team: str, path: Path, **fields: str) -> dict:
        answer = client.post(f"/api/organiser/submissions/{ids[team]}/reproduction",
                             headers=organiser, data=fields,
                             files={"file": (path.name, path.read_bytes(), "application/zip")})
        assert answer.status_code == 201, answer.text
        return answer.json()

    passed = check(honest, same)
    assert passed["verdict"] == "pass" and passed["flagged"] == 0 and passed["image_count"] == 5
    assert all(i["identical"] for i in passed["images"])
    failed = check(cheat, changed, min_psnr="35", max_diff="8")
    assert failed["verdict"] == "fail" and failed["image_count"] == 5
    assert [i["name"] for i in failed["images"] if i["flagged"]] == [stem]
    assert failed["thresholds"] == {"min_psnr": 35.0, "max_diff": 8}

    bad = client.post(f"/api/organiser/submissions/{ids[cheat]}/reproduction", headers=organiser,
                      data={"max_diff": "lots"},
                      files={"file": ("x.zip", changed.read_bytes(), "application/zip")})
    assert bad.status_code == 400 and bad.json()["problems"][0]["file"] == "max_diff"
    assert client.post(f"/api/organiser/submissions/{ids[cheat]}/reproduction",
                       headers=world.auth(honest),
                       files={"file": ("x.zip", b"PK", "application/zip")}).status_code == 403
    listed = client.get(f"/api/organiser/submissions/{ids[cheat]}/reproduction", headers=organiser)
    assert [c["verdict"] for c in listed.json()["checks"]] == ["fail"]
    page_form = client.post(f"/organiser/submissions/{ids[honest]}/reproduction",
                            headers=organiser, data={"min_psnr": "", "max_diff": ""},
                            files={"reproduced": ("again.zip", same.read_bytes(),
                                                  "application/zip")}, follow_redirects=False)
    assert page_form.status_code == 303
    shown = client.get(page_form.headers["location"], headers={**HTML, **organiser})
    assert "Reproduction check of again.zip: pass, 0 of 5 image(s) flagged." in shown.text
    assert shown.text.count("identical</td>") == 10  # two checks of five images

    audit = client.get("/api/organiser/audit", params={"action": "submission.reproduction"},
                       headers=organiser).json()
    verdicts = {e["details"]["team"]: (e["details"]["verdict"], e["details"]["flagged"])
                for e in audit["entries"]}
    assert verdicts == {honest: ("pass", []), cheat: ("fail", [stem])}

    close_final()
    open_campaign(world, client, method={"bootstrap_samples": 20})
    for token in add_judges(world, client, 2).values():
        auth = {"Authorization": f"Bearer {token}"}
        for trial in client.get("/api/judge/trials", headers=auth).json()["trials"]:
            client.post("/api/judge/ratings", headers=auth, json={
                "trial_id": trial["trial_id"],
                "scores": {c["label"]: 5 + n for n, c in enumerate(trial["candidates"])}})
    page = client.get(f"/challenges/{world.challenge}/final", headers={**HTML, **organiser})
    assert page.status_code == 200
    assert page.context["reproduction"][cheat]["verdict"] == "fail"  # type: ignore[attr-defined]
    assert page.text.count('data-verdict="fail"') == 1
    assert page.text.count('data-verdict="pass"') == 1
    assert "not reproduced: 1 of 5 images differ" in page.text


@pytest.fixture
def client_app(world: World) -> Iterator[TestClient]:
    with TestClient(make_app()) as test_client:
        yield test_client
