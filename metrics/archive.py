"""Reads zip archives without trusting them: safe names in any spelling, hard caps on bytes produced.

One reader serves submissions and ground truth (``metrics.images.ImageSet``) and challenge
bundles (``app.bundles.unpack``), so both follow one set of rules.

Opening a ``ZipReader`` checks every entry and lists every problem at once, each naming its
entry: absolute paths, drive letters, ``..`` (also with ``\\`` read as a separator),
backslashes, control characters, symbolic links, two names that are one once spelled alike
(``\\`` or ``/``, ``./``, ``//``, Unicode NFC, upper or lower case), a file that is also a
folder, and more entries than ``Limits.members`` (counted before the zip's directory is
loaded). Hidden files and ``__MACOSX`` are ignored, but only when their name is safe.

Reading decompresses each member here, in chunks, with a bounded output per step, and never
trusts the sizes the zip declares: a member that yields more than its declared size is refused
at once, one that yields less or fails its CRC is refused at its end, no member may declare
more than ``Limits.member_bytes``, and all members read through one reader together yield at
most ``Limits.total_bytes``. A caller may cap a member further from its first bytes (an image
from its header: ``capped``). Encrypted members and compression methods other than stored,
deflate, bzip2 and lzma are refused when read, naming the method. Every error, from the zip's
structure to corrupt compressed data, becomes ``InvalidInput`` naming the member.
"""

from __future__ import annotations

import bz2
import itertools
import lzma
import re
import stat
import struct
import threading
import unicodedata
import zipfile
import zlib
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, NamedTuple

from metrics.problems import InvalidInput, Problem

CHUNK = 1024 * 1024  # compressed bytes read, and most bytes produced, per step
HEAD_BYTES = 64 * 1024  # what a head check sees first (more, doubling, when it asks)
MAX_MEMBERS = 100_000
IGNORED_PARTS = ("__MACOSX",)
SUPPORTED_METHODS = {
    zipfile.ZIP_STORED: "stored",
    zipfile.ZIP_DEFLATED: "deflate",
    zipfile.ZIP_BZIP2: "bzip2",
    zipfile.ZIP_LZMA: "lzma",
}
OTHER_METHODS = {
    1: "shrink", 2: "reduce", 3: "reduce", 4: "reduce", 5: "reduce", 6: "implode",
    9: "deflate64", 10: "PKWARE implode", 18: "IBM TERSE", 19: "IBM LZ77", 20: "zstandard",
    93: "zstandard", 94: "MP3", 95: "xz", 96: "JPEG", 97: "WavPack", 98: "PPMd",
}
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_AES = 99  # WinZip AES encryption, stored as a compression method
# What a zip's structure or compressed data can raise while being read.
_READ_ERRORS = (
    zipfile.BadZipFile, zlib.error, lzma.LZMAError, EOFError, OSError, NotImplementedError,
    ValueError, struct.error, RuntimeError,
)


@dataclass(frozen=True)
class Limits:
    """The most a zip may hold: entries, bytes one member yields, bytes all members yield."""

    member_bytes: int
    total_bytes: int
    members: int = MAX_MEMBERS


class Cap(NamedTuple):
    """At most ``bytes`` for one member, with the ``reason`` given when it holds more."""

    bytes: int
    reason: str


# Called with the member's first bytes (``complete``: all of them): the cap for that member,
# or None to see more first; raises InvalidInput to refuse the member at once.
HeadCheck = Callable[[bytes, bool], Cap | None]


def ignored(parts: tuple[str, ...]) -> bool:
    """Hidden files and folders and macOS ``__MACOSX`` debris: skipped, never read."""
    return any(part in IGNORED_PARTS or part.startswith(".") for part in parts)


def parts_of(name: str) -> tuple[str, ...]:
    """A safe member name's folders and file name, without '.' or empty parts."""
    return tuple(part for part in name.split("/") if part not in ("", "."))


def shown(name: str) -> str:
    """The name as a message can show it: control characters escaped."""
    return _CONTROL.sub(lambda found: f"\\x{ord(found.group()):02x}", name)


def unsafe_reason(name: str) -> str | None:
    """Why an entry's name could land outside the folder it is unpacked into, or None."""
    if _CONTROL.search(name):
        return "a control character in the name"
    parts = name.replace("\\", "/").split("/")
    if name.startswith(("/", "\\")):
        return "an absolute path"
    if len(name) >= 2 and name[1] == ":" and name[0].isascii() and name[0].isalpha():
        return "a drive letter"
    if ".." in parts:
        return "'..' leads out of the folder"
    if "\\" in name:
        return "a backslash in the name (zip paths use '/')"
    if not [p for p in parts if p not in ("", ".")]:
        return "an empty name"
    if max(len(p.encode("utf-8", "surrogateescape")) for p in parts) > 255:
        return "a name longer than 255 bytes"
    return None


def spelling_key(name: str) -> str:
    """The name as a file system may see it: '/' only, no './' or '//', NFC, case-folded."""
    parts = [p for p in name.replace("\\", "/").split("/") if p not in ("", ".")]
    return unicodedata.normalize("NFC", unicodedata.normalize("NFC", "/".join(parts)).casefold())


def capped(chunks: Iterable[bytes], name: str, head_check: HeadCheck | None) -> Iterator[bytes]:
    """``chunks`` passed on, refused as soon as they pass the cap ``head_check`` sets.

    The head is held (at least HEAD_BYTES, or the whole member when shorter) until the check
    decides; while it answers None it is asked again each time the head has doubled.
    """
    if head_check is None:
        yield from chunks
        return
    head: bytearray | None = bytearray()
    probe, size, cap = HEAD_BYTES, 0, None
    for chunk in chunks:
        size += len(chunk)
        if head is None:
            if cap is not None and size > cap.bytes:
                raise InvalidInput([Problem(name, cap.reason)])
            yield chunk
            continue
        head += chunk
        if len(head) < probe:
            continue
        cap = head_check(bytes(head), False)
        if cap is None:
            probe = 2 * len(head)
            continue
        if size > cap.bytes:
            raise InvalidInput([Problem(name, cap.reason)])
        yield bytes(head)
        head = None
    if head is not None:
        cap = head_check(bytes(head), True)
        if cap is None:
            raise ValueError("a head check must decide once it has the whole member")
        if size > cap.bytes:
            raise InvalidInput([Problem(name, cap.reason)])
        yield bytes(head)


def file_chunks(path: Path) -> Iterator[bytes]:
    """A file on disk, in chunks."""
    with Path(path).open("rb") as handle:
        while chunk := handle.read(CHUNK):
            yield chunk


class ZipReader:
    """A zip whose entries passed the name rules, read member by member under hard caps.

    ``problems``: what is wrong with the zip and its names (empty when it may be read);
    ``label`` names the zip itself in them. ``names()``: the member files to read, in the
    zip's order. It holds no file open: each read opens its own handle, so threads may read
    members at once.
    """

    def __init__(self, path: Path, limits: Limits, label: str | None = None):
        self.path = Path(path)
        self.limits = limits
        self.label = label if label is not None else self.path.name
        self.problems: list[Problem] = []
        self._members: dict[str, zipfile.ZipInfo] = {}
        self._refusals: dict[str, str] = {}  # member -> why it cannot be read
        self._produced = 0
        self._lock = threading.Lock()
        try:
            with self.path.open("rb") as handle:
                entries = _count_entries(handle, limits.members)
            if entries > limits.members:
                self.problems.append(Problem(
                    self.label, f"the zip holds more than {limits.members:,} entries, the limit"))
                return
            with zipfile.ZipFile(self.path) as archive:
                infos = archive.infolist()
        except _READ_ERRORS as exc:
            self.problems.append(Problem(self.label, f"not a readable zip file ({exc})"))
            return
        self._check(infos)

    # -- names -----------------------------------------------------------------------

    def _check(self, infos: list[zipfile.ZipInfo]) -> None:
        spelled: dict[str, str] = {}  # spelling key -> the first member spelled so
        folders: set[str] = set()  # spelling keys of every folder, named or implied
        declared = 0
        for info in infos:
            name = info.orig_filename
            reason = unsafe_reason(name)
            if reason is not None:
                self.problems.append(Problem(shown(name), f"unsafe path inside the zip ({reason})"))
                continue
            if ignored(parts_of(name)):
                continue
            key = spelling_key(name)
            if info.is_dir():
                folders.add(key)
                continue
            if stat.S_ISLNK(info.external_attr >> 16):
                self.problems.append(Problem(name, "a symbolic link; links are not allowed"))
                continue
            if key in spelled:
                first = spelled[key]
                self.problems.append(Problem(name, "appears twice in the zip" if first == name else
                                             f"the same name as {first!r} once spelled alike "
                                             "(case, '\\' or '/', './', Unicode form)"))
                continue
            spelled[key] = name
            folders.update(key.rsplit("/", i)[0] for i in range(1, key.count("/") + 1))
            self._members[name] = info
            declared += info.file_size
            refusal = _refusal(info, self.limits)
            if refusal is not None:
                self._refusals[name] = refusal
        for key, name in spelled.items():
            if key in folders:
                self.problems.append(Problem(name, "is both a file and a folder in the zip"))
                del self._members[name]
        if declared > self.limits.total_bytes:
            self.problems.append(Problem(
                self.label, f"the zip unpacks to {declared:,} bytes; the limit is "
                            f"{self.limits.total_bytes:,}"))

    def names(self) -> list[str]:
        return list(self._members)

    # -- reading ---------------------------------------------------------------------

    def chunks(self, name: str) -> Iterator[bytes]:
        """The member's bytes, decompressed here in chunks; raises InvalidInput naming it."""
        info = self._members[name]
        if name in self._refusals:
            raise InvalidInput([Problem(name, self._refusals[name])])
        produced, crc = 0, 0
        try:
            with self.path.open("rb") as handle:
                handle.seek(_data_offset(handle, info))
                compressed = _compressed(handle, info.compress_size)
                for out in _decompressed(info, compressed):
                    produced += len(out)
                    if produced > info.file_size:
                        raise InvalidInput([Problem(
                            name, f"unpacks to more than the {info.file_size:,} bytes the zip "
                                  "declares for it: refused (a zip bomb, or corrupt data)")])
                    self._spend(name, len(out))
                    crc = zlib.crc32(out, crc)
                    yield out
        except InvalidInput:
            raise
        except _READ_ERRORS as exc:
            raise InvalidInput([Problem(name, f"corrupt data in the zip ({exc or type(exc).__name__}); "
                                              "re-create the zip")]) from exc
        if produced != info.file_size:
            raise InvalidInput([Problem(
                name, f"unpacks to {produced:,} bytes, not the {info.file_size:,} the zip "
                      "declares (truncated or corrupt data); re-create the zip")])
        if crc != info.CRC:
            raise InvalidInput([Problem(name, "bad CRC-32: the data is corrupt; re-create the zip")])

    def read(self, name: str, head_check: HeadCheck | None = None) -> bytes:
        """The whole member, capped further by ``head_check`` when given."""
        return b"".join(capped(self.chunks(name), name, head_check))

    def extract(self, name: str, target: Path, head_check: HeadCheck | None = None) -> None:
        """Write the member to ``target`` as it is read (nothing of it is left on refusal)."""
        target.parent.mkdir(parents=True, exist_ok=True)
        try:
            with target.open("wb") as out:
                for chunk in capped(self.chunks(name), name, head_check):
                    out.write(chunk)
        except BaseException:
            target.unlink(missing_ok=True)
            raise

    @property
    def exhausted(self) -> bool:
        """True once the members read have yielded more than ``Limits.total_bytes``."""
        return self._produced > self.limits.total_bytes

    def _spend(self, name: str, count: int) -> None:
        with self._lock:
            self._produced += count
            if self._produced > self.limits.total_bytes:
                raise InvalidInput([Problem(
                    name, f"the zip unpacks to more than {self.limits.total_bytes:,} bytes in "
                          "all, the limit")])


def _refusal(info: zipfile.ZipInfo, limits: Limits) -> str | None:
    """Why a member with a safe name still cannot be read, or None."""
    if info.flag_bits & 0x41 or info.compress_type == _AES:
        return "encrypted (password-protected) files are not supported; zip it without a password"
    if info.flag_bits & 0x20:
        return "compressed patched data is not supported; re-zip it with deflate"
    method = info.compress_type
    if method not in SUPPORTED_METHODS:
        known = OTHER_METHODS.get(method, "an unknown method")
        return (f"compressed with {known} (method {method}), which is not supported; "
                "re-zip it with deflate (the default of zip tools)")
    if info.file_size > limits.member_bytes:
        return (f"unpacks to {info.file_size:,} bytes; the limit for one file is "
                f"{limits.member_bytes:,}")
    return None


def _count_entries(handle: BinaryIO, limit: int) -> int:
    """Entries in the zip's central directory, counted without loading them (stops past
    ``limit``); 0 when there is no end record (zipfile then says what is wrong)."""
    handle.seek(0, 2)
    size = handle.tell()
    tail_length = min(size, 22 + 0xFFFF + 20 + 56)
    handle.seek(size - tail_length)
    tail = handle.read(tail_length)
    at = tail.rfind(b"PK\x05\x06")
    if at < 0 or len(tail) - at < 22:
        return 0
    cd_size = struct.unpack("<L", tail[at + 12:at + 16])[0]
    cd_start = size - tail_length + at - cd_size
    if at >= 20 and tail[at - 20:at - 16] == b"PK\x06\x07":  # zip64: the size is in its record
        handle.seek(size - tail_length + at - 20 - 56)
        record = handle.read(56)
        if record[:4] == b"PK\x06\x06":
            cd_size = struct.unpack("<Q", record[40:48])[0]
            cd_start = size - tail_length + at - 20 - 56 - cd_size
    if cd_start < 0:
        return 0
    handle.seek(cd_start)
    count = consumed = 0
    while consumed < cd_size and count <= limit:
        fixed = handle.read(46)
        if len(fixed) < 46 or fixed[:4] != b"PK\x01\x02":
            break
        skip = sum(struct.unpack("<3H", fixed[28:34]))
        handle.seek(skip, 1)
        consumed += 46 + skip
        count += 1
    return count


def _data_offset(handle: BinaryIO, info: zipfile.ZipInfo) -> int:
    """Where the member's data starts, once its local header agrees with the directory."""
    handle.seek(info.header_offset)
    fixed = handle.read(30)
    if len(fixed) != 30 or fixed[:4] != b"PK\x03\x04":
        raise zipfile.BadZipFile("no local header where the zip's directory points")
    flags, method = struct.unpack("<2H", fixed[6:10])
    name_length, extra_length = struct.unpack("<2H", fixed[26:30])
    local_name = handle.read(name_length).decode("utf-8" if flags & 0x800 else "cp437")
    if local_name != info.orig_filename or method != info.compress_type or flags & 0x41:
        raise zipfile.BadZipFile("the local header and the zip's directory disagree")
    return info.header_offset + 30 + name_length + extra_length


def _compressed(handle: BinaryIO, size: int) -> Iterator[bytes]:
    while size > 0:
        block = handle.read(min(CHUNK, size))
        if not block:
            raise EOFError("the zip ends before this file's data does")
        size -= len(block)
        yield block


def _decompressed(info: zipfile.ZipInfo, blocks: Iterator[bytes]) -> Iterator[bytes]:
    """Decompress with at most CHUNK bytes produced per step (zipfile's own bzip2 and lzma
    readers decompress a whole compressed block at once, whatever it expands to)."""
    method = info.compress_type
    if method == zipfile.ZIP_STORED:
        yield from blocks
    elif method == zipfile.ZIP_DEFLATED:
        yield from _inflated(blocks)
    elif method == zipfile.ZIP_BZIP2:
        yield from _drained(bz2.BZ2Decompressor(), blocks)
    else:
        yield from _lzma_decompressed(blocks, info.file_size)


def _inflated(blocks: Iterator[bytes]) -> Iterator[bytes]:
    inflater = zlib.decompressobj(-zlib.MAX_WBITS)
    for block in blocks:
        data = block
        while data and not inflater.eof:
            out = inflater.decompress(data, CHUNK)
            data = inflater.unconsumed_tail
            if out:
                yield out
        if inflater.eof:
            return
    while not inflater.eof:  # output held back when the input ran out as the buffer filled
        out = inflater.decompress(b"", CHUNK)
        if not out:
            return
        yield out


def _drained(decompressor: bz2.BZ2Decompressor | lzma.LZMADecompressor,
             blocks: Iterable[bytes]) -> Iterator[bytes]:
    for block in blocks:
        out = decompressor.decompress(block, CHUNK)
        while True:
            if out:
                yield out
            if decompressor.eof or decompressor.needs_input:
                break
            out = decompressor.decompress(b"", CHUNK)
        if decompressor.eof:
            return


def _lzma_decompressed(blocks: Iterator[bytes], file_size: int) -> Iterator[bytes]:
    """Zip's lzma: a 4-byte header (version, properties size), LZMA1 properties, raw data."""
    head = b""
    while len(head) < 9:
        block = next(blocks, b"")
        if not block:
            raise EOFError("the lzma header is cut short")
        head += block
    if struct.unpack("<H", head[2:4])[0] != 5:
        raise ValueError("unexpected lzma properties")
    packed, dictionary = head[4], int.from_bytes(head[5:9], "little")
    if packed >= 9 * 5 * 5:
        raise ValueError("invalid lzma properties")
    # A dictionary larger than the output is never used: cap what the decoder may allocate.
    dictionary = max(4096, min(dictionary, file_size))
    lzma1 = {"id": lzma.FILTER_LZMA1, "dict_size": dictionary,
             "lc": packed % 9, "lp": packed // 9 % 5, "pb": packed // 45}
    decompressor = lzma.LZMADecompressor(lzma.FORMAT_RAW, filters=[lzma1])
    yield from _drained(decompressor, itertools.chain([head[9:]], blocks))
