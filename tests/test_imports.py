"""The import graph of app/, metrics/ and scoring/: no circles, and the rooms keep their walls.

Imports are read from the source with ``ast`` (every ``import`` statement, also those inside
functions), so the test needs no heavy import and names each offending module.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from functools import cache
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("app", "metrics", "scoring")
# Rules only: no web framework, directly or through anything they import.
DOMAIN = ("app.judging", "app.intake", "app.jobs", "app.bundles")
WEB = ("fastapi", "starlette")


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {module_name(p): p for package in PACKAGES for p in sorted((ROOT / package).rglob("*.py"))}


def _resolve(name: str) -> str | None:
    """The project module an imported name refers to (``app.jobs.queue``), or None."""
    while name and name not in MODULES:
        name = name.rpartition(".")[0]
    return name or None


@cache
def imports(module: str) -> frozenset[str]:
    """Every module (project or not) that ``module`` imports, by full dotted name."""
    tree = ast.parse(MODULES[module].read_text(encoding="utf-8"))
    package = module if MODULES[module].name == "__init__.py" else module.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            found.add(base)
            found.update(f"{base}.{alias.name}" for alias in node.names)
    return frozenset(found)


@cache
def project_imports(module: str) -> frozenset[str]:
    """The project modules ``module`` imports (package ``__init__`` files hold no code)."""
    edges = {_resolve(name) for name in imports(module)}
    return frozenset(m for m in edges if m is not None and m != module
                     and MODULES[m].name != "__init__.py")


def closure(module: str) -> set[str]:
    """``module`` and every project module it imports, directly or not."""
    seen, todo = {module}, [module]
    while todo:
        for dep in project_imports(todo.pop()):
            if dep not in seen:
                seen.add(dep)
                todo.append(dep)
    return seen


def cycles() -> list[list[str]]:
    """Each import circle once, as the list of modules around it (Tarjan's strongly connected
    components with more than one module, or a module importing itself)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for dep in project_imports(node):
            if dep not in index:
                visit(dep)
                low[node] = min(low[node], low[dep])
            elif dep in stack:
                low[node] = min(low[node], index[dep])
        if low[node] == index[node]:
            component = []
            while True:
                top = stack.pop()
                component.append(top)
                if top == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for module in sorted(MODULES):
        if module not in index:
            visit(module)
    return found


def test_no_import_circle_among_the_project_modules():
    assert cycles() == []


def test_cycle_finder_finds_a_circle(monkeypatch):
    graph = {"app.a": {"app.b"}, "app.b": {"app.c"}, "app.c": {"app.a"}, "app.d": {"app.a"}}
    monkeypatch.setattr(sys.modules[__name__], "project_imports", lambda m: graph.get(m, set()))
    monkeypatch.setitem(MODULES, "app.a", ROOT / "a.py")
    for name in ("app.b", "app.c", "app.d"):
        monkeypatch.setitem(MODULES, name, ROOT / f"{name}.py")
    assert ["app.a", "app.b", "app.c"] in cycles()


@pytest.mark.parametrize("module", sorted(m for m in MODULES if m.startswith(DOMAIN)))
def test_domain_modules_never_reach_the_web_framework(module):
    speaking_http = sorted(m for m in closure(module)
                           if any(n == w or n.startswith(w + ".") for n in imports(m) for w in WEB))
    assert speaking_http == [], f"{module} reaches fastapi/starlette through {speaking_http}"


@pytest.mark.parametrize("package", ["metrics", "scoring"])
def test_metrics_and_scoring_import_nothing_of_app(package):
    offenders = sorted(m for m in MODULES if m.startswith(package + ".")
                       if any(d.startswith("app.") or d == "app" for d in closure(m)))
    assert offenders == []


def test_only_the_worker_command_imports_the_task_module():
    importers = sorted(m for m in MODULES if "app.jobs.tasks" in project_imports(m))
    assert importers == ["app.commands.worker"]
    assert "app.jobs.tasks" not in closure("app.main")


def test_sending_a_job_loads_neither_the_task_nor_the_scorer():
    code = ("import sys, app.jobs.queue; "
            "print(sorted(m for m in ('app.jobs.tasks', 'app.jobs.worker', 'torch') "
            "if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True,
                         check=True).stdout
    assert out.strip() == "[]"
