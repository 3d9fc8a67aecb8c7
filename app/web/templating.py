"""Renders the HTML pages: the Jinja2 environment (autoescaped), its filters and flash messages."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

import jinja2
from fastapi import Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates

from app.csrf import csrf_token

TEMPLATES_DIR = Path(__file__).resolve().parents[2] / "templates"
STATIC_DIR = Path(__file__).resolve().parents[1] / "static"
FLASH_KEY = "flash"
SIZE_UNITS = ("KiB", "MiB", "GiB", "TiB")


def format_time(value: datetime | None) -> str:
    """``2024-02-01 00:00 UTC``; an em dash for no time."""
    if value is None:
        return "—"
    return value.strftime("%Y-%m-%d %H:%M UTC")


def format_number(value: float | None, digits: int = 4) -> str:
    """A metric value with a fixed number of decimals; an em dash for a missing one."""
    if value is None:
        return "—"
    return f"{value:.{digits}f}"


def format_size(size: int) -> str:
    """A byte count in binary units, labelled as such: ``900 bytes``, ``12 KiB``, ``1.5 MiB``,
    ``8 GiB`` (one decimal, dropped when it is 0; app/static/submit.js writes sizes alike)."""
    if size < 1024:
        return f"{size} bytes"
    value = float(size)
    for unit in SIZE_UNITS:
        value /= 1024
        if value < 1024 or unit == SIZE_UNITS[-1]:
            break
    return f"{value:.1f}".removesuffix(".0") + f" {unit}"


def shown_status(submission: Any) -> str:
    """A submission's state as a team reads it: a checked upload to a judged (unpaired) phase
    is ``accepted`` (for the judges), not ``scored``."""
    if submission.status == "scored" and submission.phase.kind == "unpaired":
        return "accepted"
    return str(submission.status)


def _static_url(name: str) -> str:
    """A static file's URL, versioned by its modification time so browsers never keep stale JS."""
    path = STATIC_DIR / name
    version = int(path.stat().st_mtime) if path.exists() else 0
    return f"/static/{name}?v={version}"


def _environment() -> jinja2.Environment:
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(TEMPLATES_DIR), autoescape=True,
                             undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True)
    env.filters["time"] = format_time
    env.filters["num"] = format_number
    env.filters["size"] = format_size
    env.filters["shown_status"] = shown_status
    env.globals["static"] = _static_url
    return env


templates = Jinja2Templates(env=_environment())


def flash(request: Request, kind: str, message: str) -> None:
    """Queue a message (``ok``, ``error`` or ``info``) for the next page this browser renders."""
    request.session[FLASH_KEY] = [*request.session.get(FLASH_KEY, []), [kind, message]]


def render(request: Request, name: str, context: dict[str, Any], *,
           status_code: int = 200) -> HTMLResponse:
    """A page from ``templates/name``; the context must carry ``user`` (None when signed out)."""
    page = {"section": "", **context,
            "csrf_token": csrf_token(request),
            "flashes": [tuple(item) for item in request.session.pop(FLASH_KEY, [])]}
    return templates.TemplateResponse(request, name, page, status_code=status_code)


def confirm_page(request: Request, user: Any, *, title: str, crumbs: list[tuple[str, str]],
                 points: list[str], action: str, button: str, cancel: str,
                 warnings: list[str] | None = None, progress: list | None = None) -> HTMLResponse:
    """The confirmation step before an action that cannot be undone lightly: what will happen,
    any warnings, and a form that POSTs to ``action`` (no script needed, so it works under the
    Content-Security-Policy and without JavaScript)."""
    return render(request, "organiser/confirm.html", {
        "user": user, "section": "organiser", "title": title, "crumbs": crumbs,
        "points": points, "warnings": warnings or [], "progress": progress or [],
        "action": action, "button": button, "cancel": cancel})
