"""A judging test world: a paired validation phase with objective scores, a closed unpaired final,
finalists whose restored images differ by a known amount, an organiser, and an app client.

Each finalist's result for an image is the input plus a fixed +/-1 pattern times ``4 * level``
(level 1 is the best team), written as PNG with a text chunk naming the team, inside a zip
whose name also names the team: what a blind judge must never see. ``team_of_pixels`` lets
the test (which knows everything) tell which team produced a served image.
"""

from __future__ import annotations

import io
import shutil
import zipfile
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import cv2
import numpy as np
from fastapi import FastAPI
from fastapi.testclient import TestClient
from PIL import Image, PngImagePlugin

from app.accounts import create_team, create_token, ensure_organiser
from app.config import get_settings
from app.db import ensure_schema, session_scope
from app.models import Challenge, Dataset, Phase, Submission
from metrics.images import decode
from metrics.samples import write_sample_set
from scoring.formula import RAIM_2024
from tests.utils.arena import add_phase

VALIDATION_END = datetime(2024, 3, 15, tzinfo=UTC)
FINAL_START = datetime(2024, 3, 16, tzinfo=UTC)
FINAL_END = datetime(2024, 4, 1, tzinfo=UTC)
FAR_FUTURE = datetime(2099, 1, 1, tzinfo=UTC)
SLUG = "raim-judged"
STEP = 4  # pixel amplitude per quality level


def make_app() -> FastAPI:
    from app.main import create_app

    return create_app(background=False)


@dataclass
class World:
    challenge: str
    teams: list[str]  # finalists, best (level 0) first
    outsider: str  # a team below the qualification cut
    tokens: dict[str, str]
    inputs: dict[str, np.ndarray]  # stem -> RGB input
    results: dict[str, dict[str, np.ndarray]] = field(default_factory=dict)  # team -> stem -> RGB
    objective: dict[str, float] = field(default_factory=dict)
    zips: dict[str, Path] = field(default_factory=dict)

    def auth(self, who: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[who]}"}

    def level(self, team: str) -> int:
        return self.teams.index(team)

    def team_of_pixels(self, png: bytes) -> tuple[str, str | None]:
        """(stem, team) of a served image; team None when it is an input."""
        pixels = decode(png)
        for stem, image in self.inputs.items():
            if np.array_equal(pixels, image):
                return stem, None
        for team, by_stem in self.results.items():
            for stem, image in by_stem.items():
                if np.array_equal(pixels, image):
                    return stem, team
        raise AssertionError("a served image matches no input and no team's result")


def _pattern(shape: tuple[int, ...], seed: int) -> np.ndarray:
    return np.where(np.random.default_rng(seed).random(shape) < 0.5, -1, 1)


def _png_with_text(image: np.ndarray, team: str) -> bytes:
    info = PngImagePlugin.PngInfo()
    info.add_text("Author", f"team {team}")
    info.add_text("Comment", f"made by {team} for the final")
    out = io.BytesIO()
    Image.fromarray(image).save(out, format="PNG", pnginfo=info)
    return out.getvalue()


def team_zip(world: World, team: str, folder: Path) -> Path:
    """The team's results, one PNG per input stem, with metadata that names the team."""
    level = world.level(team) + 1  # level 0 would equal the input
    path = folder / f"{team}-final-results.zip"
    world.results[team] = {}
    with zipfile.ZipFile(path, "w") as archive:
        for i, (stem, image) in enumerate(sorted(world.inputs.items())):
            shifted = image.astype(int) + STEP * level * _pattern(image.shape, 1000 + i)
            result = np.clip(shifted, 0, 255).astype(np.uint8)
            world.results[team][stem] = result
            archive.writestr(f"{stem}.png", _png_with_text(result, team))
    world.zips[team] = path
    return path


def build_world(root: Path, *, finalists: int = 10, images: int = 4, size: int = 112,
                objective: list[float] | None = None,
                input_sizes: dict[str, tuple[int, int]] | None = None) -> World:
    """Challenge ``raim-judged``: validation (paired, ended) and final (unpaired, still open).

    Images are 112x112, the smallest round size the metrics accept (104 after the 4-pixel
    crop, for NIQE), so the same sample set could also be scored. ``input_sizes`` gives some
    final inputs another (width, height), by stem.
    """
    ensure_schema()
    samples = write_sample_set(root / "samples", count=images, size=size)
    for stem, (width, height) in (input_sizes or {}).items():
        path = samples.lq / f"{stem}.png"
        cv2.imwrite(str(path), cv2.resize(cv2.imread(str(path)), (width, height)))
    settings = get_settings()
    with session_scope() as session:
        challenge = Challenge(slug=SLUG, title="RAIM judged", formula=RAIM_2024.to_dict(),
                              ranking=[{"phase": "validation", "weight": 0.4},
                                       {"phase": "final", "weight": 0.6}])
        session.add(challenge)
        session.flush()
        challenge_id = challenge.id
    validation_id = add_phase(challenge_id, "validation", samples.gt, end=VALIDATION_END)
    final_id = add_phase(challenge_id, "final", None, kind="unpaired", position=1,
                         start=FINAL_START, end=FAR_FUTURE, qualify_from="validation",
                         qualify_top=finalists)
    relative = f"{SLUG}/final/inputs"
    shutil.copytree(samples.lq, settings.datasets_dir / relative)
    names = [f"team-{chr(ord('a') + i)}{'x' * i}" for i in range(finalists + 1)]
    scores = objective or [90.0 - 3.0 * ((i * 7) % finalists) for i in range(finalists)]
    world = World(SLUG, names[:finalists], names[finalists], {},
                  {p.stem: decode(p.read_bytes()) for p in sorted(samples.lq.iterdir())})
    with session_scope() as session:
        session.add(Dataset(phase_id=final_id, role="inputs", path=relative,
                            image_count=images, fingerprint="final-inputs"))
        challenge = session.get_one(Challenge, challenge_id)
        for i, name in enumerate(names):
            team, world.tokens[name] = create_team(session, challenge, name)
            score = scores[i] if i < finalists else 10.0
            world.objective[name] = score
            session.add(Submission(
                phase_id=validation_id, team_id=team.id, status="scored", score=score,
                mean={"score": score}, created_at=datetime(2024, 3, 1, 12, i, tzinfo=UTC),
                upload_path="-", upload_bytes=0, upload_sha256="0" * 64,
                original_filename=f"{name}-validation.zip", image_count=images))
        organiser, _ = ensure_organiser(session, "organiser@example.org", name="Organiser")
        _, world.tokens["organiser"] = create_token(session, organiser, name="tests")
    world.objective = {t: world.objective[t] for t in world.teams}
    for team in world.teams:
        team_zip(world, team, root)
    return world


def submit_finals(world: World, client: TestClient) -> dict[str, int]:
    """Every finalist uploads its zip through POST /score; the worker accepts each."""
    from app.jobs.worker import score_next

    ids = {}
    for team in world.teams:
        with world.zips[team].open("rb") as handle:
            answer = client.post("/score", headers=world.auth(team), data={"phase": "final"},
                                 files={"file": (world.zips[team].name, handle,
                                                 "application/zip")})
        if answer.status_code != 202:
            raise AssertionError(f"{team}: {answer.status_code} {answer.text}")
        ids[team] = answer.json()["id"]
        score_next()
    return ids


def close_final() -> None:
    """The final phase ends (organisers set its end date in the bundle)."""
    with session_scope() as session:
        phase = session.query(Phase).filter(Phase.slug == "final").one()
        phase.end = FINAL_END


def add_judges(world: World, client: TestClient, count: int) -> dict[str, str]:
    """Judges invited through the organiser API: name -> personal sign-in token."""
    tokens = {}
    for i in range(count):
        answer = client.post(f"/api/organiser/challenges/{world.challenge}/judges",
                             headers=world.auth("organiser"), json={"name": f"judge {i:02d}"})
        if answer.status_code != 201:
            raise AssertionError(answer.text)
        link = answer.json()["link"]
        tokens[f"judge {i:02d}"] = link.rsplit("/", 1)[-1]
    return tokens


def open_campaign(world: World, client: TestClient, **options: object) -> dict:
    answer = client.post(f"/api/organiser/challenges/{world.challenge}/phases/final/campaign",
                         headers=world.auth("organiser"), json=options)
    if answer.status_code != 201:
        raise AssertionError(answer.text)
    return answer.json()


def rate_everything(world: World, client: TestClient, token: str, *, judge: int = 0,
                    limit: int | None = None) -> int:
    """One judge rates every result through the API, or only the first ``limit`` results, as a
    person would: the better team, the higher score (1.5 points a level), a bias of their own
    (judge ``judge`` is ``0.5 * (judge % 3)`` points harsher) and an opinion of each result
    (normal, 0.8 points; seeded by judge, image and team). Returns how many were rated."""
    auth = {"Authorization": f"Bearer {token}"}
    given = 0
    for trial in client.get("/api/judge/trials", headers=auth).json()["trials"]:
        scores = {}
        for candidate in trial["candidates"]:
            if limit is not None and given >= limit:
                break
            stem, team = world.team_of_pixels(
                client.get(candidate["image_url"], headers=auth).content)
            assert team is not None
            opinion = np.random.default_rng([judge, sum(map(ord, stem)), world.level(team)])
            value = 9 - 1.5 * world.level(team) - 0.5 * (judge % 3) + opinion.normal(0, 0.8)
            scores[candidate["label"]] = int(min(10, max(1, round(value))))
            given += 1
        if scores:
            answer = client.post("/api/judge/ratings", headers=auth,
                                 json={"trial_id": trial["trial_id"], "scores": scores})
            if answer.status_code != 200:
                raise AssertionError(answer.text)
    return given
