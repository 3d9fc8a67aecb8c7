"""metrics.fast_dists: StagedDists's CPU memory savings (stage 1 in bands of rows, statistics
and pooling a few channels at a time) give pyiqa's numbers; GtFeatureCache keeps a disk budget
(a cap, or a share of the free disk), evicts the least recently used entries, reads features
back exactly and counts hits and misses."""

import os
from collections import namedtuple

import pytest
import torch

from metrics import disk_budget, fast_dists
from metrics.fast_dists import GtFeatureCache, StagedDists

Usage = namedtuple("Usage", "total used free")
MB = 1024**2
NETWORK_TOLERANCE = 1e-6  # DISTS between oneDNN kernels (docs/fidelity.md)


@pytest.mark.parametrize(("stage", "rows", "cols"),
                         [(1, 150, 97), (1, 200, 256), (1, 8, 40), (1, 9, 33), (2, 75, 49)])
def test_convolutions_in_bands_are_the_stage_s_to_a_float32_rounding_step(
        raim_suite, monkeypatch, stage, rows, cols):
    """Bands of 8 rows (the smallest), the last one short or of a single row, two or three
    rows of context each side; zero rows past the image's top and bottom edges."""
    monkeypatch.setattr(fast_dists, "CHUNK_BYTES", 1)
    net = raim_suite.model("dists").net
    convolutions = net.stage1 if stage == 1 else net.stage2[1:]
    channels = convolutions[0].in_channels
    generator = torch.Generator().manual_seed(rows)
    image = torch.rand(1, channels, rows, cols, generator=generator) - 0.5
    with torch.inference_mode():
        whole, banded = convolutions(image.clone()), fast_dists._in_bands(convolutions, image)
    assert banded.shape == whole.shape
    torch.testing.assert_close(banded, whole, rtol=1e-6, atol=1e-5)


def test_pooling_and_statistics_by_channel_groups_are_bit_identical(raim_suite, monkeypatch):
    net = raim_suite.model("dists").net
    generator = torch.Generator().manual_seed(7)
    f0, f1 = torch.rand(2, 1, 128, 40, 30, generator=generator)
    with torch.inference_mode():
        whole_pool = net.stage3[0](f0)
        whole_term = StagedDists(raim_suite.model("dists"))._term(2, f0, f1)
        monkeypatch.setattr(fast_dists, "CHUNK_BYTES", 5 * 40 * 30 * 4)  # groups of 5 channels
        assert len(list(fast_dists._channel_groups(f0))) == 26
        assert torch.equal(fast_dists._l2_pool(net.stage3[0], f0), whole_pool)
        term = StagedDists(raim_suite.model("dists"))._term(2, f0, f1)
    assert all(torch.equal(a, b) for a, b in zip(term, whole_term, strict=True))


def test_dists_with_every_cpu_saving_agrees_with_pyiqa(raim_suite, monkeypatch):
    """A 200x160 pair, banded as a large image is (the threshold lowered for it)."""
    monkeypatch.setattr(fast_dists, "BAND_FROM_BYTES", 1)
    monkeypatch.setattr(fast_dists, "CHUNK_BYTES", 64 * 1024)
    model = raim_suite.model("dists")
    generator = torch.Generator().manual_seed(3)
    pred, gt = torch.rand(2, 1, 3, 200, 160, generator=generator)
    with torch.inference_mode():
        expected = model(pred, gt).item()
        value = StagedDists(model)(pred, gt)
    assert value == pytest.approx(expected, abs=NETWORK_TOLERANCE)


@pytest.fixture
def free_disk(monkeypatch):
    """Pretend the cache's disk has this many free bytes."""

    def set_free(free: int) -> None:
        monkeypatch.setattr(disk_budget.shutil, "disk_usage",
                            lambda path: Usage(10 * free, 9 * free, free))

    set_free(10**12)
    return set_free


def _features(megabytes: int, seed: int = 0) -> list[torch.Tensor]:
    """Stages 3, 4 and 5 of one image, ``megabytes`` MB in all (float32)."""
    generator = torch.Generator().manual_seed(seed)
    sizes = (megabytes * MB // 8 * 4, megabytes * MB // 8 * 3, megabytes * MB // 8)
    return [torch.rand(1, n // 4, generator=generator) for n in sizes]


def test_budget_is_the_cap_when_the_disk_is_roomy(tmp_path, free_disk):
    cache = GtFeatureCache(tmp_path, max_bytes=20 * 1024**3, free_share=0.1)
    assert cache.budget_bytes == 20 * 1024**3


def test_budget_is_the_free_share_when_the_disk_is_short(tmp_path, free_disk):
    free_disk(50 * 10**9)
    cache = GtFeatureCache(tmp_path, max_bytes=20 * 1024**3, free_share=0.1)
    assert cache.budget_bytes == 5 * 10**9
    assert cache.stats()["budget_bytes"] == 5 * 10**9


def test_budget_counts_the_cache_own_bytes_as_room(tmp_path, free_disk):
    cache = GtFeatureCache(tmp_path, max_bytes=10**12, free_share=0.5)
    assert cache.store("a", _features(2))
    free_disk(2 * MB)  # the disk filled up meanwhile: 2 MB free, 2 MB held by the cache
    stats = cache.stats()
    assert stats["bytes"] >= 2 * MB
    assert stats["budget_bytes"] == (2 * MB + stats["bytes"]) // 2  # half of (free + its own)


def test_store_then_load_gives_the_exact_features(tmp_path, free_disk):
    cache = GtFeatureCache(tmp_path, max_bytes=10**9, first_stage=3)
    features = _features(1, seed=3)
    assert cache.store("k", features)
    assert not cache.store("k", features)  # already there
    for stage, expected in enumerate(features, 3):
        assert torch.equal(cache.load("k", stage), expected)


def test_least_recently_used_entries_make_room(tmp_path, free_disk):
    cache = GtFeatureCache(tmp_path, max_bytes=int(3.5 * MB))
    for n, key in enumerate("abc"):
        assert cache.store(key, _features(1, seed=n))
        os.utime(tmp_path / key, (1000 + n, 1000 + n))  # a, then b, then c
    assert cache.lookup("a")  # a used again: b is now the least recently used
    assert cache.store("d", _features(1, seed=9))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a", "c", "d"]
    assert cache.stats()["bytes"] <= cache.budget_bytes


def test_an_entry_bigger_than_the_budget_is_not_stored_and_evicts_nothing(tmp_path, free_disk):
    cache = GtFeatureCache(tmp_path, max_bytes=3 * MB)
    assert cache.store("small", _features(1))
    assert not cache.store("huge", _features(4))
    assert [p.name for p in tmp_path.iterdir()] == ["small"]


def test_a_disk_filling_up_shrinks_the_budget_at_the_next_write(tmp_path, free_disk):
    cache = GtFeatureCache(tmp_path, max_bytes=10**12, free_share=0.1)
    for n, key in enumerate("ab"):
        assert cache.store(key, _features(1, seed=n))
        os.utime(tmp_path / key, (1000 + n, 1000 + n))
    free_disk(20 * MB)  # now 10 % of (20 MB + 2 MB held) = 2.2 MB
    assert cache.store("c", _features(1, seed=5))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["b", "c"]


def test_stats_count_hits_and_misses_and_size(tmp_path, free_disk):
    cache = GtFeatureCache(tmp_path, max_bytes=10**9)
    assert not cache.lookup("x")
    cache.store("x", _features(1))
    assert cache.lookup("x") and cache.lookup("x")
    stats = cache.stats()
    assert stats == {"hits": 2, "misses": 1, "bytes": stats["bytes"], "budget_bytes": 10**9,
                     "entries": 1}
    assert MB <= stats["bytes"] < MB + 4096  # the features and three small .npy headers


def test_an_entry_evicted_by_another_process_loads_as_none(tmp_path, free_disk):
    cache = GtFeatureCache(tmp_path, max_bytes=10**9)
    cache.store("x", _features(1))
    other = GtFeatureCache(tmp_path, max_bytes=10**9)  # another worker on the same folder
    assert other.lookup("x")
    for path in (tmp_path / "x").iterdir():
        path.unlink()
    assert cache.load("x", 3) is None


def test_bad_settings_are_refused(tmp_path):
    with pytest.raises(ValueError, match="first_stage"):
        GtFeatureCache(tmp_path, max_bytes=1, first_stage=6)
    with pytest.raises(ValueError, match="free_share"):
        GtFeatureCache(tmp_path, max_bytes=1, free_share=0)


def test_opening_removes_unfinished_writes_an_hour_old_and_counts_none(tmp_path, free_disk):
    for name, age in ((".tmp-killed", 7200), (".tmp-writing", 10)):
        (tmp_path / name).mkdir()
        (tmp_path / name / "stage3.npy").write_bytes(b"x" * 1000)
        stamp = (tmp_path / name).stat().st_mtime - age
        os.utime(tmp_path / name, (stamp, stamp))
    cache = GtFeatureCache(tmp_path, max_bytes=10**9)
    assert sorted(p.name for p in tmp_path.iterdir()) == [".tmp-writing"]
    assert cache.stats()["entries"] == 0 and cache.stats()["bytes"] == 0


def test_a_phase_bigger_than_the_budget_keeps_what_fits_instead_of_thrashing(tmp_path, free_disk):
    cache = GtFeatureCache(tmp_path, max_bytes=int(2.5 * MB))
    assert cache.store("a", _features(1)) and cache.store("b", _features(1))  # used just now
    assert not cache.store("c", _features(1))  # no room without evicting what is in use
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a", "b"]
    old = (tmp_path / "a").stat().st_mtime - 2 * 3600
    os.utime(tmp_path / "a", (old, old))  # a phase of two hours ago
    assert cache.store("c", _features(1))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["b", "c"]
