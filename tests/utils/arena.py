"""A ready challenge for service tests: a paired phase with real ground truth, teams, tokens."""

from __future__ import annotations

import hashlib
import shutil
import zipfile
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from fastapi.testclient import TestClient

from app.accounts import create_team, create_token, ensure_organiser
from app.config import get_settings
from app.db import ensure_schema, session_scope
from app.intake.receive import ReceivedFile
from app.models import Challenge, Dataset, Phase
from metrics.samples import SampleSet
from scoring.formula import RAIM_2024


@dataclass
class Arena:
    """Slugs and tokens of a test challenge (tokens are what real clients hold)."""

    challenge: str
    phase: str
    phase_id: int
    team_ids: dict[str, int]
    tokens: dict[str, str]  # team name or "organiser" -> API token
    samples: SampleSet

    def auth(self, who: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[who]}"}


def add_phase(challenge_id: int, slug: str, gt: Path | None, *, kind: str = "paired",
              position: int = 0, start: datetime | None = None, end: datetime | None = None,
              per_day: int | None = None, total: int | None = None,
              leaderboard: str = "public", rank_by: str = "best",
              qualify_from: str | None = None, qualify_top: int | None = None) -> int:
    """A phase whose ground truth is copied under RAIM_DATA_DIR/datasets, as bundles do."""
    settings = get_settings()
    with session_scope() as session:
        challenge = session.get_one(Challenge, challenge_id)
        phase = Phase(challenge_id=challenge.id, slug=slug, title=slug.title(), kind=kind,
                      position=position, start=start, end=end, max_submissions_per_day=per_day,
                      max_submissions=total, leaderboard=leaderboard, rank_by=rank_by,
                      qualify_from=qualify_from, qualify_top=qualify_top)
        session.add(phase)
        session.flush()
        if gt is not None:
            relative = f"{challenge.slug}/{slug}/ground_truth"
            shutil.copytree(gt, settings.datasets_dir / relative)
            session.add(Dataset(phase_id=phase.id, role="ground_truth", path=relative,
                                image_count=len(list(gt.iterdir())), fingerprint="test"))
        return phase.id


def build_arena(samples: SampleSet, *, teams: tuple[str, ...] = ("alpha", "beta"),
                slug: str = "raim-test", **phase_options: object) -> Arena:
    """A challenge with one open paired phase ``validation``, teams with tokens, an organiser."""
    ensure_schema()
    with session_scope() as session:
        challenge = Challenge(slug=slug, title="RAIM test", formula=RAIM_2024.to_dict())
        session.add(challenge)
        session.flush()
        challenge_id = challenge.id
    phase_id = add_phase(challenge_id, "validation", samples.gt, **phase_options)  # type: ignore[arg-type]
    tokens, team_ids = {}, {}
    with session_scope() as session:
        challenge = session.get_one(Challenge, challenge_id)
        for name in teams:
            team, tokens[name] = create_team(session, challenge, name)
            team_ids[name] = team.id
        organiser, _ = ensure_organiser(session, "organiser@example.org", name="Organiser")
        _, tokens["organiser"] = create_token(session, organiser, name="tests")
    return Arena(slug, "validation", phase_id, team_ids, tokens, samples)


def zip_folder(folder: Path, out: Path, *, extra: dict[str, bytes] | None = None,
               skip: tuple[str, ...] = ()) -> Path:
    """Zip every file of ``folder`` (minus ``skip``), plus ``extra`` members."""
    with zipfile.ZipFile(out, "w") as archive:
        for file in sorted(folder.iterdir()):
            if file.name not in skip:
                archive.write(file, file.name)
        for name, data in (extra or {}).items():
            archive.writestr(name, data)
    return out


def as_upload(zip_path: Path) -> ReceivedFile:
    """A copy of ``zip_path`` as POST /score hands it over (a temporary file, size, sha256)."""
    data = zip_path.read_bytes()
    part = zip_path.with_suffix(".part")
    part.write_bytes(data)
    return ReceivedFile(part, zip_path.name, len(data), hashlib.sha256(data).hexdigest())


def post_zip(client: TestClient, arena: Arena, zip_path: Path, who: str = "alpha",
             phase: str | None = None, query: str = ""):
    data = {"phase": phase} if phase else {}
    with zip_path.open("rb") as handle:
        return client.post(f"/score{query}", headers=arena.auth(who), data=data,
                           files={"file": (zip_path.name, handle, "application/zip")})
