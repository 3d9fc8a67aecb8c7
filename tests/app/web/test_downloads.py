"""The cached zip of a phase's inputs."""

import zipfile

import pytest

from app.web.downloads import inputs_zip


def test_inputs_zip_holds_every_file_and_is_reused(tmp_path):
    folder = tmp_path / "inputs"
    (folder / "sub").mkdir(parents=True)
    (folder / "001.png").write_bytes(b"one")
    (folder / "sub" / "002.png").write_bytes(b"two")
    first = inputs_zip(folder, "abc", tmp_path / "cache")
    with zipfile.ZipFile(first) as archive:
        assert sorted(archive.namelist()) == ["001.png", "sub/002.png"]
        assert archive.read("sub/002.png") == b"two"
    (folder / "001.png").write_bytes(b"changed")  # same fingerprint: the cached zip is served
    assert inputs_zip(folder, "abc", tmp_path / "cache") == first
    assert [p.name for p in (tmp_path / "cache").iterdir()] == ["inputs-abc.zip"]


def test_inputs_zip_of_a_missing_folder_says_which(tmp_path):
    with pytest.raises(FileNotFoundError, match="nowhere"):
        inputs_zip(tmp_path / "nowhere", "abc", tmp_path / "cache")
