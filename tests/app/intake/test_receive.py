"""Streaming multipart reception: chunked writes, hashing, the size cap, malformed bodies."""

import asyncio
import hashlib
import os

import httpx
import pytest

from app.errors import ApiError
from app.intake.receive import receive_form


def encode(files: dict, data: dict | None = None) -> tuple[str, bytes]:
    """A real multipart body, as httpx (and curl -F) would send it."""
    request = httpx.Request("POST", "http://x/score", files=files, data=data or {})
    return request.headers["content-type"], request.read()


def receive(content_type: str, body: bytes, directory, *, max_bytes: int = 10**9,
            chunk: int = 7):
    async def chunks():
        for start in range(0, len(body), chunk):
            yield body[start:start + chunk]

    return asyncio.run(receive_form(content_type, chunks(), directory, max_bytes=max_bytes))


def test_receive_form_writes_the_file_and_hashes_it_across_chunk_boundaries(tmp_path):
    payload = os.urandom(5000)
    content_type, body = encode({"file": ("results.zip", payload)}, {"phase": "validation"})
    form = receive(content_type, body, tmp_path)
    assert form.fields == {"phase": "validation"}
    assert form.file.filename == "results.zip" and form.file.size == 5000
    assert form.file.path.read_bytes() == payload
    assert form.file.sha256 == hashlib.sha256(payload).hexdigest()


def test_receive_form_over_the_cap_is_413_and_leaves_nothing(tmp_path):
    content_type, body = encode({"file": ("big.zip", b"x" * 1000)})
    with pytest.raises(ApiError) as caught:
        receive(content_type, body, tmp_path, max_bytes=999)
    assert caught.value.status == 413
    assert caught.value.problems[0].file == "big.zip"
    assert list(tmp_path.iterdir()) == []


def test_receive_form_without_a_file_is_400(tmp_path):
    content_type, body = encode({"other": ("a.zip", b"data")})
    with pytest.raises(ApiError, match="no file received") as caught:
        receive(content_type, body, tmp_path)
    assert caught.value.status == 400


def test_receive_form_refuses_a_body_that_is_not_multipart(tmp_path):
    with pytest.raises(ApiError, match="multipart/form-data"):
        receive("application/zip", b"PK...", tmp_path)


def test_receive_form_keeps_only_the_base_name_of_the_file(tmp_path):
    content_type, body = encode({"file": ("../../etc/passwd.zip", b"data")})
    form = receive(content_type, body, tmp_path)
    assert form.file.filename == "passwd.zip" and form.file.path.parent == tmp_path


def test_receive_form_truncated_body_is_400_and_leaves_nothing(tmp_path):
    content_type, body = encode({"file": ("r.zip", b"y" * 500)})
    with pytest.raises(ApiError) as caught:
        receive(content_type, body[:300], tmp_path)
    assert caught.value.status == 400
    assert list(tmp_path.iterdir()) == []
