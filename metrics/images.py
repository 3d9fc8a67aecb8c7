"""Image sets (a folder or a zip), pairing by file stem, validation, and decoding like the reference.

Decoding follows the organisers' script, which read every file with OpenCV's
``imread(path, IMREAD_COLOR)``: 8-bit, 3 channels, grayscale replicated, alpha dropped,
then BGR turned into RGB. 16-bit files are accepted and reduced to 8 bits exactly as
that call does (OpenCV keeps the high byte), so a 16-bit PNG scores as the reference
scored it; the choice is reported back as a note, never silently.

Validation collects every problem before answering, each naming its file.
"""

from __future__ import annotations

import io
import zipfile
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

import cv2
import numpy as np
from PIL import Image, UnidentifiedImageError

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp")
_IGNORED_PARTS = ("__MACOSX",)
# Compressed-to-uncompressed ratio beyond which a zip member is treated as a bomb.
_MAX_ZIP_RATIO = 200

Image.MAX_IMAGE_PIXELS = None  # the pixel cap is ours, checked from the header


@dataclass(frozen=True)
class Problem:
    """One thing wrong with an input, naming the file it concerns."""

    file: str
    message: str

    def __str__(self) -> str:
        return f"{self.file}: {self.message}"


class InvalidInput(ValueError):
    """The inputs cannot be scored; ``problems`` lists every reason."""

    def __init__(self, problems: list[Problem]):
        self.problems = problems
        super().__init__("\n".join(str(p) for p in problems))


def _ignored(parts: tuple[str, ...]) -> bool:
    return any(part in _IGNORED_PARTS or part.startswith(".") for part in parts)


class ImageSet:
    """A set of image files addressed by name: a folder, or a zip read in place."""

    def __init__(self, path: Path, label: str):
        self.path = Path(path)
        self.label = label  # "prediction" or "ground truth", used in messages
        self._zip: zipfile.ZipFile | None = None
        self._members: dict[str, str] = {}  # display name -> member/file path
        self.problems: list[Problem] = []
        if self.path.is_dir():
            self._scan_dir()
        elif self.path.is_file() and zipfile.is_zipfile(self.path):
            self._scan_zip()
        elif self.path.exists():
            self.problems.append(
                Problem(str(self.path), f"{label} must be a folder or a .zip file")
            )
        else:
            self.problems.append(Problem(str(self.path), f"{label} path does not exist"))

    # -- discovery -------------------------------------------------------------------

    def _scan_dir(self) -> None:
        for file in sorted(self.path.rglob("*")):
            rel = file.relative_to(self.path)
            if file.is_file() and not _ignored(rel.parts):
                self._members[rel.as_posix()] = str(file)

    def _scan_zip(self) -> None:
        try:
            self._zip = zipfile.ZipFile(self.path)
            infos = self._zip.infolist()
        except (zipfile.BadZipFile, OSError) as exc:
            self.problems.append(Problem(self.path.name, f"not a readable zip file ({exc})"))
            return
        names = []
        for info in infos:
            member = PurePosixPath(info.filename)
            if member.is_absolute() or ".." in member.parts:
                self.problems.append(Problem(info.filename, "unsafe path inside the zip"))
                continue
            if info.is_dir() or _ignored(member.parts):
                continue
            if info.flag_bits & 0x1:
                self.problems.append(
                    Problem(info.filename, "encrypted zip members are not supported")
                )
                continue
            if info.compress_size and info.file_size / info.compress_size > _MAX_ZIP_RATIO:
                self.problems.append(
                    Problem(info.filename, "compression ratio is implausibly high")
                )
                continue
            names.append(info.filename)
        # One folder wrapping everything (zip -r out.zip results/) is stripped.
        tops = {PurePosixPath(n).parts[0] for n in names}
        strip = len(tops) == 1 and all(len(PurePosixPath(n).parts) > 1 for n in names)
        for name in sorted(names):
            display = PurePosixPath(*PurePosixPath(name).parts[1:]).as_posix() if strip else name
            self._members[display] = name

    # -- access ----------------------------------------------------------------------

    def names(self) -> list[str]:
        return list(self._members)

    def read(self, name: str) -> bytes:
        if self._zip is not None:
            return self._zip.read(self._members[name])
        return Path(self._members[name]).read_bytes()

    def close(self) -> None:
        if self._zip is not None:
            self._zip.close()


@dataclass(frozen=True)
class ImagePair:
    """A prediction and its ground truth (None in unpaired use), sharing a file stem."""

    name: str  # the stem: "001"
    pred: str  # names inside their sets
    gt: str | None


@dataclass
class Inventory:
    """Validated pairs plus notes (choices made on the user's behalf, not errors)."""

    pairs: list[ImagePair]
    notes: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class ImageInfo:
    width: int
    height: int
    bits: int
    single_colour: bool = False  # one colour everywhere inside the border crop


def _single_colour(img: Image.Image, crop: int) -> bool:
    """True when every pixel inside the ``crop``-pixel border has one colour (a decoded image)."""
    width, height = img.size
    if crop and width > 2 * crop and height > 2 * crop:
        img = img.crop((crop, crop, width - crop, height - crop))
    extrema = img.getextrema()
    bands = extrema if isinstance(extrema[0], tuple) else (extrema,)
    return all(low == high for low, high in bands[:3])  # colour bands; the decoder drops alpha


def single_colour_problem(name: str, metrics: tuple[str, ...]) -> Problem:
    return Problem(
        name,
        f"{', '.join(m.upper() for m in metrics)} is undefined for an image of a single colour "
        "(after the border crop), so it cannot be scored",
    )


def _bit_depth(data: bytes, img: Image.Image) -> int:
    if data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 24:
        return data[24]  # IHDR bit depth; Pillow reports 16-bit colour PNGs as "RGB"
    return 16 if "16" in img.mode or img.mode == "I" else 8


def inspect_image(
    data: bytes, name: str, max_pixels: int, min_side: int = 1, crop: int = 0
) -> tuple[ImageInfo | None, list[Problem]]:
    """Check one file fully (header, size limits, complete decode); never raises."""
    try:
        with Image.open(io.BytesIO(data)) as img:
            width, height = img.size
            if width * height > max_pixels:
                return None, [
                    Problem(name, f"{width}x{height} is over the limit of {max_pixels:,} pixels")
                ]
            if min(width, height) < min_side:
                return None, [
                    Problem(
                        name,
                        f"{width}x{height} is smaller than the minimum of "
                        f"{min_side}x{min_side} the metrics need",
                    )
                ]
            bits = _bit_depth(data, img)
            img.load()  # raises on truncated or corrupt data
            single_colour = _single_colour(img, crop)
    except UnidentifiedImageError:
        return None, [Problem(name, "not a decodable image (unrecognised or corrupt format)")]
    except Exception as exc:  # PIL raises many types for bad files
        reason = (
            "truncated image"
            if "truncated" in str(exc).lower()
            else f"not a decodable image ({exc})"
        )
        return None, [Problem(name, reason)]
    return ImageInfo(width, height, bits, single_colour), []


def decode(data: bytes, name: str = "image") -> np.ndarray:
    """H x W x 3 uint8 RGB, exactly as ``cv2.imread(path, IMREAD_COLOR)`` then BGR to RGB."""
    array = cv2.imdecode(np.frombuffer(data, dtype=np.uint8), cv2.IMREAD_COLOR)
    if array is None:
        raise InvalidInput([Problem(name, "not a decodable image")])
    return cv2.cvtColor(array, cv2.COLOR_BGR2RGB)


def _by_stem(images: ImageSet, problems: list[Problem]) -> dict[str, str]:
    stems: dict[str, list[str]] = {}
    for name in images.names():
        suffix = PurePosixPath(name).suffix.lower()
        if suffix not in IMAGE_SUFFIXES:
            problems.append(
                Problem(
                    name,
                    f"not an image file in the {images.label} "
                    f"(accepted: {', '.join(IMAGE_SUFFIXES)})",
                )
            )
            continue
        stems.setdefault(PurePosixPath(name).stem, []).append(name)
    unique = {}
    for stem, names in stems.items():
        if len(names) > 1:
            problems.append(
                Problem(
                    ", ".join(names),
                    f"{len(names)} files share the stem {stem!r} in the {images.label}",
                )
            )
        else:
            unique[stem] = names[0]
    return unique


def pair_images(
    pred: ImageSet,
    gt: ImageSet | None,
    *,
    max_pixels: int,
    max_images: int | None = None,
    min_side: int = 1,
    check_sizes: bool = True,
    inputs: ImageSet | None = None,
    flat_undefined: tuple[str, ...] = (),
    crop: int = 0,
) -> Inventory:
    """Pair files by stem and check every file; raises InvalidInput with all problems.

    With ``gt`` None (unpaired phases) the prediction files are checked alone, or, given the
    phase's ``inputs``, paired against them: one prediction per input, nothing extra, each
    the size of its input (pairs then carry no ground truth).
    ``flat_undefined``: the metrics that have no value for a prediction of a single colour
    inside the ``crop``-pixel border (NIQE): such predictions are refused here, before any
    model runs (``metrics.engine`` checks the exact luma plane again when scoring).
    """
    if gt is not None and inputs is not None:
        raise ValueError("pair predictions with the ground truth or with the inputs, not both")
    ref = gt if gt is not None else inputs
    problems = list(pred.problems) + (list(ref.problems) if ref else [])
    pred_stems = _by_stem(pred, problems)
    ref_stems = _by_stem(ref, problems) if ref else {}
    for stem in sorted(ref_stems.keys() - pred_stems.keys()):
        problems.append(
            Problem(ref_stems[stem], f"missing: no prediction named {stem}.*")
            if gt
            else Problem(f"{stem}.*", f"missing: the phase has an input named {ref_stems[stem]}")
        )
    extra = sorted(pred_stems.keys() - ref_stems.keys()) if ref else []
    for stem in extra:
        problems.append(
            Problem(
                pred_stems[stem],
                "extra file: no ground-truth image has this name"
                if gt
                else "extra file: the phase has no input with this name",
            )
        )
    stems = sorted(pred_stems.keys() & ref_stems.keys()) if ref else sorted(pred_stems)
    if not stems and not problems:
        problems.append(Problem(str(pred.path), f"no images found in the {pred.label}"))
    if max_images is not None and len(stems) > max_images:
        problems.append(
            Problem(str(pred.path), f"{len(stems)} images is over the limit of {max_images}")
        )
    notes: list[str] = []
    sixteen_bit: list[str] = []
    for stem in stems:
        pred_info, pred_problems = inspect_image(
            pred.read(pred_stems[stem]), pred_stems[stem], max_pixels, min_side, crop
        )
        problems.extend(pred_problems)
        if flat_undefined and pred_info and pred_info.single_colour:
            problems.append(single_colour_problem(pred_stems[stem], flat_undefined))
        if pred_info and pred_info.bits == 16:
            sixteen_bit.append(pred_stems[stem])
        if not ref:
            continue
        ref_info, ref_problems = inspect_image(ref.read(ref_stems[stem]), ref_stems[stem], max_pixels)
        problems.extend(ref_problems)
        if (
            check_sizes
            and pred_info
            and ref_info
            and (pred_info.width, pred_info.height) != (ref_info.width, ref_info.height)
        ):
            problems.append(
                Problem(
                    pred_stems[stem],
                    f"size {pred_info.width}x{pred_info.height} differs from the "
                    f"{'ground truth' if gt else 'input'} "
                    f"{ref_stems[stem]} ({ref_info.width}x{ref_info.height})",
                )
            )
    if problems:
        raise InvalidInput(problems)
    if sixteen_bit:
        notes.append(
            f"{len(sixteen_bit)} 16-bit image(s) reduced to 8 bits as the reference decoder "
            f"does (e.g. {sixteen_bit[0]})"
        )
    pairs = [ImagePair(stem, pred_stems[stem], ref_stems[stem] if gt else None) for stem in stems]
    return Inventory(pairs, notes)
