"""Receives a multipart upload straight to a file on disk, chunk by chunk, hashing as it goes.

The body is parsed as it arrives (python-multipart's streaming parser), so an upload of
any size never sits in memory and one over the cap is refused as soon as it crosses it.
"""

from __future__ import annotations

import hashlib
import os
import secrets
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from http import HTTPStatus
from pathlib import Path
from typing import BinaryIO

from python_multipart.multipart import MultipartParser, parse_options_header

from app.errors import ApiError
from metrics.images import Problem

FILE_FIELD = "file"
MAX_FIELD_BYTES = 64 * 1024


@dataclass
class ReceivedFile:
    """An uploaded file written to ``path`` (a temporary name until accepted)."""

    path: Path
    filename: str
    size: int = 0
    sha256: str = ""

    def discard(self) -> None:
        self.path.unlink(missing_ok=True)


@dataclass
class ReceivedForm:
    fields: dict[str, str] = field(default_factory=dict)
    file: ReceivedFile | None = None


class _Receiver:
    """python-multipart callbacks: headers per part, data to a file or a small field."""

    def __init__(self, directory: Path, max_bytes: int):
        self.directory, self.max_bytes = directory, max_bytes
        self.form = ReceivedForm()
        self._header_field = b""
        self._header_value = b""
        self._headers: dict[bytes, bytes] = {}
        self._name: str | None = None
        self._value = bytearray()
        self._out: BinaryIO | None = None
        self._hash = hashlib.sha256()
        self.complete = False  # the closing boundary was seen

    def callbacks(self) -> dict:
        return {
            "on_part_begin": self._part_begin,
            "on_header_field": lambda d, s, e: self._add("_header_field", d[s:e]),
            "on_header_value": lambda d, s, e: self._add("_header_value", d[s:e]),
            "on_header_end": self._header_end,
            "on_headers_finished": self._headers_finished,
            "on_part_data": self._part_data,
            "on_part_end": self._part_end,
            "on_end": self._end,
        }

    def _add(self, attr: str, data: bytes) -> None:
        setattr(self, attr, getattr(self, attr) + data)

    def _part_begin(self) -> None:
        self._headers, self._name, self._value = {}, None, bytearray()

    def _header_end(self) -> None:
        self._headers[self._header_field.strip().lower()] = self._header_value.strip()
        self._header_field, self._header_value = b"", b""

    def _headers_finished(self) -> None:
        _, options = parse_options_header(self._headers.get(b"content-disposition", b""))
        self._name = options.get(b"name", b"").decode("utf-8", "replace")
        if self._name != FILE_FIELD:
            return
        if self.form.file is not None:
            raise ApiError(HTTPStatus.BAD_REQUEST, "send one file per submission ('file' field)")
        raw_name = options.get(b"filename", b"upload.zip").decode("utf-8", "replace")
        filename = os.path.basename(raw_name.replace("\\", "/"))
        path = self.directory / f"{secrets.token_hex(16)}.part"
        self.form.file = ReceivedFile(path, filename or "upload.zip")
        self._out = path.open("wb")

    def _part_data(self, data: bytes, start: int, end: int) -> None:
        chunk = data[start:end]
        if self._out is None:
            if len(self._value) + len(chunk) > MAX_FIELD_BYTES:
                raise ApiError(HTTPStatus.BAD_REQUEST, f"form field {self._name!r} is too long")
            self._value += chunk
            return
        upload = self.form.file
        if upload is None:  # never: the file and its stream are set together
            return
        upload.size += len(chunk)
        if upload.size > self.max_bytes:
            raise ApiError(HTTPStatus.REQUEST_ENTITY_TOO_LARGE,
                           f"the upload is over the limit of {self.max_bytes:,} bytes",
                           [Problem(upload.filename, f"over {self.max_bytes:,} bytes")])
        self._hash.update(chunk)
        self._out.write(chunk)

    def _part_end(self) -> None:
        if self._out is not None:
            self._out.close()
            self._out = None
            if self.form.file is not None:
                self.form.file.sha256 = self._hash.hexdigest()
        elif self._name:
            self.form.fields[self._name] = self._value.decode("utf-8", "replace")

    def _end(self) -> None:
        self.complete = True

    def abort(self) -> None:
        """Close and remove the partial file, whatever state the disk is in."""
        if self._out is not None:
            out, self._out = self._out, None
            try:
                out.close()
            except OSError:  # flushing a full disk fails again: the file goes anyway
                pass
        if self.form.file is not None:
            self.form.file.discard()


def _boundary(content_type: str) -> bytes:
    kind, options = parse_options_header(content_type)
    if kind != b"multipart/form-data" or b"boundary" not in options:
        raise ApiError(HTTPStatus.BAD_REQUEST,
                       "send the upload as multipart/form-data with the zip in the 'file' field")
    return options[b"boundary"]


async def receive_form(content_type: str, chunks: AsyncIterator[bytes], directory: Path,
                       *, max_bytes: int) -> ReceivedForm:
    """Parse a multipart body into small fields and one file under ``directory``.

    Raises ApiError (and leaves no file behind) on a malformed body, a missing file or an
    upload over ``max_bytes``. An OSError writing the file (a full disk) is the server's, not
    the upload's: it is raised as it is (app.main answers 507), the partial file removed.
    """
    directory.mkdir(parents=True, exist_ok=True)
    receiver = _Receiver(directory, max_bytes)
    parser = MultipartParser(_boundary(content_type), receiver.callbacks())
    try:
        async for chunk in chunks:
            parser.write(chunk)
        parser.finalize()
    except (ApiError, OSError):
        receiver.abort()
        raise
    except Exception as exc:  # the parser's errors, or the client going away mid-upload
        receiver.abort()
        raise ApiError(HTTPStatus.BAD_REQUEST, f"the upload could not be read ({exc})") from exc
    except BaseException:  # cancelled: the server shut down mid-upload; no partial file left
        receiver.abort()
        raise
    if not receiver.complete:
        receiver.abort()
        raise ApiError(HTTPStatus.BAD_REQUEST,
                       "the upload stopped before its end (connection lost?); nothing was stored")
    if receiver.form.file is None or receiver.form.file.size == 0:
        receiver.abort()
        raise ApiError(HTTPStatus.BAD_REQUEST, "no file received: send the zip in the 'file' field")
    return receiver.form
