"""Loads a checked bundle: creates or updates the challenge, its phases and their image sets.

Everything is checked first (app.bundles.check), so a bundle with problems writes nothing.
Image sets are copied into
``RAIM_DATA_DIR/datasets/<challenge>/<phase>/<role>-<fingerprint>/``; the database row
is switched to the new folder in the same transaction as the challenge, so that readers
see the old set or the new one, never half of each. The schema is documented in
docs/challenge-bundle.md.
"""

from __future__ import annotations

import shutil
import uuid
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app import audit, leaderboard
from app.bundles.check import Bundle, ImageFolder, read_bundle
from app.bundles.schema import BundleError, PhaseSpec
from app.config import get_settings
from app.db import session_scope
from app.models import Challenge, Dataset, Phase, Submission, User
from metrics.images import ImageSet

__all__ = ["BundleError", "LoadResult", "install_bundle", "load_bundle", "prune_datasets"]


@dataclass
class LoadResult:
    """What a load did: the challenge, whether it was new, which image sets were replaced."""

    challenge: Challenge
    created: bool
    replaced: list[str]  # "phase/role" of every image set copied in
    removed_phases: list[str]


def load_bundle(session: Session, bundle: Bundle, *, datasets_dir: Path,
                actor: User | None = None) -> LoadResult:
    """Create or update the challenge of a checked bundle, in the caller's transaction.

    New image folders are written before the database changes; folders no longer
    referenced are removed by ``finish_load`` after the commit.
    """
    spec = bundle.spec
    challenge = session.scalar(select(Challenge).where(Challenge.slug == spec.slug))
    created = challenge is None
    if challenge is None:
        challenge = Challenge(slug=spec.slug, title=spec.title, formula={})
        session.add(challenge)
    challenge.title, challenge.description = spec.title, spec.description
    challenge.formula = spec.formula
    challenge.ranking = [{"phase": r.phase, "weight": r.weight} for r in spec.ranking]
    session.flush()
    removed = _remove_phases(session, challenge, {p.slug for p in spec.phases})
    result = LoadResult(challenge, created, [], removed)
    for position, phase_spec in enumerate(spec.phases):
        phase = _upsert_phase(session, challenge, phase_spec, position)
        result.replaced += _sync_datasets(session, bundle, phase, datasets_dir)
    audit.record(session, "challenge.load", f"challenge:{spec.slug}", {
        "created": created, "source": str(bundle.root.resolve()),
        "phases": [p.slug for p in spec.phases], "replaced": result.replaced,
        "removed_phases": removed,
    }, actor=actor)
    session.flush()
    return result


def _remove_phases(session: Session, challenge: Challenge, keep: set[str]) -> list[str]:
    gone = [p for p in challenge.phases if p.slug not in keep]
    blocked = []
    for phase in gone:
        count = session.scalar(select(func.count()).select_from(Submission)
                               .where(Submission.phase_id == phase.id)) or 0
        if count:
            blocked.append(f"phase {phase.slug!r} is not in the bundle any more but has "
                           f"{count} submission(s); it cannot be removed by reloading")
    if blocked:
        raise BundleError(blocked)
    for phase in gone:
        challenge.phases.remove(phase)
        session.delete(phase)
    session.flush()
    return [p.slug for p in gone]


def _upsert_phase(session: Session, challenge: Challenge, spec: PhaseSpec, position: int) -> Phase:
    phase = next((p for p in challenge.phases if p.slug == spec.slug), None)
    if phase is None:
        phase = Phase(slug=spec.slug)
        challenge.phases.append(phase)
    phase.title = spec.title or spec.slug
    phase.kind, phase.position = spec.kind, position
    phase.start, phase.end = spec.start, spec.end
    phase.max_submissions_per_day, phase.max_submissions = (spec.max_submissions_per_day,
                                                            spec.max_submissions)
    rule_changed = phase.id is not None and phase.rank_by != spec.rank_by
    phase.leaderboard, phase.rank_by = spec.leaderboard, spec.rank_by
    phase.qualify_from = spec.qualify.from_ if spec.qualify else None
    phase.qualify_top = spec.qualify.top if spec.qualify else None
    phase.factsheet = spec.factsheet.model_dump() if spec.factsheet else None
    phase.formula = spec.formula
    phase.stages = list(spec.stages) if spec.stages else None
    session.flush()
    if rule_changed:  # best <-> latest: every team's line picks another submission
        leaderboard.rebuild(session, phase)
    return phase


def _sync_datasets(session: Session, bundle: Bundle, phase: Phase, datasets_dir: Path) -> list[str]:
    replaced = []
    for role in ("inputs", "ground_truth"):
        folder = bundle.folders.get((phase.slug, role))
        current = phase.dataset(role)
        if folder is None:
            if current is not None:
                phase.datasets.remove(current)
                session.delete(current)
            continue
        relative = f"{bundle.spec.slug}/{phase.slug}/{role}-{folder.fingerprint[:16]}"
        if current is not None and current.fingerprint == folder.fingerprint \
                and (datasets_dir / current.path).is_dir():
            continue
        _copy_images(folder, datasets_dir / relative)
        if current is None:
            current = Dataset(role=role, path=relative, image_count=0, fingerprint="")
            phase.datasets.append(current)
        current.path, current.image_count = relative, len(folder.names)
        current.fingerprint = folder.fingerprint
        replaced.append(f"{phase.slug}/{role}")
    session.flush()
    return replaced


def _copy_images(folder: ImageFolder, target: Path) -> None:
    """Copy the checked files into ``target`` via a staging folder renamed at the end."""
    if target.is_dir():
        return  # same fingerprint already on disk
    staging = target.parent / f".staging-{uuid.uuid4().hex}"
    images = ImageSet(folder.source, "images")
    try:
        for name in folder.names:
            out = staging / name
            out.parent.mkdir(parents=True, exist_ok=True)
            out.write_bytes(images.read(name))
        staging.rename(target)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    finally:
        images.close()


def prune_datasets(session: Session, challenge_slug: str, datasets_dir: Path) -> list[Path]:
    """Delete the challenge's image folders no Dataset row refers to (after a committed load)."""
    root = datasets_dir / challenge_slug
    if not root.is_dir():
        return []
    used = {datasets_dir / p for p in session.scalars(
        select(Dataset.path).where(Dataset.path.startswith(f"{challenge_slug}/")))}
    removed = []
    for folder in sorted(root.glob("*/*")):
        if folder.is_dir() and folder not in used:
            shutil.rmtree(folder, ignore_errors=True)
            removed.append(folder)
    for phase_dir in root.iterdir():
        if phase_dir.is_dir() and not any(phase_dir.iterdir()):
            phase_dir.rmdir()
    return removed


def install_bundle(root: Path, *, actor_id: int | None = None) -> LoadResult:
    """Check and load a bundle folder into the configured database, then tidy the disk.

    Nothing is written when the bundle has problems (BundleError). Image folders that no
    row refers to after the load (replaced sets, or the copies of a failed load) are removed.
    """
    settings = get_settings()
    bundle = read_bundle(root, max_pixels=settings.max_pixels)
    try:
        with session_scope(immediate=True) as session:
            actor = session.get(User, actor_id) if actor_id is not None else None
            result = load_bundle(session, bundle, datasets_dir=settings.datasets_dir, actor=actor)
    finally:
        with session_scope(immediate=True) as session:
            prune_datasets(session, bundle.spec.slug, settings.datasets_dir)
    return result
