"""Loading a bundle: create, reload unchanged, replace and prune image sets, remove phases."""

import shutil
from datetime import UTC, datetime

import pytest
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from app import leaderboard
from app.bundles import load, schema
from app.db import session_scope
from app.models import AuditLog, Challenge, Phase, Submission, Team
from scoring.formula import RAIM_2024
from tests.utils.bundles import DEFAULT_YAML, write_bundle


def _challenge(slug="raim-test"):
    """The challenge with its phases and datasets loaded, usable after the session closes."""
    with session_scope() as s:
        return s.scalar(select(Challenge).where(Challenge.slug == slug).options(
            selectinload(Challenge.phases).selectinload(Phase.datasets)))


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


def test_install_bundle_changing_rank_by_picks_each_teams_line_again(migrated, tmp_path,
                                                                    sample_set, settings):
    root = write_bundle(tmp_path / "b", sample_set)
    load.install_bundle(root)
    with session_scope() as s:
        validation = _challenge().phases[0]
        team = Team(challenge_id=validation.challenge_id, name="alpha")
        s.add(team)
        s.flush()
        for minute, score in ((1, 70.0), (2, 50.0)):
            sub = Submission(phase_id=validation.id, team_id=team.id, upload_path="x",
                             upload_bytes=1, upload_sha256="0" * 64, original_filename="x.zip",
                             image_count=3, status="scored", score=score, mean={"score": score},
                             created_at=datetime(2024, 2, 2, 0, minute, tzinfo=UTC))
            s.add(sub)
            s.flush()
            leaderboard.results_stored(s, sub)
    with session_scope() as s:
        assert [r.entry.score for r in leaderboard.phase_leaderboard(s, validation)] == [70.0]
    text = (root / "challenge.yaml").read_text()
    (root / "challenge.yaml").write_text(text.replace("rank_by: best", "rank_by: latest"))
    load.install_bundle(root)
    with session_scope() as s:
        validation = s.get_one(Phase, validation.id)
        assert [r.entry.score for r in leaderboard.phase_leaderboard(s, validation)] == [50.0]


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


def test_a_phase_factsheet_is_stored_and_a_reload_without_it_clears_it(migrated, tmp_path,
                                                                       sample_set, settings):
    asked = DEFAULT_YAML.replace("    rank_by: best\n", "    rank_by: best\n    factsheet:\n"
                                 "      source: zip\n      fields:\n"
                                 "        - {name: method, required: true}\n", 1)
    load.install_bundle(write_bundle(tmp_path / "a", sample_set, yaml_text=asked))
    validation, final = _challenge().phases
    assert validation.factsheet == {"source": "zip", "fields": [
        {"name": "method", "label": None, "type": "text", "required": True, "help": ""}]}
    assert final.factsheet is None
    load.install_bundle(write_bundle(tmp_path / "b", sample_set))
    assert _challenge().phases[0].factsheet is None
