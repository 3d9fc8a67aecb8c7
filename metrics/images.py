"""Image sets (a folder or a zip), pairing by file stem, validation, and decoding like the reference.

Decoding follows the organisers' script, which read every file with OpenCV's
``imread(path, IMREAD_COLOR)``: 8-bit, 3 channels, grayscale replicated, alpha dropped,
then BGR turned into RGB. 16-bit files are accepted and reduced to 8 bits exactly as
that call does (OpenCV keeps the high byte), so a 16-bit PNG scores as the reference
scored it; the choice is reported back as a note, never silently.

Zips are read only through ``metrics.archive`` (safe names, hard caps on the bytes produced).
A file is read like an image, in upload checks and in scoring alike: its header (Pillow, no
pixel decoded) is read from its first bytes, and the file is refused at once when the header
is not an image's or declares more than the pixel cap, or as soon as it holds more than its
declared size can need. Validation then decodes each file once, exactly as scoring does, so
an accepted file is a scorable one. It collects every problem before answering, each naming
its file.
"""

from __future__ import annotations

import io
import warnings
import zipfile
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

import cv2
import numpy as np
from PIL import Image

from metrics.archive import (
    Cap,
    HeadCheck,
    Limits,
    ZipReader,
    capped,
    file_chunks,
    ignored,
    parts_of,
)
from metrics.problems import InvalidInput, Problem

__all__ = ["IMAGE_SUFFIXES", "ImageInfo", "ImagePair", "ImageSet", "InvalidInput", "Inventory",
           "Problem", "decode", "image_cap", "inspect_image", "pair_images", "read_header",
           "single_colour_problem"]

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp")
# Files a submission may hold beside its images, at its top level (after the one wrapping
# folder is dropped): set aside by a prediction set, never paired or decoded as an image.
FACTSHEET_FILE = "factsheet.yaml"
SIDE_FILES = (FACTSHEET_FILE,)
UNDECODABLE = "not a decodable image (unrecognised or corrupt format)"
# An image file holds its pixels, at worst half as large again once compressed (JPEG at
# quality 100 and TIFF LZW reach 1.37 on noise), plus headers, colour profiles and metadata.
_SLACK_BYTES = 4 * 1024**2
# One image file when no pixel cap is given; with one, the most its pixels can need.
_UNCAPPED_FILE_BYTES = 4 * 1024**3
# A zip may unpack to this many times its own size in all (and to _MIN_TOTAL_BYTES anyway).
_ZIP_RATIO = 200
_MIN_TOTAL_BYTES = 1024**3
# Formats whose header Pillow may need more than the first bytes for (TIFF keeps it anywhere).
_MAGIC = (b"\x89PNG\r\n\x1a\n", b"\xff\xd8\xff", b"BM", b"II*\x00", b"MM\x00*", b"II+\x00",
          b"MM\x00+", b"RIFF")

Image.MAX_IMAGE_PIXELS = None  # the pixel cap is ours, checked from the header
# A TIFF whose directory lies past the bytes probed so far warns; it is probed again with more.
warnings.filterwarnings("ignore", "Corrupt EXIF data", UserWarning, r"PIL\.TiffImagePlugin")


# -- headers and how much of a file to read ------------------------------------------------


@dataclass(frozen=True)
class Header:
    """What an image file's header declares (read by Pillow; no pixel decoded)."""

    width: int
    height: int
    bands: int
    bits: int  # per sample

    def max_file_bytes(self) -> int:
        return _file_bytes(self.width * self.height, self.bands, self.bits)


def _file_bytes(pixels: int, bands: int, bits: int) -> int:
    raw = pixels * bands * max(1, -(-bits // 8))
    return raw + raw // 2 + _SLACK_BYTES


def _bit_depth(data: bytes, img: Image.Image) -> int:
    if data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 24:
        return data[24]  # IHDR bit depth; Pillow reports 16-bit colour PNGs as "RGB"
    tags = getattr(img, "tag_v2", None)
    if tags is not None and 258 in tags:  # TIFF BitsPerSample; also "RGB" for 16-bit colour
        bits = tags[258]
        return max(bits) if isinstance(bits, tuple) else int(bits)
    if img.mode == "F" or img.mode.startswith("I;32"):
        return 32
    return 16 if "16" in img.mode or img.mode == "I" else 8


def read_header(data: bytes) -> Header | None:
    """The header of an image file (its first bytes may be enough), or None."""
    try:
        with Image.open(io.BytesIO(data)) as img:
            width, height = img.size
            return Header(width, height, len(img.getbands()), _bit_depth(data, img))
    except Exception:  # PIL raises many types for what it cannot read
        return None


def _size_problem(name: str, width: int, height: int, max_pixels: int | None,
                  min_side: int = 1) -> Problem | None:
    if max_pixels is not None and width * height > max_pixels:
        return Problem(name, f"{width}x{height} is over the limit of {max_pixels:,} pixels")
    if min(width, height) < min_side:
        return Problem(name, f"{width}x{height} is smaller than the minimum of "
                             f"{min_side}x{min_side} the metrics need")
    return None


def image_cap(name: str, max_pixels: int | None) -> HeadCheck:
    """How much of the file ``name`` to read (a ``metrics.archive`` head check).

    Refused at once when its first bytes are no image's (a header Pillow can read, or the
    start of one that needs more bytes) or declare more than ``max_pixels``; otherwise capped
    at what the declared width x height x bands x bytes per sample can need.
    """
    search = _file_bytes(max_pixels, 4, 16) if max_pixels else _UNCAPPED_FILE_BYTES

    def check(head: bytes, complete: bool) -> Cap | None:
        header = read_header(head)
        if header is None:
            if complete or len(head) >= search or not head.startswith(_MAGIC):
                raise InvalidInput([Problem(name, UNDECODABLE)])
            return None
        problem = _size_problem(name, header.width, header.height, max_pixels)
        if problem is not None:
            raise InvalidInput([problem])
        limit = header.max_file_bytes()
        return Cap(limit, f"holds more than the {limit:,} bytes a {header.width}x{header.height} "
                          "image can need: refused (a zip bomb, or a damaged file)")

    return check


def _zip_limits(path: Path, max_pixels: int | None) -> Limits:
    member = _file_bytes(max_pixels, 4, 16) if max_pixels else _UNCAPPED_FILE_BYTES
    total = max(_ZIP_RATIO * path.stat().st_size, _MIN_TOTAL_BYTES)
    return Limits(member_bytes=member, total_bytes=total)


# -- image sets ------------------------------------------------------------------------------


class ImageSet:
    """A set of image files addressed by name: a folder, or a zip read in place.

    ``max_pixels``: the pixel cap files are read under (``read``); None reads any size.
    ``side_files``: top-level names set aside (``side_names``, ``read_side``), not images.
    """

    def __init__(self, path: Path, label: str, *, max_pixels: int | None = None,
                 side_files: tuple[str, ...] = ()):
        self.path = Path(path)
        self.label = label  # "prediction" or "ground truth", used in messages
        self.max_pixels = max_pixels
        self._zip: ZipReader | None = None
        self._members: dict[str, str] = {}  # display name -> member/file path
        self._side: dict[str, str] = {}  # side files set aside: display name -> member/file
        self.problems: list[Problem] = []
        if self.path.is_dir():
            self._scan_dir()
            self._set_aside(side_files)
        elif self.path.is_file() and zipfile.is_zipfile(self.path):
            self._scan_zip()
            self._set_aside(side_files)
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
            if file.is_file() and not ignored(rel.parts):
                self._members[rel.as_posix()] = str(file)

    def _scan_zip(self) -> None:
        self._zip = ZipReader(self.path, _zip_limits(self.path, self.max_pixels), str(self.path))
        self.problems.extend(self._zip.problems)
        parts = {name: parts_of(name) for name in self._zip.names()}
        # One folder wrapping everything (zip -r out.zip results/) is stripped.
        tops = {p[0] for p in parts.values()}
        strip = len(tops) == 1 and all(len(p) > 1 for p in parts.values())
        for name in sorted(parts):
            self._members["/".join(parts[name][1:] if strip else parts[name])] = name

    def _set_aside(self, side_files: tuple[str, ...]) -> None:
        for name in side_files:
            if name in self._members:
                self._side[name] = self._members.pop(name)

    # -- access ----------------------------------------------------------------------

    def names(self) -> list[str]:
        return list(self._members)

    def read(self, name: str, max_pixels: int | None = None) -> bytes:
        """The file's bytes, read like an image (``image_cap``, under ``max_pixels`` or the
        set's); raises InvalidInput naming the file."""
        check = image_cap(name, max_pixels or self.max_pixels)
        member = self._members[name]
        if self._zip is None:
            return b"".join(capped(file_chunks(Path(member)), name, check))
        try:
            return b"".join(capped(self._zip.chunks(member), name, check))
        except InvalidInput as exc:  # name the file as the set does (wrapping folder stripped)
            raise InvalidInput([Problem(name, p.message) for p in exc.problems]) from exc

    def side_names(self) -> list[str]:
        """The side files found (``side_files`` given to the constructor), not images."""
        return list(self._side)

    def read_side(self, name: str, max_bytes: int) -> bytes | None:
        """A side file's bytes (None when the set has none of that name), at most
        ``max_bytes``; raises InvalidInput naming the file."""
        member = self._side.get(name)
        if member is None:
            return None
        cap = Cap(max_bytes, f"larger than {max_bytes:,} bytes")
        chunks = file_chunks(Path(member)) if self._zip is None else self._zip.chunks(member)
        return b"".join(capped(chunks, name, lambda _head, _complete: cap))

    def close(self) -> None:
        """Nothing stays open between reads; kept for callers that close what they open."""


@dataclass(frozen=True)
class ImagePair:
    """A prediction and its ground truth (None in unpaired use), sharing a file stem."""

    name: str  # the stem: "001" (with stages, "stage1/001")
    pred: str  # names inside their sets
    gt: str | None
    resized_from: str | None = None  # "WxH": resized to the ground truth's size when scored


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


def _single_colour(pixels: np.ndarray, crop: int) -> bool:
    """True when every pixel inside the ``crop``-pixel border has one colour (decoded RGB)."""
    height, width = pixels.shape[:2]
    if crop and width > 2 * crop and height > 2 * crop:
        pixels = pixels[crop : height - crop, crop : width - crop]
    rows = pixels.reshape(pixels.shape[0], -1)  # a view: each row's pixels side by side
    first = np.tile(pixels[0, 0], pixels.shape[1])
    # A few rows at a time: no image-sized temporary, and most images differ in the first ones.
    return all((rows[start : start + 64] == first).all() for start in range(0, len(rows), 64))


def single_colour_problem(name: str, metrics: tuple[str, ...]) -> Problem:
    return Problem(
        name,
        f"{', '.join(m.upper() for m in metrics)} is undefined for an image of a single colour "
        "(after the border crop), so it cannot be scored",
    )


def _truncated(data: bytes) -> bool:
    if data.startswith(b"\x89PNG"):
        return b"IEND" not in data[-12:]
    if data.startswith(b"\xff\xd8"):
        return not data.endswith(b"\xff\xd9")
    return False


def inspect_image(
    data: bytes, name: str, max_pixels: int, min_side: int = 1, crop: int = 0
) -> tuple[ImageInfo | None, list[Problem]]:
    """Check one file as scoring will read it; never raises.

    The header (Pillow, no pixel decoded) is checked against the pixel cap and the minimum
    side first; then the file is decoded once, exactly as scoring decodes it (``decode``), so
    a file OpenCV refuses is refused here too. Width and height are the decoded ones (OpenCV
    applies a JPEG's EXIF orientation).
    """
    header = read_header(data)
    if header is None:
        return None, [Problem(name, UNDECODABLE)]
    problem = _size_problem(name, header.width, header.height, max_pixels, min_side)
    if problem is not None:
        return None, [problem]
    try:
        pixels = decode(data, name)
    except InvalidInput:
        reason = ("truncated image" if _truncated(data) else
                  "not a decodable image (corrupt data that OpenCV, which scoring uses, refuses)")
        return None, [Problem(name, reason)]
    height, width = pixels.shape[:2]
    return ImageInfo(width, height, header.bits, _single_colour(pixels, crop)), []


def decode(data: bytes, name: str = "image") -> np.ndarray:
    """H x W x 3 uint8 RGB, exactly as ``cv2.imread(path, IMREAD_COLOR)`` then BGR to RGB."""
    array = cv2.imdecode(np.frombuffer(data, dtype=np.uint8), cv2.IMREAD_COLOR)
    if array is None:
        raise InvalidInput([Problem(name, "not a decodable image")])
    return cv2.cvtColor(array, cv2.COLOR_BGR2RGB)


def _read_and_inspect(
    images: ImageSet, name: str, max_pixels: int, min_side: int = 1, crop: int = 0
) -> tuple[ImageInfo | None, list[Problem]]:
    try:
        data = images.read(name, max_pixels)
    except InvalidInput as exc:
        return None, exc.problems
    return inspect_image(data, name, max_pixels, min_side, crop)


def resize_to(image: np.ndarray, width: int, height: int) -> np.ndarray:
    """The decoded image resized (bilinear, OpenCV's INTER_LINEAR on the 8-bit pixels) to
    ``width`` x ``height``: how a formula with ``size_mismatch: resize`` fits a prediction to
    its ground truth. An image of that size already is returned as it is."""
    if image.shape[:2] == (height, width):
        return image
    return cv2.resize(image, (width, height), interpolation=cv2.INTER_LINEAR)


def pair_key(name: str, stages: tuple[str, ...] = ()) -> str:
    """The key files pair by: the stem, or with stages ``stage/stem`` (the first folder)."""
    stem = PurePosixPath(name).stem
    return f"{name.split('/', 1)[0]}/{stem}" if stages else stem


def _by_stem(images: ImageSet, problems: list[Problem],
             stages: tuple[str, ...] = ()) -> dict[str, str]:
    stems: dict[str, list[str]] = {}
    for name in images.names():
        if stages and ("/" not in name or name.split("/", 1)[0] not in stages):
            problems.append(Problem(name, f"outside the stage folders of the {images.label} "
                                          f"(each image lies in one of: {', '.join(stages)})"))
            continue
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
        stems.setdefault(pair_key(name, stages), []).append(name)
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
    stages: tuple[str, ...] = (),
    resize: bool = False,
) -> Inventory:
    """Pair files by stem and check every file; raises InvalidInput with all problems.

    With ``gt`` None (unpaired phases) the prediction files are checked alone, or, given the
    phase's ``inputs``, paired against them: one prediction per input, nothing extra, each
    the size of its input (pairs then carry no ground truth).
    ``flat_undefined``: the metrics that have no value for a prediction of a single colour
    inside the ``crop``-pixel border (NIQE): such predictions are refused here, before any
    model runs (``metrics.engine`` checks the exact luma plane again when scoring).
    ``stages``: every file lies in one of these folders and pairs within it (names
    ``stage/stem``). ``resize``: a prediction whose size differs from its ground truth's is
    not refused but marked ``resized_from`` (its size), and a note lists them.
    """
    if gt is not None and inputs is not None:
        raise ValueError("pair predictions with the ground truth or with the inputs, not both")
    ref = gt if gt is not None else inputs
    problems = list(pred.problems) + (list(ref.problems) if ref else [])
    pred_stems = _by_stem(pred, problems, stages)
    ref_stems = _by_stem(ref, problems, stages) if ref else {}
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
    too_many = max_images is not None and len(stems) > max_images
    if too_many:
        problems.append(
            Problem(str(pred.path), f"{len(stems)} images is over the limit of {max_images}")
        )
    notes: list[str] = []
    sixteen_bit: list[str] = []
    resized: dict[str, str] = {}
    for stem in [] if too_many else stems:  # too many: not worth reading them all
        pred_info, pred_problems = _read_and_inspect(
            pred, pred_stems[stem], max_pixels, min_side, crop
        )
        problems.extend(pred_problems)
        if flat_undefined and pred_info and pred_info.single_colour:
            problems.append(single_colour_problem(pred_stems[stem], flat_undefined))
        if pred_info and pred_info.bits == 16:
            sixteen_bit.append(pred_stems[stem])
        if not ref:
            continue
        ref_info, ref_problems = _read_and_inspect(ref, ref_stems[stem], max_pixels)
        problems.extend(ref_problems)
        if (
            check_sizes
            and pred_info
            and ref_info
            and (pred_info.width, pred_info.height) != (ref_info.width, ref_info.height)
        ):
            if resize and gt:
                resized[stem] = f"{pred_info.width}x{pred_info.height}"
                continue
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
    if resized:
        shown = ", ".join(f"{pred_stems[k]} ({v})" for k, v in list(resized.items())[:5])
        more = f" and {len(resized) - 5} more" if len(resized) > 5 else ""
        notes.append(f"{len(resized)} prediction(s) resized (bilinear) to the ground truth's "
                     f"size, as the phase's formula asks: {shown}{more}")
    pairs = [ImagePair(stem, pred_stems[stem], ref_stems[stem] if gt else None, resized.get(stem))
             for stem in stems]
    return Inventory(pairs, notes)
