"""Checks a bundle folder completely before anything is written: its YAML and every image set.

Each file of every image folder decodes, stems are unique, and a paired phase's inputs and
ground truth have the same stems; every problem is listed, each naming its file.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path

from app.bundles.schema import (
    BUNDLE_FILE,
    BundleError,
    ChallengeSpec,
    PhaseSpec,
    cross_problems,
    parse_keys,
)
from metrics.images import IMAGE_SUFFIXES, ImageSet, InvalidInput, pair_images, pair_key


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
                  problems: list[str], stages: tuple[str, ...] = ()) -> ImageFolder:
    """Every file of the set checked; the folder lists its image names even when some are bad.
    With stages, every image lies in a stage folder and each stage folder holds some."""
    images = ImageSet(path, label, max_pixels=max_pixels)
    names = [n for n in images.names() if Path(n).suffix.lower() in IMAGE_SUFFIXES]
    folder = ImageFolder(path, names)
    for stage in stages:
        if not any(n.startswith(f"{stage}/") for n in names):
            problems.append(f"{relative}/{stage}: no images in this stage's folder "
                            f"(stages: {', '.join(stages)})")
    try:
        pair_images(images, None, max_pixels=max_pixels, stages=stages)
    except InvalidInput as exc:
        for p in exc.problems:
            where = relative if p.file == str(path) else f"{relative}/{p.file}"
            problems.append(f"{where}: {p.message}")
    finally:
        images.close()
    return folder


def _stems(names: list[str], stages: tuple[str, ...] = ()) -> dict[str, str]:
    """Names by the key they pair by; with stages, files outside them (reported already) left out."""
    return {pair_key(name, stages): name for name in names
            if not stages or name.split("/", 1)[0] in stages and "/" in name}


def _check_pairing(phase: PhaseSpec, inputs: ImageFolder, truth: ImageFolder,
                   problems: list[str]) -> None:
    stages = tuple(phase.stages or ())
    ins, gts = _stems(inputs.names, stages), _stems(truth.names, stages)
    for stem in sorted(gts.keys() - ins.keys()):
        problems.append(f"{phase.ground_truth}/{gts[stem]}: no input named {stem}.* "
                        f"in {phase.inputs}")
    for stem in sorted(ins.keys() - gts.keys()):
        problems.append(f"{phase.inputs}/{ins[stem]}: no ground-truth image named {stem}.* "
                        f"in {phase.ground_truth}")


def _phase_folders(root: Path, index: int, phase: PhaseSpec, max_pixels: int,
                   problems: list[str],
                   checked: dict[tuple[Path, tuple[str, ...]], ImageFolder],
                   ) -> dict[tuple[str, str], ImageFolder]:
    wanted = {"inputs": phase.inputs, "ground_truth": phase.ground_truth}
    found: dict[tuple[str, str], ImageFolder] = {}
    for role, relative in wanted.items():
        if relative is None:
            continue
        path = _inside(root, relative, f"{BUNDLE_FILE}: phases[{index}].{role}", problems)
        if path is None:
            continue
        stages = tuple(phase.stages or ())
        if (path, stages) not in checked:  # a folder named by two phases is checked once
            label = "inputs" if role == "inputs" else "ground truth"
            checked[(path, stages)] = _check_images(path, relative, label, max_pixels,
                                                    problems, stages)
        found[(phase.slug, role)] = checked[(path, stages)]
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
    spec = parse_keys(spec_file.read_text(encoding="utf-8"), BUNDLE_FILE)
    bundle = Bundle(root, spec)
    problems = [f"{BUNDLE_FILE}: {p}" for p in cross_problems(spec)]
    checked: dict[tuple[Path, tuple[str, ...]], ImageFolder] = {}
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


