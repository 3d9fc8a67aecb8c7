"""Unpacking uploaded bundle zips: the bundle root, and refusal of unsafe archives."""

import zipfile

import pytest

from app.bundles.unpack import UnsafeBundle, unpack_bundle
from tests.utils.zips import png as make_png


def make_zip(path, members):
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return path


def test_unpack_bundle_finds_challenge_yaml_inside_a_zipped_folder(tmp_path):
    archive = make_zip(tmp_path / "b.zip", {"raim/challenge.yaml": "slug: x", "raim/a/1.png": b"x"})
    root = unpack_bundle(archive, tmp_path / "out", max_bytes=10_000)
    assert root == tmp_path / "out" / "raim" and (root / "a" / "1.png").read_bytes() == b"x"


def test_unpack_bundle_refuses_paths_outside_the_folder(tmp_path):
    archive = make_zip(tmp_path / "b.zip", {"../up.txt": "x", "/abs.txt": "y", "ok.txt": "z"})
    with pytest.raises(UnsafeBundle) as caught:
        unpack_bundle(archive, tmp_path / "out", max_bytes=10_000)
    assert len(caught.value.problems) == 2
    assert not (tmp_path / "out").exists() and not (tmp_path / "up.txt").exists()


def test_unpack_bundle_refuses_archives_that_unpack_too_large(tmp_path):
    archive = make_zip(tmp_path / "b.zip", {"big.bin": b"\0" * 1_000_000})
    with pytest.raises(UnsafeBundle, match="unpacks to 1,000,000 bytes"):
        unpack_bundle(archive, tmp_path / "out", max_bytes=1000)


def test_unpack_bundle_refuses_a_file_that_is_not_a_zip(tmp_path):
    path = tmp_path / "b.zip"
    path.write_bytes(b"plain text")
    with pytest.raises(UnsafeBundle, match="not a zip"):
        unpack_bundle(path, tmp_path / "out", max_bytes=1000)


def test_unpack_bundle_skips_hidden_files_and_mac_debris(tmp_path):
    archive = make_zip(tmp_path / "b.zip", {"challenge.yaml": "slug: x", ".git/config": "x",
                                            "__MACOSX/._challenge.yaml": "x"})
    root = unpack_bundle(archive, tmp_path / "out", max_bytes=10_000)
    assert sorted(p.name for p in root.rglob("*")) == ["challenge.yaml"]


def test_unpack_bundle_leaves_a_small_broken_image_to_the_bundle_check(tmp_path):
    archive = make_zip(tmp_path / "b.zip", {"challenge.yaml": "slug: x", "gt/001.png": b"no"})
    root = unpack_bundle(archive, tmp_path / "out", max_bytes=10_000, max_pixels=1000)
    assert (root / "gt" / "001.png").read_bytes() == b"no"  # reported with every other problem


def test_unpack_bundle_refuses_an_image_longer_than_its_header_allows(tmp_path):
    image = make_png(16, 16) + bytes(6 * 1024**2)
    archive = make_zip(tmp_path / "b.zip", {"challenge.yaml": "slug: x", "gt/001.png": image})
    with pytest.raises(UnsafeBundle, match="gt/001.png: holds more than the"):
        unpack_bundle(archive, tmp_path / "out", max_bytes=10**9, max_pixels=1000)
    assert not (tmp_path / "out").exists()
