"""The challenge.yaml schema: defaults, dates, formulas, and every problem by key path and value."""

from datetime import UTC, datetime

import pytest

from app.bundles import schema
from scoring.formula import RAIM_2024

MINIMAL = """\
slug: mini
title: Mini
phases:
  - slug: dev
    inputs: lq
    ground_truth: gt
"""



def _problems(text):
    with pytest.raises(schema.BundleError) as caught:
        schema.parse_spec(text)
    return caught.value.problems


def test_parse_spec_defaults():
    spec = schema.parse_spec(MINIMAL)
    phase = spec.phases[0]
    assert spec.formula == RAIM_2024.to_dict()
    assert spec.description == "" and spec.ranking == []
    assert (phase.kind, phase.leaderboard, phase.rank_by) == ("paired", "public", "best")
    assert phase.start is None and phase.max_submissions is None and phase.qualify is None


def test_parse_spec_reads_dates_with_time_zone():
    spec = schema.parse_spec(MINIMAL + "    start: 2024-02-01T02:00:00+02:00\n")
    assert spec.phases[0].start == datetime(2024, 2, 1, tzinfo=UTC)


def test_parse_spec_inline_formula_kept_as_dict():
    text = MINIMAL.replace("phases:", "formula:\n  name: psnr-only\n  terms:\n"
                           "    - {metric: psnr, weight: 1, scale: 50}\nphases:")
    spec = schema.parse_spec(text)
    assert spec.formula["name"] == "psnr-only"
    assert spec.formula["terms"][0]["metric"] == "psnr"


def test_parse_spec_lists_every_key_error_with_path_and_value():
    text = """\
slug: Bad Slug
title: T
formula: raim-1999
phases:
  - slug: dev
    kind: pared
    inputs: lq
    ground_truth: gt
    start: 2024-02-01T00:00:00
    max_submissions: 0
    colour: red
ranking:
  - {phase: dev, weight: -1}
"""
    problems = _problems(text)
    assert any(p.startswith("challenge.yaml: slug:") and "'Bad Slug'" in p for p in problems)
    assert any("formula:" in p and "unknown formula 'raim-1999'" in p for p in problems)
    assert any("phases[0].kind:" in p and "'pared'" in p for p in problems)
    assert any("phases[0].start:" in p and "timezone" in p for p in problems)
    assert any("phases[0].max_submissions:" in p and "(got 0)" in p for p in problems)
    assert "challenge.yaml: phases[0].colour: unknown key" in problems
    assert any("ranking[0].weight:" in p and "(got -1)" in p for p in problems)
    assert len(problems) == 7


def test_parse_spec_reports_missing_keys():
    problems = _problems("title: T\nphases:\n  - slug: dev\n")
    assert "challenge.yaml: slug: required key missing" in problems
    assert "challenge.yaml: phases[0].inputs: required key missing" in problems


def test_parse_spec_reports_cross_reference_problems():
    text = """\
slug: c
title: T
phases:
  - slug: dev
    inputs: lq
  - slug: dev
    kind: unpaired
    inputs: lq
    ground_truth: gt
    start: 2024-03-01T00:00:00Z
    end: 2024-02-01T00:00:00Z
  - slug: final
    kind: unpaired
    inputs: lq
    qualify: {from: later, top: 3}
ranking:
  - {phase: nowhere, weight: 1}
"""
    problems = _problems(text)
    assert problems == [
        "challenge.yaml: phases[0].ground_truth: required key missing (phase kind is paired)",
        "challenge.yaml: phases[1].ground_truth: an unpaired phase has no ground truth (got 'gt')",
        "challenge.yaml: phases[1].end: must be after start 2024-03-01T00:00:00+00:00 "
        "(got '2024-02-01T00:00:00+00:00')",
        "challenge.yaml: phases[1].slug: 'dev' is used by an earlier phase",
        "challenge.yaml: phases[2].qualify.from: 'later' is not an earlier phase of this challenge",
        "challenge.yaml: ranking[0].phase: 'nowhere' is not a phase of this challenge "
        "(dev, final)",
    ]


def test_parse_spec_refuses_qualification_from_unpaired_phase():
    text = MINIMAL + "  - slug: b\n    kind: unpaired\n    inputs: lq\n" \
                     "  - slug: c\n    kind: unpaired\n    inputs: lq\n" \
                     "    qualify: {from: b, top: 2}\n"
    assert _problems(text) == ["challenge.yaml: phases[2].qualify.from: 'b' is unpaired; "
                               "qualification needs a scored (paired) phase"]


def test_parse_spec_refuses_non_mapping_and_bad_yaml():
    assert _problems("- a\n- b\n")[0].startswith("challenge.yaml: must be a mapping")
    assert "not valid YAML" in _problems("slug: [unclosed\n")[0]
