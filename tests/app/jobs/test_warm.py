"""The idle embedded worker fills the DISTS feature cache from loaded ground truths: one image
per step, every image once, only phases that have not ended and are scored on the reference
reading; the phase's first submission then only reads the cache."""

from datetime import timedelta

import pytest
from sqlalchemy import update

from app.config import get_settings
from app.db import session_scope
from app.evaluation import build_scorer, evaluate
from app.jobs.warm import CacheWarmer, ground_truths
from app.models import Phase, utcnow
from scoring.formula import RAIM_2026_FUSION
from tests.utils.arena import Arena, build_arena


@pytest.fixture
def warm_settings(settings, monkeypatch):
    monkeypatch.setenv("RAIM_DISTS_CACHE_WARM", "true")  # tests/conftest.py turns it off
    get_settings.cache_clear()
    return get_settings()


@pytest.fixture
def arena(warm_settings, sample_set) -> Arena:
    return build_arena(sample_set)


def test_warming_caches_one_image_per_step_then_the_first_submission_only_reads(
        warm_settings, arena):
    scorer = build_scorer(warm_settings)
    asked: list[int] = []

    def models():
        asked.append(1)
        return scorer

    warmer = CacheWarmer(warm_settings)
    assert warmer.step(models) and scorer.gt_cache.stats()["entries"] == 1
    while warmer.step(models):
        pass
    assert len(asked) == 3 and scorer.gt_cache.stats()["entries"] == 3
    assert warmer.step(models) is False and len(asked) == 3  # done: nothing more is loaded

    evaluate(arena.samples.pred, arena.samples.gt, scorer, max_pixels=warm_settings.max_pixels)
    stats = scorer.gt_cache.stats()
    assert (stats["hits"], stats["misses"]) == (3, 0)


def test_only_phases_still_open_and_scored_on_the_reference_reading_are_warmed(arena):
    settings = get_settings()
    assert [folder.name for _, folder in ground_truths(settings)] == ["ground_truth"]
    with session_scope() as session:
        session.execute(update(Phase).values(formula=RAIM_2026_FUSION.to_dict()))
    assert ground_truths(settings) == []
    with session_scope() as session:
        session.execute(update(Phase).values(formula=None, end=utcnow() - timedelta(minutes=1)))
    assert ground_truths(settings) == []


def test_warming_is_off_by_setting_and_never_loads_the_models(settings, sample_set):
    build_arena(sample_set)  # tests/conftest.py sets RAIM_DISTS_CACHE_WARM=false
    warmer = CacheWarmer(settings)
    assert not warmer.enabled
    assert warmer.step(lambda: pytest.fail("models loaded")) is False
