"""Factsheets: the fields a phase asks for, read from the upload form or the zip's factsheet.yaml,
checked field by field, every problem named.

A phase's ``factsheet`` (challenge.yaml, docs/challenge-bundle.md) lists fields (text, number,
boolean; required or not) and where they come from: ``form`` (multipart fields
``factsheet.<name>`` beside the zip), ``zip`` (a ``factsheet.yaml`` mapping at the top of the
zip, which the image checks set aside: metrics.images.SIDE_FILES) or ``both`` (either; a field
given in both places takes the form's value). The checked values are stored with the
submission and shown to organisers only.
"""

from __future__ import annotations

import math
import zipfile
from pathlib import Path
from typing import Any

import yaml

from app.bundles.schema import FactsheetField, FactsheetSpec
from metrics.images import FACTSHEET_FILE, SIDE_FILES, ImageSet
from metrics.problems import InvalidInput, Problem

FORM_PREFIX = "factsheet."
MAX_FILE_BYTES = 64 * 1024
MAX_TEXT_CHARS = 4000
_TRUE = ("true", "yes", "on", "1")
_FALSE = ("false", "no", "off", "0")


class FactsheetError(ValueError):
    """The factsheet is missing or wrong; ``problems`` names each field."""

    def __init__(self, problems: list[Problem]):
        self.problems = problems
        super().__init__("; ".join(f"{p.file}: {p.message}" for p in problems))


def spec_of(stored: dict[str, Any] | None) -> FactsheetSpec | None:
    """The phase's stored factsheet spec (``Phase.factsheet``), or None when it asks for none."""
    return FactsheetSpec.model_validate(stored) if stored else None


def label(item: FactsheetField) -> str:
    return item.label or item.name.replace("_", " ").capitalize()


def columns(specs: list[FactsheetSpec]) -> list[str]:
    """The field names of several phases' factsheets, in order of first appearance."""
    names: list[str] = []
    for spec in specs:
        names += [f.name for f in spec.fields if f.name not in names]
    return names


def from_upload(stored: dict[str, Any] | None, form: dict[str, str],
                upload: Path) -> dict[str, Any] | None:
    """The checked factsheet of an upload: ``form`` holds the multipart fields, ``upload`` is
    the zip. None when the phase asks for none; FactsheetError lists every problem."""
    spec = spec_of(stored)
    if spec is None:
        return None
    given = {k[len(FORM_PREFIX):]: v for k, v in form.items() if k.startswith(FORM_PREFIX)}
    problems: list[Problem] = []
    if spec.source == "zip" and given:
        problems += [Problem(f"{FORM_PREFIX}{name}",
                             f"this phase reads its factsheet from {FACTSHEET_FILE} in the zip, "
                             f"not from the form") for name in given]
        given = {}
    from_file: dict[str, Any] | None = {}
    file_problems: list[Problem] = []
    if spec.source in ("zip", "both"):
        from_file, file_problems = _read_file(upload)
        problems += file_problems
        if spec.source == "zip" and not file_problems and from_file is None:
            if any(f.required for f in spec.fields):
                problems.append(Problem(FACTSHEET_FILE, "missing: this phase asks for a "
                                        f"{FACTSHEET_FILE} at the top of the zip with the "
                                        f"fields {_names(spec)}"))
    values: dict[str, Any] = {}
    for where, found in ((FACTSHEET_FILE, from_file or {}), ("form", given)):
        problems += _unknown(spec, where, found)
        for item in spec.fields:
            if item.name in found and not _blank(found[item.name]):
                value, problem = coerce(item, found[item.name])
                if problem is not None:
                    problems.append(Problem(_where(where, item.name), problem))
                else:
                    values[item.name] = value
    # A zip factsheet missing or unreadable is one problem, not one per required field.
    unreadable = spec.source == "zip" and (bool(file_problems) or from_file is None)
    for item in spec.fields:
        if item.required and not unreadable and item.name not in values and not any(
                p.file == _where(w, item.name) for w in ("form", FACTSHEET_FILE)
                for p in problems):
            problems.append(Problem(_where("form" if spec.source != "zip" else FACTSHEET_FILE,
                                           item.name),
                                    f"required field missing ({label(item)}, {item.type}"
                                    f"{_sources(spec)})"))
    if problems:
        raise FactsheetError(problems)
    return {f.name: values[f.name] for f in spec.fields if f.name in values}


def _names(spec: FactsheetSpec) -> str:
    return ", ".join(f.name + ("" if f.required else " (optional)") for f in spec.fields)


def _sources(spec: FactsheetSpec) -> str:
    return {"form": "", "zip": f"; give it in {FACTSHEET_FILE} at the top of the zip",
            "both": f"; give it in the form or in {FACTSHEET_FILE} in the zip"}[spec.source]


def _where(where: str, name: str) -> str:
    return f"{FORM_PREFIX}{name}" if where == "form" else f"{FACTSHEET_FILE}: {name}"


def _blank(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def _unknown(spec: FactsheetSpec, where: str, found: dict[str, Any]) -> list[Problem]:
    known = {f.name for f in spec.fields}
    return [Problem(_where(where, str(name)), f"unknown field; this phase asks for {_names(spec)}")
            for name in found if name not in known]


def _read_file(upload: Path) -> tuple[dict[str, Any] | None, list[Problem]]:
    """The mapping in the zip's factsheet.yaml (None when there is none), or its problems."""
    if not zipfile.is_zipfile(upload):
        return None, []  # the image checks say what is wrong with the upload
    images = ImageSet(upload, "prediction", side_files=SIDE_FILES)
    if images.problems:
        return None, []  # the same: reported by the image checks
    try:
        data = images.read_side(FACTSHEET_FILE, MAX_FILE_BYTES)
    except InvalidInput as exc:
        return None, exc.problems
    if data is None:
        return None, []
    try:
        parsed = yaml.safe_load(data.decode("utf-8"))
    except (UnicodeDecodeError, yaml.YAMLError) as exc:
        return None, [Problem(FACTSHEET_FILE, f"not valid UTF-8 YAML ({exc})")]
    if not isinstance(parsed, dict):
        return None, [Problem(FACTSHEET_FILE, "must be a mapping of field: value")]
    return {str(k): v for k, v in parsed.items()}, []


def coerce(item: FactsheetField, value: Any) -> tuple[Any, str | None]:
    """The value as the field's type, or (None, why not); text from a form or YAML values."""
    if item.type == "boolean":
        if isinstance(value, bool):
            return value, None
        text = str(value).strip().lower()
        if text in _TRUE or text in _FALSE:
            return text in _TRUE, None
        return None, f"must be yes or no (got {value!r})"
    if item.type == "number":
        if isinstance(value, bool) or not isinstance(value, int | float | str):
            return None, f"must be a number (got {value!r})"
        if isinstance(value, str):
            text = value.strip()
            try:
                value = int(text)
            except ValueError:
                try:
                    value = float(text)
                except ValueError:
                    return None, f"must be a number (got {text!r})"
        if isinstance(value, float) and not math.isfinite(value):
            return None, f"must be a finite number (got {value!r})"
        return value, None
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        return None, f"must be text (got {value!r})"
    text = str(value).strip()
    if len(text) > MAX_TEXT_CHARS:
        return None, f"at most {MAX_TEXT_CHARS} characters (got {len(text)})"
    return text, None


def shown(value: Any) -> str:
    """A stored value as a page or the CSV shows it."""
    if isinstance(value, bool):
        return "yes" if value else "no"
    return "" if value is None else str(value)


def rows(stored_spec: dict[str, Any] | None, values: dict[str, Any] | None) -> list[dict]:
    """A submission's factsheet for a page: label, type and shown value of every field."""
    spec = spec_of(stored_spec)
    values = values or {}
    known = [] if spec is None else [
        {"name": f.name, "label": label(f), "type": f.type, "value": shown(values.get(f.name))}
        for f in spec.fields]
    names = {r["name"] for r in known}
    return known + [{"name": k, "label": k, "type": "", "value": shown(v)}
                    for k, v in values.items() if k not in names]
