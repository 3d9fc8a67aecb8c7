"""Factsheets: the phase's fields, read from the form or the zip's factsheet.yaml, each problem
named by field; nothing else in the zip is mistaken for it, nor it for an image."""

from __future__ import annotations

import zipfile
from pathlib import Path

import pytest

from app.bundles.schema import BundleError, parse_spec
from app.factsheets import FactsheetError, columns, from_upload, rows, spec_of

FIELDS = [
    {"name": "method", "type": "text", "required": True},
    {"name": "runtime_per_image_s", "label": "Runtime per image (s)", "type": "number",
     "required": True},
    {"name": "hardware", "type": "text"},
    {"name": "parameters", "type": "number"},
    {"name": "extra_data", "type": "boolean", "required": True},
]


def spec(source: str = "form") -> dict:
    return {"source": source, "fields": [dict(f, help="", label=f.get("label")) for f in FIELDS]}


def upload(tmp_path: Path, factsheet: str | None = None) -> Path:
    path = tmp_path / "upload.zip"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("results/001.png", b"png bytes are not read here")
        if factsheet is not None:
            archive.writestr("results/factsheet.yaml", factsheet)
    return path


FORM = {"phase": "final", "factsheet.method": " Diffusion prior ",
        "factsheet.runtime_per_image_s": "0.25", "factsheet.parameters": "12000000",
        "factsheet.extra_data": "no"}


def problems(exc: pytest.ExceptionInfo[FactsheetError]) -> dict[str, str]:
    return {p.file: p.message for p in exc.value.problems}


def test_a_phase_without_factsheet_takes_none(tmp_path: Path) -> None:
    assert from_upload(None, FORM, upload(tmp_path)) is None


def test_form_values_are_typed_in_the_phase_order(tmp_path: Path) -> None:
    values = from_upload(spec(), FORM, upload(tmp_path))
    assert values == {"method": "Diffusion prior", "runtime_per_image_s": 0.25,
                      "parameters": 12000000, "extra_data": False}
    assert list(values) == ["method", "runtime_per_image_s", "parameters", "extra_data"]


def test_every_missing_or_wrong_field_is_named(tmp_path: Path) -> None:
    form = {"factsheet.runtime_per_image_s": "fast", "factsheet.extra_data": "maybe",
            "factsheet.gpu": "A100", "factsheet.method": "   "}
    with pytest.raises(FactsheetError) as exc:
        from_upload(spec(), form, upload(tmp_path))
    found = problems(exc)
    assert found["factsheet.method"].startswith("required field missing")
    assert found["factsheet.runtime_per_image_s"] == "must be a number (got 'fast')"
    assert found["factsheet.extra_data"] == "must be yes or no (got 'maybe')"
    assert found["factsheet.gpu"].startswith("unknown field; this phase asks for method, ")
    assert set(found) == {"factsheet.method", "factsheet.runtime_per_image_s",
                          "factsheet.extra_data", "factsheet.gpu"}


def test_numbers_must_be_finite(tmp_path: Path) -> None:
    with pytest.raises(FactsheetError) as exc:
        from_upload(spec(), {**FORM, "factsheet.runtime_per_image_s": "nan"}, upload(tmp_path))
    assert "finite" in problems(exc)["factsheet.runtime_per_image_s"]


def test_the_zip_factsheet_is_read_from_the_top_of_the_zip(tmp_path: Path) -> None:
    text = "method: Zebra net\nruntime_per_image_s: 1.5\nextra_data: yes\nhardware: 2 x A100\n"
    values = from_upload(spec("zip"), {"phase": "final"}, upload(tmp_path, text))
    assert values == {"method": "Zebra net", "runtime_per_image_s": 1.5, "hardware": "2 x A100",
                      "extra_data": True}


def test_a_zip_phase_refuses_a_missing_file_and_form_fields(tmp_path: Path) -> None:
    with pytest.raises(FactsheetError) as exc:
        from_upload(spec("zip"), {"factsheet.method": "x"}, upload(tmp_path))
    found = problems(exc)
    assert found["factsheet.yaml"].startswith("missing: this phase asks for a factsheet.yaml")
    assert "not from the form" in found["factsheet.method"]


def test_a_broken_zip_factsheet_is_named(tmp_path: Path) -> None:
    with pytest.raises(FactsheetError) as exc:
        from_upload(spec("zip"), {}, upload(tmp_path, "- a list\n- not a mapping\n"))
    assert problems(exc) == {"factsheet.yaml": "must be a mapping of field: value"}
    with pytest.raises(FactsheetError) as exc:
        from_upload(spec("zip"), {}, upload(tmp_path, "method: [unclosed\n"))
    assert problems(exc)["factsheet.yaml"].startswith("not valid UTF-8 YAML")
    with pytest.raises(FactsheetError) as exc:
        from_upload(spec("zip"), {}, upload(tmp_path, "method: x\nruntime_per_image_s: soon\n"
                                                      "extra_data: true\n"))
    assert problems(exc) == {"factsheet.yaml: runtime_per_image_s": "must be a number (got 'soon')"}


def test_both_merges_the_file_and_the_form_the_form_winning(tmp_path: Path) -> None:
    text = "method: from the file\nruntime_per_image_s: 3\nextra_data: true\n"
    values = from_upload(spec("both"), {"factsheet.method": "from the form"},
                         upload(tmp_path, text))
    assert values == {"method": "from the form", "runtime_per_image_s": 3, "extra_data": True}
    with pytest.raises(FactsheetError) as exc:
        from_upload(spec("both"), {}, upload(tmp_path))
    assert "in the form or in factsheet.yaml" in problems(exc)["factsheet.method"]


def test_rows_and_columns_show_values_for_pages_and_the_csv() -> None:
    shown = rows(spec(), {"method": "M", "extra_data": True, "runtime_per_image_s": 2})
    assert [(r["label"], r["value"]) for r in shown][:3] == [
        ("Method", "M"), ("Runtime per image (s)", "2"), ("Hardware", "")]
    assert shown[-1]["value"] == "yes"
    other = spec_of({"source": "zip", "fields": [{"name": "team_size", "type": "number"},
                                                 {"name": "method"}]})
    assert other is not None
    assert columns([spec_of(spec()), other]) == [  # type: ignore[list-item]
        "method", "runtime_per_image_s", "hardware", "parameters", "extra_data", "team_size"]


BUNDLE = """
slug: c
title: C
phases:
  - slug: final
    kind: unpaired
    inputs: lq
    factsheet:
      source: {source}
      fields:
        - {{name: method, required: true}}
        - {{name: {second}, type: {kind}}}
"""


def test_challenge_yaml_declares_the_factsheet() -> None:
    parsed = parse_spec(BUNDLE.format(source="both", second="runtime", kind="number"))
    factsheet = parsed.phases[0].factsheet
    assert factsheet is not None and factsheet.source == "both"
    assert [(f.name, f.type, f.required) for f in factsheet.fields] == [
        ("method", "text", True), ("runtime", "number", False)]


def test_challenge_yaml_names_each_factsheet_problem() -> None:
    with pytest.raises(BundleError) as exc:
        parse_spec(BUNDLE.format(source="email", second="Bad Name", kind="date"))
    text = "\n".join(exc.value.problems)
    assert "phases[0].factsheet.source: Input should be 'form', 'zip' or 'both'" in text
    assert "phases[0].factsheet.fields[1].name:" in text
    assert "phases[0].factsheet.fields[1].type:" in text
    with pytest.raises(BundleError) as exc:
        parse_spec(BUNDLE.format(source="form", second="method", kind="text"))
    assert exc.value.problems == [
        "challenge.yaml: phases[0].factsheet.fields[1].name: 'method' is used by an earlier field"]
