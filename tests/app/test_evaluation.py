"""app.evaluation.build_scorer: the process's scorer, its DISTS feature cache on by default
within a cap and a share of its disk, under RAIM_DATA_DIR; 0 bytes turns it off."""

from collections import namedtuple

import pytest

from app.config import Settings
from app.evaluation import build_scorer
from metrics import disk_budget

Usage = namedtuple("Usage", "total used free")
GiB = 1024**3


def test_default_settings_turn_the_feature_cache_on_with_a_cap_and_a_share_of_the_disk():
    settings = Settings()
    assert settings.dists_cache_bytes == 20 * GiB and settings.dists_cache_free_share == 0.1
    assert settings.dists_cache_from_stage == 3


@pytest.mark.slow
def test_build_scorer_opens_the_cache_under_the_data_dir_bounded_by_cap_and_free_share(
        tmp_path, weights_dir, monkeypatch):
    free = {"bytes": 50 * 10**9}
    monkeypatch.setattr(disk_budget.shutil, "disk_usage",
                        lambda path: Usage(10**13, 0, free["bytes"]))
    settings = Settings(data_dir=tmp_path, weights_dir=weights_dir, device="cpu")
    cache = build_scorer(settings).gt_cache
    assert cache is not None and cache.root == tmp_path / "dists-cache"
    assert cache.budget_bytes == 5 * 10**9  # 10 % of 50 GB free: under the 20 GiB cap
    free["bytes"] = 10**12
    assert cache.stats()["budget_bytes"] == 20 * GiB  # 10 % of 1 TB is more: the cap
    off = Settings(data_dir=tmp_path, weights_dir=weights_dir, device="cpu", dists_cache_bytes=0)
    assert build_scorer(off).gt_cache is None
