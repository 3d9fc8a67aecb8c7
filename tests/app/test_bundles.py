"""Challenge bundles: schema errors by key path, image checks, create, reload, replace, prune."""

import shutil
from datetime import UTC, datetime

import pytest
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from app.bundles import check, load, schema
from app.db import session_scope
from app.models import AuditLog, Challenge, Phase, Submission, Team
from scoring.formula import RAIM_2024
from tests.utils.bundles import DEFAULT_YAML, write_bundle

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


def _challenge(slug="raim-test"):
    """The challenge with its phases and datasets loaded, usable after the session closes."""
    with session_scope() as s:
        return s.scalar(select(Challenge).where(Challenge.slug == slug).options(
            selectinload(Challenge.phases).selectinload(Phase.datasets)))


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


def test_read_bundle_lists_image_problems_by_file(tmp_path, sample_set, settings):
    root = write_bundle(tmp_path / "b", sample_set)
    (root / "validation" / "gt" / "002.png").unlink()
    (root / "validation" / "lq" / "003.png").write_bytes(b"not an image")
    (root / "validation" / "lq" / "notes.txt").write_text("hello")
    shutil.rmtree(root / "final" / "lq")
    with pytest.raises(schema.BundleError) as caught:
        check.read_bundle(root, max_pixels=settings.max_pixels)
    problems = caught.value.problems
    assert any(p.startswith("validation/lq/003.png: ") and "decodable" in p for p in problems)
    assert any(p.startswith("validation/lq/notes.txt: not an image file") for p in problems)
    assert "validation/lq/002.png: no ground-truth image named 002.* in validation/gt" in problems
    assert "challenge.yaml: phases[1].inputs: 'final/lq' does not exist in " + str(root) \
        in problems
    assert len(problems) == 4


def test_read_bundle_refuses_paths_outside_and_empty_folders(tmp_path, sample_set, settings):
    root = write_bundle(tmp_path / "b", sample_set,
                        yaml_text=DEFAULT_YAML.replace("inputs: final/lq", "inputs: ../elsewhere"))
    (root / "validation" / "empty").mkdir()
    (root / "challenge.yaml").write_text((root / "challenge.yaml").read_text()
                                         .replace("ground_truth: validation/gt",
                                                  "ground_truth: validation/empty"))
    with pytest.raises(schema.BundleError) as caught:
        check.read_bundle(root, max_pixels=settings.max_pixels)
    problems = caught.value.problems
    assert "challenge.yaml: phases[1].inputs: '../elsewhere' must be a path inside the " \
           "bundle folder" in problems
    assert any(p.startswith("validation/empty: no images found") for p in problems)


def test_read_bundle_needs_challenge_yaml(tmp_path, settings):
    with pytest.raises(schema.BundleError, match="challenge.yaml: not found"):
        check.read_bundle(tmp_path, max_pixels=settings.max_pixels)


def test_install_bundle_creates_challenge_phases_and_datasets(migrated, tmp_path, sample_set,
                                                              settings):
    result = load.install_bundle(write_bundle(tmp_path / "b", sample_set))
    assert result.created
    assert result.replaced == ["validation/inputs", "validation/ground_truth", "final/inputs"]
    with session_scope() as s:
        challenge = s.scalar(select(Challenge).where(Challenge.slug == "raim-test"))
        assert challenge.formula == RAIM_2024.to_dict()
        assert challenge.ranking == [{"phase": "validation", "weight": 0.4},
                                     {"phase": "final", "weight": 0.6}]
        validation, final = challenge.phases
        assert (validation.slug, validation.position, validation.title) == \
            ("validation", 0, "Validation")
        assert validation.start == datetime(2024, 2, 1, tzinfo=UTC)
        assert (validation.max_submissions_per_day, validation.max_submissions) == (5, 100)
        assert (final.kind, final.qualify_from, final.qualify_top) == ("unpaired", "validation", 10)
        gt = validation.dataset("ground_truth")
        copied = settings.datasets_dir / gt.path
        assert gt.image_count == 3 and len(gt.fingerprint) == 64
        assert sorted(p.name for p in copied.iterdir()) == ["001.png", "002.png", "003.png"]
        assert (copied / "001.png").read_bytes() == (sample_set.gt / "001.png").read_bytes()
        assert final.dataset("ground_truth") is None
        log = s.scalars(select(AuditLog)).one()
        assert (log.action, log.target) == ("challenge.load", "challenge:raim-test")
        assert log.details["created"] is True


def test_install_bundle_again_changes_nothing(migrated, tmp_path, sample_set, settings):
    root = write_bundle(tmp_path / "b", sample_set)
    load.install_bundle(root)
    before = sorted(p for p in settings.datasets_dir.rglob("*"))
    result = load.install_bundle(root)
    assert not result.created and result.replaced == []
    assert sorted(p for p in settings.datasets_dir.rglob("*")) == before
    with session_scope() as s:
        assert len(s.scalars(select(Challenge)).all()) == 1
        assert len(s.scalars(select(Phase)).all()) == 2
        assert len(s.scalars(select(AuditLog)).all()) == 2


def test_install_bundle_replaces_changed_images_and_prunes_old(migrated, tmp_path, sample_set,
                                                                settings):
    root = write_bundle(tmp_path / "b", sample_set)
    load.install_bundle(root)
    old_path = _challenge().phases[0].dataset("ground_truth").path
    shutil.copy(sample_set.pred / "001.png", root / "validation" / "gt" / "001.png")
    result = load.install_bundle(root)
    assert result.replaced == ["validation/ground_truth"]
    new = _challenge().phases[0].dataset("ground_truth")
    assert new.path != old_path
    assert (settings.datasets_dir / new.path / "001.png").read_bytes() == \
        (sample_set.pred / "001.png").read_bytes()
    assert not (settings.datasets_dir / old_path).exists()
    leftovers = [p.name for p in (settings.datasets_dir / "raim-test").rglob(".staging-*")]
    assert leftovers == []


def test_install_bundle_updates_phase_settings(migrated, tmp_path, sample_set, settings):
    root = write_bundle(tmp_path / "b", sample_set)
    load.install_bundle(root)
    text = (root / "challenge.yaml").read_text()
    (root / "challenge.yaml").write_text(text.replace("leaderboard: public", "leaderboard: hidden")
                                         .replace("rank_by: best", "rank_by: latest"))
    load.install_bundle(root)
    validation = _challenge().phases[0]
    assert (validation.leaderboard, validation.rank_by) == ("hidden", "latest")


def test_install_bundle_with_problems_writes_nothing(migrated, tmp_path, sample_set, settings):
    root = write_bundle(tmp_path / "b", sample_set)
    (root / "validation" / "gt" / "003.png").unlink()
    with pytest.raises(schema.BundleError):
        load.install_bundle(root)
    assert _challenge() is None
    assert not settings.datasets_dir.exists() or not any(settings.datasets_dir.rglob("*.png"))


def _without_final(text):
    head, _, _ = text.partition("  - slug: final")
    return head + "ranking:\n  - {phase: validation, weight: 1}\n"


def test_install_bundle_removes_phase_left_out(migrated, tmp_path, sample_set, settings):
    root = write_bundle(tmp_path / "b", sample_set)
    load.install_bundle(root)
    (root / "challenge.yaml").write_text(_without_final((root / "challenge.yaml").read_text()))
    result = load.install_bundle(root)
    assert result.removed_phases == ["final"]
    assert [p.slug for p in _challenge().phases] == ["validation"]
    assert not (settings.datasets_dir / "raim-test" / "final").exists()


def test_install_bundle_keeps_phase_with_submissions(migrated, tmp_path, sample_set, settings):
    root = write_bundle(tmp_path / "b", sample_set)
    load.install_bundle(root)
    with session_scope() as s:
        challenge = s.scalar(select(Challenge))
        team = Team(challenge_id=challenge.id, name="t")
        s.add(team)
        s.flush()
        s.add(Submission(phase_id=challenge.phases[1].id, team_id=team.id, upload_path="x",
                         upload_bytes=1, upload_sha256="0" * 64, original_filename="x.zip",
                         image_count=3))
    (root / "challenge.yaml").write_text(_without_final((root / "challenge.yaml").read_text()))
    with pytest.raises(schema.BundleError, match="'final' .* has 1 submission"):
        load.install_bundle(root)
    assert [p.slug for p in _challenge().phases] == ["validation", "final"]
    assert _challenge().phases[1].dataset("inputs") is not None
