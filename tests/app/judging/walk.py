"""What a judge's browser receives: a recorder of every answer, one judge's whole walk through
the judging pages (sign-in, page, assets, trials, images, a rating each), and the strings that
must never reach a judge. Shared by the blindness tests and the factsheet journey."""

from __future__ import annotations

import re
import struct

from fastapi.testclient import TestClient
from httpx import Response
from sqlalchemy import select

from app.db import session_scope
from app.models import Submission
from tests.app.judging.world import World, make_app

BARE_PNG_CHUNKS = {b"IHDR", b"IDAT", b"IEND"}
REVEALING_HEADERS = ("etag", "last-modified", "content-disposition", "x-team", "server-timing")
TRIAL_KEYS = {"trial_id", "protocol", "input_url", "candidates", "rated", "scale", "criteria"}
BEST_K_KEYS = TRIAL_KEYS | {"k", "picked"}
PAIR_KEYS = {"trial_id", "protocol", "input_url", "candidates", "choice", "ties", "rated"}
CANDIDATE_KEYS = {"label", "image_url", "score", "criteria"}


def png_chunks(data: bytes) -> list[bytes]:
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    chunks, at = [], 8
    while at < len(data):
        (length,) = struct.unpack(">I", data[at:at + 4])
        chunks.append(data[at + 4:at + 8])
        at += 12 + length
    return chunks


class Walk:
    """Everything one judge's browser received: bodies and headers, in order."""

    def __init__(self, client: TestClient) -> None:
        self.client = client
        self.responses: list[Response] = []

    def get(self, url: str, **kwargs: object) -> Response:
        answer = self.client.get(url, **kwargs)  # type: ignore[arg-type]
        self.responses.append(answer)
        return answer

    def post(self, url: str, **kwargs: object) -> Response:
        answer = self.client.post(url, **kwargs)  # type: ignore[arg-type]
        self.responses.append(answer)
        return answer


def forbidden_strings(world: World) -> list[str]:
    """Team names, file names, upload times and hashes: none may reach a judge."""
    found = [*world.teams, world.outsider, "final-results", ".zip", "Author", "Comment"]
    with session_scope() as session:
        for sub in session.scalars(select(Submission)):
            found += [sub.original_filename, sub.upload_sha256, sub.upload_path,
                      sub.created_at.isoformat(), sub.created_at.strftime("%Y-%m-%dT%H:%M")]
    return [s for s in found if s and s != "-"]


def walk_judge(token: str) -> tuple[Walk, dict]:
    client = TestClient(make_app())
    walk = Walk(client)
    signed = walk.get(f"/judge/sign-in/{token}", follow_redirects=False)
    assert signed.status_code == 303 and signed.headers["location"] == "/judge"
    page = walk.get("/judge", headers={"Accept": "text/html"})
    assert page.status_code == 200
    csrf = re.search(r'name="csrf-token" content="([^"]+)"', page.text).group(1)  # type: ignore[union-attr]
    for asset in re.findall(r'(?:src|href)="(/static/[^"]+)"', page.text):
        assert walk.get(asset).status_code == 200
    body = walk.get("/api/judge/trials").json()
    for trial in body["trials"]:
        assert set(trial) == TRIAL_KEYS
        for url in [trial["input_url"], *(c["image_url"] for c in trial["candidates"])]:
            image = walk.get(url)
            assert image.status_code == 200 and image.headers["content-type"] == "image/png"
            assert set(png_chunks(image.content)) <= BARE_PNG_CHUNKS
        for candidate in trial["candidates"]:
            assert set(candidate) == CANDIDATE_KEYS
        first = trial["candidates"][0]["label"]
        saved = walk.post("/api/judge/ratings", headers={"X-CSRF-Token": csrf}, json={
            "trial_id": trial["trial_id"], "scores": {first: 6},
            "criteria": {first: {"texture": 5, "noise": 7}}})
        assert saved.status_code == 200, saved.text
    walk.get("/api/judge/trials")
    return walk, body
