"""Hostile zips built by hand: any name, method, flags, sizes and CRC a header can claim.

``write_zip`` writes local headers, data, the central directory and its end record itself,
so a test states exactly what each header says. The bombs are made by streaming tricks, never
by holding what they expand to: a bzip2 stream is one compressed block repeated bit by bit,
a deflate stream one fully-flushed compressed chunk repeated byte by byte.
"""

from __future__ import annotations

import bz2
import functools
import io
import struct
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

REGULAR_FILE = 0o100644 << 16
SYMLINK = 0o120777 << 16


@dataclass
class Entry:
    """One member as its headers describe it; ``data`` is what is stored (compressed)."""

    name: str | bytes
    data: bytes
    method: int
    crc: int
    file_size: int
    flags: int = 0
    external_attr: int = REGULAR_FILE


def compress(plain: bytes, method: int) -> bytes:
    """``plain`` as zip stores it with ``method`` (stored, deflate or bzip2)."""
    if method == zipfile.ZIP_STORED:
        return plain
    if method == zipfile.ZIP_DEFLATED:
        packer = zlib.compressobj(6, zlib.DEFLATED, -zlib.MAX_WBITS)
        return packer.compress(plain) + packer.flush()
    if method == zipfile.ZIP_BZIP2:
        return bz2.compress(plain)
    raise ValueError(f"no compressor here for method {method}")


def entry(name: str | bytes, plain: bytes, method: int = zipfile.ZIP_DEFLATED, **claims) -> Entry:
    """An honest member (true CRC and size) unless ``claims`` override what the headers say."""
    fields = {"crc": zlib.crc32(plain), "file_size": len(plain)} | claims
    return Entry(name, compress(plain, method), method, **fields)


def write_zip(path: Path, entries: list[Entry]) -> Path:
    """A zip whose local and central headers say exactly what each entry claims."""
    out = io.BytesIO()
    central = []
    for item in entries:
        name = item.name if isinstance(item.name, bytes) else item.name.encode("utf-8")
        flags = item.flags | (0x800 if isinstance(item.name, str) and not item.name.isascii() else 0)
        offset = out.tell()
        fields = (20, flags, item.method, 0, 0x21, item.crc, len(item.data), item.file_size)
        out.write(struct.pack("<4s5H3L2H", b"PK\x03\x04", *fields, len(name), 0))
        out.write(name)
        out.write(item.data)
        central.append(struct.pack("<4s4B4H3L5H2L", b"PK\x01\x02", 20, 3, 20, 0, flags,
                                   item.method, 0, 0x21, item.crc, len(item.data), item.file_size,
                                   len(name), 0, 0, 0, 0, item.external_attr, offset) + name)
    start = out.tell()
    for record in central:
        out.write(record)
    size = out.tell() - start
    count = min(len(central), 0xFFFF)  # zipfile reads the directory by its size, not its count
    out.write(struct.pack("<4s4H2LH", b"PK\x05\x06", 0, 0, count, count, size, start, 0))
    Path(path).write_bytes(out.getvalue())
    return Path(path)


def png(width: int = 16, height: int = 16, seed: int = 0) -> bytes:
    pixels = np.random.default_rng(seed).integers(0, 256, (height, width, 3), dtype=np.uint8)
    buf = io.BytesIO()
    Image.fromarray(pixels).save(buf, format="PNG")
    return buf.getvalue()


def corrupt_idat_crc(data: bytes) -> bytes:
    """The PNG with one bit of its first IDAT chunk's CRC flipped (Pillow loads it, OpenCV not)."""
    at = data.index(b"IDAT")
    length = struct.unpack(">I", data[at - 4:at])[0]
    crc_at = at + 4 + length
    return data[:crc_at] + bytes([data[crc_at] ^ 0x01]) + data[crc_at + 1:]


# -- bombs --------------------------------------------------------------------------------

BZIP2_BLOCK_BYTES = 40 * 1024**2  # zeros one bzip2 block holds (900k after its run-length pass)
_BZIP2_END = 0x177245385090


@functools.cache
def _one_bzip2_block() -> bytes:
    return bz2.compress(bytes(BZIP2_BLOCK_BYTES), 9)


def bzip2_bomb(blocks: int) -> bytes:
    """A valid bzip2 stream of ``blocks`` x BZIP2_BLOCK_BYTES zeros, a few KB long.

    One block is compressed once; the stream repeats its bits (blocks are bit-aligned) and
    ends with the end-of-stream marker and the combined CRC of all the blocks.
    """
    one = _one_bzip2_block()
    bits, value = len(one) * 8, int.from_bytes(one, "big")
    for pad in range(8):
        end = bits - 80 - pad  # the end marker (48 bits) and stream CRC (32) precede the pad
        if (value >> (bits - end - 48)) & ((1 << 48) - 1) == _BZIP2_END:
            break
    else:
        raise AssertionError("no bzip2 end-of-stream marker found")
    length = end - 32  # the block, after "BZh9"
    block = (value >> (bits - end)) & ((1 << length) - 1)
    block_crc = (block >> (length - 80)) & 0xFFFFFFFF  # after the 48-bit block magic
    stream, combined = 0, 0
    for _ in range(blocks):
        stream = (stream << length) | block
        combined = (((combined << 1) | (combined >> 31)) & 0xFFFFFFFF) ^ block_crc
    stream = (stream << 80) | (_BZIP2_END << 32) | combined
    total = blocks * length + 80
    stream <<= -total % 8
    return b"BZh9" + stream.to_bytes((total + 7) // 8, "big")


def lying_bzip2_bomb(name: str, blocks: int = 77) -> Entry:
    """A bzip2 member that expands to blocks x 40 MiB (77: 3 GiB) while both headers claim
    its size equals its compressed size."""
    data = bzip2_bomb(blocks)
    return Entry(name, data, zipfile.ZIP_BZIP2, zlib.crc32(bytes(len(data))), len(data))


def repeated_deflate(head: bytes, chunk: bytes, count: int) -> tuple[bytes, int, int]:
    """A raw deflate stream of ``head`` then ``count`` copies of ``chunk``: (data, size, crc).

    ``chunk`` is compressed once after a full flush (no reference to what precedes it), so
    its compressed bytes can be repeated; only the CRC is computed over every copy.
    """
    first = zlib.compressobj(6, zlib.DEFLATED, -zlib.MAX_WBITS)
    start = first.compress(head) + first.flush(zlib.Z_FULL_FLUSH)
    again = zlib.compressobj(6, zlib.DEFLATED, -zlib.MAX_WBITS)
    middle = again.compress(chunk) + again.flush(zlib.Z_FULL_FLUSH)
    end = zlib.compressobj(6, zlib.DEFLATED, -zlib.MAX_WBITS).flush()
    crc = zlib.crc32(head)
    for _ in range(count):
        crc = zlib.crc32(chunk, crc)
    return start + middle * count + end, len(head) + len(chunk) * count, crc


def sparse_noise(size: int, every: int = 128, seed: int = 0) -> bytes:
    """Zeros with one random byte in ``every``: compresses about 50 to 1 with deflate."""
    data = np.zeros(size, np.uint8)
    data[::every] = np.random.default_rng(seed).integers(1, 256, len(data[::every]), np.uint8)
    return data.tobytes()


def padded_png_member(name: str, image: bytes, total: int) -> Entry:
    """An honest deflate member: a small PNG followed by junk up to ``total`` bytes."""
    chunk = sparse_noise(1024 * 1024)
    data, size, crc = repeated_deflate(image, chunk, (total - len(image)) // len(chunk))
    return Entry(name, data, zipfile.ZIP_DEFLATED, crc, size)
