"""The scoring job: claim, score exactly once, failures, bounded retries (database job store);
the embedded worker's priority."""

import os
import sys
import threading

import pytest
from sqlalchemy import select

from app.config import get_settings
from app.db import session_scope
from app.jobs import sweeper, worker
from metrics.numerics import NUMERICS_VERSION
from metrics.registry import METRIC_NAMES
from tests.utils.jobs import dead_worker_name, load, result_count, submit


@pytest.mark.slow
def test_score_next_scores_once_and_a_second_run_is_a_no_op(arena, tmp_path, weights_dir):
    sub_id = submit(arena, arena.samples.pred, tmp_path)
    assert worker.score_next() is worker.Outcome.SCORED
    assert worker.score_next() is worker.Outcome.IDLE  # a second message finds nothing to do
    sub = load(sub_id)
    assert sub.status == "scored" and sub.attempts == 1 and sub.progress_done == 3
    assert sub.score == pytest.approx(sub.mean["score"]) and result_count(sub_id) == 3
    assert set(sub.versions) == {*METRIC_NAMES, "numerics"}  # recognisable after a change
    assert sub.versions["numerics"] == NUMERICS_VERSION


@pytest.mark.slow
def test_score_next_after_a_lost_lease_stores_results_exactly_once(arena, tmp_path,
                                                                         weights_dir):
    sub_id = submit(arena, arena.samples.pred, tmp_path)
    settings = get_settings()
    first = worker.claim_next(dead_worker_name(), settings)  # a worker that then died
    assert first is not None
    assert sweeper.sweep(settings) == [sub_id]
    assert worker.score_next() is worker.Outcome.SCORED
    late = worker.run_job(first, settings)  # the first worker's late result is refused
    assert worker.store_results(first, late) is False
    sub = load(sub_id)
    assert sub.status == "scored" and sub.attempts == 2 and result_count(sub_id) == 3


def test_score_next_invalid_input_found_late_fails_without_retry(arena, tmp_path):
    sub_id = submit(arena, arena.samples.pred, tmp_path)
    (get_settings().datasets_dir / "raim-test/validation/ground_truth/002.png").unlink()
    assert worker.score_next() is worker.Outcome.FAILED
    sub = load(sub_id)
    assert sub.status == "failed" and sub.attempts == 1
    assert "002.png" in sub.error and result_count(sub_id) == 0


@pytest.mark.slow
def test_score_next_where_niqe_is_undefined_fails_once_naming_image_and_metric(
        arena, tmp_path, weights_dir):
    import shutil

    import cv2
    import numpy as np

    pred = tmp_path / "pred"
    shutil.copytree(arena.samples.pred, pred)
    ramp = np.tile(np.linspace(0, 255, 128).astype(np.uint8)[None, :, None], (128, 1, 3))
    cv2.imwrite(str(pred / "002.png"), ramp)  # varied, so accepted; yet NIQE has nothing to fit
    sub_id = submit(arena, pred, tmp_path)
    assert worker.score_next() is worker.Outcome.FAILED
    sub = load(sub_id)
    assert sub.status == "failed" and sub.attempts == 1 and result_count(sub_id) == 0
    assert sub.error.startswith("002: NIQE is undefined") and "Traceback" not in sub.error


def test_score_next_unexpected_errors_retry_then_fail_with_the_reason(
        arena, tmp_path, monkeypatch, weights_dir):
    # A worker whose GPU is not there: an environment error, not the team's fault.
    sub_id = submit(arena, arena.samples.pred, tmp_path)
    monkeypatch.setenv("RAIM_SCORING_RETRIES", "2")
    monkeypatch.setenv("RAIM_DEVICE", "cuda:99")
    get_settings.cache_clear()
    assert worker.score_next() is worker.Outcome.RETRY
    assert load(sub_id).status == "queued"
    assert worker.score_next() is worker.Outcome.FAILED
    sub = load(sub_id)
    assert sub.status == "failed" and sub.attempts == 2
    assert sub.error.startswith("scoring failed 2 times; last error: RuntimeError")


def test_score_next_unpaired_phase_is_checked_and_left_to_the_judges(arena, tmp_path):
    from app.models import Challenge
    from tests.utils.arena import add_phase

    with session_scope() as session:
        challenge_id = session.scalar(select(Challenge.id))
    add_phase(challenge_id, "final", None, kind="unpaired", position=1)
    sub_id = submit(arena, arena.samples.lq, tmp_path, "final.zip", phase="final")
    assert worker.score_next() is worker.Outcome.SCORED
    sub = load(sub_id)
    assert sub.score is None and result_count(sub_id) == 0
    assert sub.notes == ["unpaired phase: no objective score; judged by people"]



LINUX_ONLY = pytest.mark.skipif(not sys.platform.startswith("linux"),
                                reason="nice values per thread are Linux's")


def _nice() -> int:
    return os.getpriority(os.PRIO_PROCESS, threading.get_native_id())


@LINUX_ONLY
def test_local_worker_loads_models_at_normal_priority_then_scores_at_the_lowest(
        migrated, monkeypatch):
    """The embedded worker shares the web's cores: it scores at the lowest priority, but loads
    its models first at the normal one (a niced thread holding the GIL stalls requests)."""
    before = _nice()
    seen: dict[str, int] = {}
    scored = threading.Event()
    monkeypatch.setattr(worker, "queued_ids", lambda limit=None: [] if scored.is_set() else [1])
    monkeypatch.setattr(worker, "scorer", lambda settings: seen.setdefault("loading", _nice()))

    def score(store, **kwargs):  # type: ignore[no-untyped-def]
        if not scored.is_set():
            seen["scoring"] = _nice()
            scored.set()
        return worker.Outcome.IDLE

    monkeypatch.setattr(worker, "score_next", score)
    local = worker.LocalWorker(get_settings())
    local.start()
    try:
        assert scored.wait(timeout=30)
    finally:
        assert local.stop(timeout=10)
    assert seen == {"loading": before, "scoring": max(before, worker.LOCAL_WORKER_NICE)}
    assert _nice() == before  # the thread that started it (the web's) is untouched


@LINUX_ONLY
def test_lower_thread_priority_is_inherited_by_the_threads_it_starts():
    """torch's intra-op threads and the scorer's pool are started by the worker's thread."""
    seen: dict[str, int] = {}

    def child() -> None:
        seen["child"] = _nice()

    def parent() -> None:
        worker.lower_thread_priority(_nice() + 3)
        seen["parent"] = _nice()
        started = threading.Thread(target=child)
        started.start()
        started.join()

    before = _nice()
    thread = threading.Thread(target=parent)
    thread.start()
    thread.join()
    assert seen == {"parent": min(before + 3, 19), "child": min(before + 3, 19)}
    assert _nice() == before


@pytest.mark.slow
def test_the_feature_cache_is_on_by_default_filled_on_first_use_and_read_after(
        arena, tmp_path, weights_dir):
    fast = worker.scorer(get_settings())
    assert fast.gt_cache is not None  # on with the default settings
    before = fast.gt_cache.stats()
    first = submit(arena, arena.samples.pred, tmp_path, name="first.zip")
    assert worker.score_next() is worker.Outcome.SCORED
    middle = fast.gt_cache.stats()
    assert (middle["hits"] + middle["misses"]) - (before["hits"] + before["misses"]) == 3
    assert middle["entries"] >= 3  # a miss stores what it computed
    second = submit(arena, arena.samples.pred, tmp_path, name="second.zip")
    assert worker.score_next() is worker.Outcome.SCORED
    after = fast.gt_cache.stats()
    assert after["hits"] - middle["hits"] == 3 and after["misses"] == middle["misses"]
    assert load(second).score == pytest.approx(load(first).score, rel=1e-4)
    figures = worker.cache_figures()["features"]  # what heartbeats carry to the queue page
    assert figures.keys() == {"hits", "misses", "bytes", "budget_bytes", "entries"}
    assert 0 < figures["bytes"] <= figures["budget_bytes"] <= get_settings().dists_cache_bytes
