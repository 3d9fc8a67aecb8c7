"""The environment is the lock: constraints.txt pins every installed package, exactly.

Numbers depend on more than pyiqa: numpy, scipy, torch, pillow and opencv (whose bundled
libjpeg-turbo decodes JPEG predictions) can each move a score. `make setup` installs through
the lock and makes the venv anew when it changes; these tests catch a venv that drifted from
it, and a dependency added to pyproject.toml without regenerating it (`make lock`).
"""

import re
import tomllib
from importlib import metadata
from pathlib import Path

from metrics.registry import PYIQA_VERSION

ROOT = Path(__file__).resolve().parent.parent
PROJECT = "raim-arena"
FIX = "run `make setup` (it rebuilds .venv from the lock); after changing pyproject.toml, `make lock`"


def _norm(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _lock() -> dict[str, str]:
    pins = {}
    for line in (ROOT / "constraints.txt").read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        name, sep, version = line.partition("==")
        assert sep and version and ";" not in line, f"constraints.txt: not an exact pin: {line!r}"
        pins[_norm(name)] = version
    return pins


def _installed() -> dict[str, str]:
    found = {}
    for dist in metadata.distributions():
        name = _norm(dist.metadata["Name"])
        if name != _norm(PROJECT):
            found.setdefault(name, dist.version)
    return found


def test_every_installed_package_is_the_locked_version():
    lock, installed = _lock(), _installed()
    unlocked = sorted(f"{n}=={v}" for n, v in installed.items() if n not in lock)
    moved = sorted(f"{n} {installed[n]} (lock: {v})" for n, v in lock.items() if installed.get(n, v) != v)
    missing = sorted(n for n in lock if n not in installed)
    assert not unlocked, f"installed but not in constraints.txt: {unlocked}; {FIX}"
    assert not moved, f"installed versions differ from constraints.txt: {moved}; {FIX}"
    assert not missing, f"in constraints.txt but not installed: {missing}; {FIX}"


def test_exactly_one_opencv_is_installed_the_headless_one():
    opencvs = sorted(n for n in _installed() if n.startswith("opencv-"))
    assert opencvs == ["opencv-python-headless"], (
        f"installed OpenCV distributions: {opencvs}; they share one cv2/ folder, so which JPEG "
        f"decoder runs is an accident; {FIX}"
    )


def test_pyiqa_is_locked_at_the_version_results_record():
    assert _lock()["pyiqa"] == PYIQA_VERSION


def test_every_declared_dependency_is_locked():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    declared = list(project["dependencies"])
    for extra in project.get("optional-dependencies", {}).values():
        declared += extra
    lock = _lock()
    names = [_norm(re.match(r"[A-Za-z0-9._-]+", spec).group(0)) for spec in declared]
    unlocked = [n for n in names if n not in lock]
    assert not unlocked, f"declared in pyproject.toml but not in constraints.txt: {unlocked}; {FIX}"


# What pyiqa's own metadata pulls in and the five metrics never import (pyproject.toml).
NEVER_IMPORTED = ("transformers", "datasets", "accelerate", "bitsandbytes", "timm", "facexlib",
                  "numba", "opencv-python", "openai-clip", "tensorboard", "pre-commit", "yapf")


def test_the_lock_leaves_out_what_pyiqa_pulls_in_but_the_metrics_never_import():
    present = [n for n in NEVER_IMPORTED if n in _lock()]
    assert not present, f"constraints.txt pins {present}: was pyiqa installed with its dependencies?"
