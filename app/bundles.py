"""Challenge bundles: read and check ``DIR/challenge.yaml`` and its images, then create or update.

Everything is checked before anything is written: the YAML against the schema (every
error names its key path and the bad value), the cross-references between phases,
and every image folder (each file decodes, stems are unique, a paired phase's inputs
and ground truth have the same stems). Image sets are copied into
``RAIM_DATA_DIR/datasets/<challenge>/<phase>/<role>-<fingerprint>/``; the database row
is switched to the new folder in the same transaction as the challenge, so that readers
see the old set or the new one, never half of each. The schema is documented in
docs/challenge-bundle.md.
"""

from __future__ import annotations

import hashlib
import shutil
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import (
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    PositiveFloat,
    PositiveInt,
    ValidationError,
    field_validator,
)
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app import audit
from app.config import get_settings
from app.db import session_scope
from app.models import Challenge, Dataset, Phase, Submission, User
from metrics.images import IMAGE_SUFFIXES, ImageSet, InvalidInput, pair_images
from metrics.registry import METRIC_NAMES
from scoring.formula import formula_from_config

BUNDLE_FILE = "challenge.yaml"
Slug = Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9-]{0,63}$")]


class BundleError(ValueError):
    """The bundle cannot be loaded; ``problems`` lists every reason, each naming where."""

    def __init__(self, problems: list[str]):
        self.problems = problems
        super().__init__("\n".join(problems))


# -- schema ------------------------------------------------------------------------------


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class QualifySpec(_Strict):
    from_: Slug = Field(alias="from")
    top: PositiveInt


class PhaseSpec(_Strict):
    slug: Slug
    title: str | None = None
    kind: Literal["paired", "unpaired"] = "paired"
    inputs: str
    ground_truth: str | None = None
    start: AwareDatetime | None = None
    end: AwareDatetime | None = None
    max_submissions_per_day: PositiveInt | None = None
    max_submissions: PositiveInt | None = None
    leaderboard: Literal["public", "private", "hidden"] = "public"
    rank_by: Literal["best", "latest"] = "best"
    qualify: QualifySpec | None = None

    def problems(self, where: str) -> list[str]:
        """Disagreements between this phase's own keys."""
        found = []
        if self.kind == "paired" and not self.ground_truth:
            found.append(f"{where}.ground_truth: required key missing (phase kind is paired)")
        if self.kind == "unpaired" and self.ground_truth:
            found.append(f"{where}.ground_truth: an unpaired phase has no ground truth "
                         f"(got {self.ground_truth!r})")
        if self.start and self.end and self.start >= self.end:
            found.append(f"{where}.end: must be after start {self.start.isoformat()} "
                         f"(got {self.end.isoformat()!r})")
        return found


class RankingEntry(_Strict):
    phase: Slug
    weight: PositiveFloat


class ChallengeSpec(_Strict):
    slug: Slug
    title: str = Field(min_length=1)
    description: str = ""
    formula: dict[str, Any] = Field(default_factory=lambda: formula_from_config(None).to_dict())
    phases: list[PhaseSpec] = Field(min_length=1)
    ranking: list[RankingEntry] = Field(default_factory=list)

    @field_validator("formula", mode="before")
    @classmethod
    def _formula(cls, value: Any) -> dict[str, Any]:
        if not isinstance(value, str | dict):
            raise ValueError("must be a formula name (raim-2024) or a mapping with 'terms'")
        try:
            formula = formula_from_config(value)
        except KeyError as exc:
            raise ValueError(str(exc.args[0])) from exc
        except (ValueError, TypeError) as exc:
            raise ValueError(str(exc)) from exc
        unknown = [m for m in formula.metrics if m not in METRIC_NAMES]
        if unknown:
            raise ValueError(f"unknown metric(s) {', '.join(unknown)}; known: "
                             f"{', '.join(METRIC_NAMES)}")
        return formula.to_dict()


def _path(loc: tuple[int | str, ...]) -> str:
    text = ""
    for part in loc:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text or "(top level)"


def _describe(error: Any) -> str:
    kind, message = error["type"], error["msg"]
    if kind == "missing":
        return f"{_path(error['loc'])}: required key missing"
    if kind == "extra_forbidden":
        return f"{_path(error['loc'])}: unknown key"
    message = message.removeprefix("Value error, ")
    shown = error["input"]
    if isinstance(shown, dict | list):
        return f"{_path(error['loc'])}: {message}"
    return f"{_path(error['loc'])}: {message} (got {shown!r})"


class _NoTimestamps(yaml.SafeLoader):
    """A safe loader that leaves dates as text, for pydantic to parse with their time zones."""


_NoTimestamps.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


def parse_spec(text: str, source: str = BUNDLE_FILE) -> ChallengeSpec:
    """The validated schema of a challenge.yaml text; BundleError lists every problem."""
    spec = _parse_keys(text, source)
    problems = [f"{source}: {p}" for p in _cross_problems(spec)]
    if problems:
        raise BundleError(problems)
    return spec


def _parse_keys(text: str, source: str) -> ChallengeSpec:
    try:
        data = yaml.load(text, Loader=_NoTimestamps)  # noqa: S506 (a SafeLoader subclass)
    except yaml.YAMLError as exc:
        raise BundleError([f"{source}: not valid YAML ({exc})"]) from exc
    if not isinstance(data, dict):
        raise BundleError([f"{source}: must be a mapping of keys (slug, title, phases, ...)"])
    try:
        spec = ChallengeSpec.model_validate(data)
    except ValidationError as exc:
        raise BundleError([f"{source}: {_describe(e)}" for e in exc.errors()]) from exc
    return spec


def _cross_problems(spec: ChallengeSpec) -> list[str]:
    """References between phases and the ranking, which the per-key schema cannot see."""
    problems: list[str] = []
    seen: dict[str, PhaseSpec] = {}
    for i, phase in enumerate(spec.phases):
        problems += phase.problems(f"phases[{i}]")
        if phase.slug in seen:
            problems.append(f"phases[{i}].slug: {phase.slug!r} is used by an earlier phase")
        if phase.qualify is not None:
            source = seen.get(phase.qualify.from_)
            if source is None:
                problems.append(f"phases[{i}].qualify.from: {phase.qualify.from_!r} is not an "
                                f"earlier phase of this challenge")
            elif source.kind != "paired":
                problems.append(f"phases[{i}].qualify.from: {phase.qualify.from_!r} is unpaired; "
                                f"qualification needs a scored (paired) phase")
        seen.setdefault(phase.slug, phase)
    ranked: set[str] = set()
    for i, entry in enumerate(spec.ranking):
        if entry.phase not in seen:
            problems.append(f"ranking[{i}].phase: {entry.phase!r} is not a phase of this "
                            f"challenge ({', '.join(seen)})")
        if entry.phase in ranked:
            problems.append(f"ranking[{i}].phase: {entry.phase!r} is listed twice")
        ranked.add(entry.phase)
    return problems


# -- image folders -------------------------------------------------------------------------


@dataclass
class ImageFolder:
    """A checked image set of the bundle: where it is, its file names, its fingerprint."""

    source: Path
    names: list[str]
    fingerprint: str = ""


@dataclass
class Bundle:
    """A fully checked bundle, ready to load."""

    root: Path
    spec: ChallengeSpec
    folders: dict[tuple[str, str], ImageFolder] = field(default_factory=dict)  # (phase, role)


def _inside(root: Path, relative: str, where: str, problems: list[str]) -> Path | None:
    path = (root / relative).resolve()
    if Path(relative).is_absolute() or not path.is_relative_to(root.resolve()):
        problems.append(f"{where}: {relative!r} must be a path inside the bundle folder")
        return None
    if not path.exists():
        problems.append(f"{where}: {relative!r} does not exist in {root}")
        return None
    return path


def _check_images(path: Path, relative: str, label: str, max_pixels: int,
                  problems: list[str]) -> ImageFolder:
    """Every file of the set checked; the folder lists its image names even when some are bad."""
    images = ImageSet(path, label)
    names = [n for n in images.names() if Path(n).suffix.lower() in IMAGE_SUFFIXES]
    folder = ImageFolder(path, names)
    try:
        pair_images(images, None, max_pixels=max_pixels)
    except InvalidInput as exc:
        for p in exc.problems:
            where = relative if p.file == str(path) else f"{relative}/{p.file}"
            problems.append(f"{where}: {p.message}")
    finally:
        images.close()
    return folder


def _stems(names: list[str]) -> dict[str, str]:
    return {Path(name).stem: name for name in names}


def _check_pairing(phase: PhaseSpec, inputs: ImageFolder, truth: ImageFolder,
                   problems: list[str]) -> None:
    ins, gts = _stems(inputs.names), _stems(truth.names)
    for stem in sorted(gts.keys() - ins.keys()):
        problems.append(f"{phase.ground_truth}/{gts[stem]}: no input named {stem}.* "
                        f"in {phase.inputs}")
    for stem in sorted(ins.keys() - gts.keys()):
        problems.append(f"{phase.inputs}/{ins[stem]}: no ground-truth image named {stem}.* "
                        f"in {phase.ground_truth}")


def _phase_folders(root: Path, index: int, phase: PhaseSpec, max_pixels: int,
                   problems: list[str], checked: dict[Path, ImageFolder],
                   ) -> dict[tuple[str, str], ImageFolder]:
    wanted = {"inputs": phase.inputs, "ground_truth": phase.ground_truth}
    found: dict[tuple[str, str], ImageFolder] = {}
    for role, relative in wanted.items():
        if relative is None:
            continue
        path = _inside(root, relative, f"{BUNDLE_FILE}: phases[{index}].{role}", problems)
        if path is None:
            continue
        if path not in checked:  # a folder named by two phases is checked (and reported) once
            label = "inputs" if role == "inputs" else "ground truth"
            checked[path] = _check_images(path, relative, label, max_pixels, problems)
        found[(phase.slug, role)] = checked[path]
    if len(found) == 2:
        _check_pairing(phase, found[(phase.slug, "inputs")],
                       found[(phase.slug, "ground_truth")], problems)
    return found


def read_bundle(root: Path, *, max_pixels: int) -> Bundle:
    """Parse and check a bundle folder completely; BundleError lists every problem."""
    root = Path(root)
    spec_file = root / BUNDLE_FILE
    if not spec_file.is_file():
        raise BundleError([f"{spec_file}: not found (a bundle is a folder with {BUNDLE_FILE})"])
    spec = _parse_keys(spec_file.read_text(encoding="utf-8"), BUNDLE_FILE)
    bundle = Bundle(root, spec)
    problems = [f"{BUNDLE_FILE}: {p}" for p in _cross_problems(spec)]
    checked: dict[Path, ImageFolder] = {}
    for i, phase in enumerate(spec.phases):
        bundle.folders.update(_phase_folders(root, i, phase, max_pixels, problems, checked))
    if problems:
        raise BundleError(list(dict.fromkeys(problems)))
    for folder in bundle.folders.values():
        folder.fingerprint = fingerprint(folder)
    return bundle


def fingerprint(folder: ImageFolder) -> str:
    """sha256 over the sorted file names and their contents' sha256."""
    images = ImageSet(folder.source, "images")
    digest = hashlib.sha256()
    try:
        for name in sorted(folder.names):
            digest.update(name.encode("utf-8") + b"\0")
            digest.update(hashlib.sha256(images.read(name)).digest())
    finally:
        images.close()
    return digest.hexdigest()


# -- loading -------------------------------------------------------------------------------


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
    phase.leaderboard, phase.rank_by = spec.leaderboard, spec.rank_by
    phase.qualify_from = spec.qualify.from_ if spec.qualify else None
    phase.qualify_top = spec.qualify.top if spec.qualify else None
    session.flush()
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
        with session_scope() as session:
            actor = session.get(User, actor_id) if actor_id is not None else None
            result = load_bundle(session, bundle, datasets_dir=settings.datasets_dir, actor=actor)
    finally:
        with session_scope() as session:
            prune_datasets(session, bundle.spec.slug, settings.datasets_dir)
    return result
