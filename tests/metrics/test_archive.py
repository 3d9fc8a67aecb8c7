"""The one zip reader: names in any spelling, members decompressed here under hard caps, every
error a problem naming the member."""

import bz2
import zipfile
import zlib
from pathlib import Path

import pytest

from metrics.archive import (
    CHUNK,
    HEAD_BYTES,
    Cap,
    Limits,
    ZipReader,
    capped,
    spelling_key,
    unsafe_reason,
)
from metrics.problems import InvalidInput
from tests.utils.zips import (
    BZIP2_BLOCK_BYTES,
    SYMLINK,
    Entry,
    bzip2_bomb,
    entry,
    lying_bzip2_bomb,
    write_zip,
)

ROOMY = Limits(member_bytes=2**40, total_bytes=2**40)


def _reader(tmp_path: Path, entries: list[Entry], limits: Limits = ROOMY) -> ZipReader:
    return ZipReader(write_zip(tmp_path / "x.zip", entries), limits, "x.zip")


def _refusal(reader: ZipReader, name: str) -> str:
    with pytest.raises(InvalidInput) as caught:
        reader.read(name)
    [problem] = caught.value.problems
    assert problem.file == name
    return problem.message


def _varied(size: int) -> bytes:
    """Bytes that compress a little, long enough to span several chunks."""
    return bytes((i * 7 + i // 4096) % 251 for i in range(size))


@pytest.mark.parametrize("method", [zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED,
                                    zipfile.ZIP_BZIP2, zipfile.ZIP_LZMA])
def test_zip_reader_reads_every_supported_method_like_zipfile(tmp_path, method):
    plain = {"small.bin": b"abc", "empty.bin": b"", "zeros.bin": bytes(3 * CHUNK + 5),
             "varied.bin": _varied(2 * CHUNK + 77)}
    path = tmp_path / "x.zip"
    with zipfile.ZipFile(path, "w", compression=method) as archive:
        for name, data in plain.items():
            archive.writestr(name, data)
    reader = ZipReader(path, ROOMY)
    assert reader.problems == [] and reader.names() == list(plain)
    for name, data in plain.items():
        assert reader.read(name) == data
        assert all(len(chunk) <= CHUNK for chunk in reader.chunks(name))


@pytest.mark.parametrize("name", [
    "/etc/001.png", "\\001.png", "C:/001.png", "c:001.png", "../001.png", "a/../../001.png",
    "..\\..\\x.png", "a/..\\..\\001.png", "a\\001.png", "a\x00.png", "a\x1b[2J.png", "a\n.png",
    "a/" + "x" * 252 + ".png",
])
def test_zip_reader_refuses_unsafe_names_in_any_spelling(tmp_path, name):
    reader = _reader(tmp_path, [entry("ok.png", b"x"), entry(name, b"x")])
    assert reader.names() == ["ok.png"]
    [problem] = reader.problems
    assert problem.message.startswith("unsafe path inside the zip (")
    assert "\x00" not in problem.file and "\x1b" not in problem.file


def test_unsafe_reason_names_the_rule_broken():
    assert unsafe_reason("..\\..\\x.png") == "'..' leads out of the folder"
    assert unsafe_reason("D:\\x.png") == "a drive letter"
    assert unsafe_reason("/x") == "an absolute path"
    assert unsafe_reason("a\\b.png") == "a backslash in the name (zip paths use '/')"
    assert unsafe_reason("results/./001.png") is None
    assert unsafe_reason("résultats/001.png") is None


def test_zip_reader_ignores_hidden_files_and_mac_debris_only_when_their_name_is_safe(tmp_path):
    reader = _reader(tmp_path, [
        entry("a/001.png", b"x"), entry("a/.DS_Store", b"x"), entry("__MACOSX/a/._001.png", b"x"),
        entry(".hidden/002.png", b"x"), entry("..\\..\\x.png", b"x"), entry("__MACOSX/../y.png", b"x"),
    ])
    assert reader.names() == ["a/001.png"]
    assert sorted(p.file for p in reader.problems) == ["..\\..\\x.png", "__MACOSX/../y.png"]


@pytest.mark.parametrize("first, second", [
    ("a/001.png", "a/001.png"),
    ("a/001.png", "A/001.PNG"),
    ("a/001.png", "./a//001.png"),
    ("caf\u00e9/001.png", "cafe\u0301/001.png"),  # NFC and NFD spellings of one name
    ("STRASSE/001.png", "stra\u00dfe/001.png"),  # case-folded alike
])
def test_zip_reader_refuses_names_that_are_one_once_spelled_alike(tmp_path, first, second):
    reader = _reader(tmp_path, [entry(first, b"1"), entry(second, b"2")])
    assert reader.names() == [first]
    [problem] = reader.problems
    assert problem.file == second
    assert "twice" in problem.message or "spelled alike" in problem.message


def test_spelling_key_reads_backslashes_as_separators():
    assert spelling_key("a\\001.png") == spelling_key("a/001.png") == spelling_key("A/./001.PNG")


def test_zip_reader_refuses_a_backslash_twin_of_a_member(tmp_path):
    reader = _reader(tmp_path, [entry("a/001.png", b"1"), entry("a\\001.png", b"2")])
    assert reader.names() == ["a/001.png"] and reader.problems[0].file == "a\\001.png"


def test_zip_reader_refuses_a_file_that_is_also_a_folder(tmp_path):
    reader = _reader(tmp_path, [entry("a.png", b"1"), entry("A.png/b.png", b"2")])
    assert reader.names() == ["A.png/b.png"]
    assert [(p.file, p.message) for p in reader.problems] == [
        ("a.png", "is both a file and a folder in the zip")]


def test_zip_reader_refuses_symbolic_links(tmp_path):
    link = entry("001.png", b"/etc/passwd", zipfile.ZIP_STORED)
    link.external_attr = SYMLINK
    reader = _reader(tmp_path, [link])
    assert reader.names() == [] and "symbolic link" in reader.problems[0].message


def test_zip_reader_refuses_encrypted_members_naming_them(tmp_path):
    secret = entry("001.png", b"x")
    secret.flags = 0x1
    assert "encrypted" in _refusal(_reader(tmp_path, [secret]), "001.png")


@pytest.mark.parametrize("method, called", [(9, "deflate64 (method 9)"), (93, "zstandard (method 93)"),
                                            (77, "an unknown method (method 77)")])
def test_zip_reader_refuses_unsupported_methods_naming_the_method(tmp_path, method, called):
    member = entry("001.png", b"x" * 100)
    member.method = method
    message = _refusal(_reader(tmp_path, [member]), "001.png")
    assert called in message and "re-zip it with deflate" in message


def test_zip_reader_refuses_a_bad_crc(tmp_path):
    bad = entry("001.png", b"some bytes" * 100, crc=12345)
    assert _refusal(_reader(tmp_path, [bad]), "001.png").startswith("bad CRC-32")


@pytest.mark.parametrize("method", [zipfile.ZIP_DEFLATED, zipfile.ZIP_BZIP2])
def test_zip_reader_refuses_corrupt_compressed_data(tmp_path, method):
    member = entry("001.png", _varied(100_000), method)
    member.data = member.data[:10] + bytes(b ^ 0x5A for b in member.data[10:40]) + member.data[40:]
    assert "re-create the zip" in _refusal(_reader(tmp_path, [member]), "001.png")


def test_zip_reader_refuses_a_member_cut_short(tmp_path):
    member = entry("001.png", _varied(100_000))
    member.data = member.data[: len(member.data) // 2]  # the headers still claim all of it
    assert "re-create the zip" in _refusal(_reader(tmp_path, [member]), "001.png")


def test_zip_reader_refuses_a_member_shorter_than_declared(tmp_path):
    member = entry("001.png", b"x" * 100, file_size=200)
    assert _refusal(_reader(tmp_path, [member]), "001.png").startswith(
        "unpacks to 100 bytes, not the 200 the zip declares")


def test_zip_reader_refuses_a_local_header_that_disagrees_with_the_directory(tmp_path):
    path = write_zip(tmp_path / "x.zip", [entry("001.png", b"x" * 100)])
    data = path.read_bytes()
    path.write_bytes(data[:30] + b"../" + data[33:])  # the local name now starts "../"
    reader = ZipReader(path, ROOMY)
    assert reader.names() == ["001.png"]
    assert "disagree" in _refusal(reader, "001.png")


def test_zip_reader_stops_a_lying_bzip2_bomb_at_its_declared_size(tmp_path):
    bomb = lying_bzip2_bomb("001.png")  # 3 GiB behind headers claiming a few KB
    reader = _reader(tmp_path, [bomb])
    produced = 0
    with pytest.raises(InvalidInput) as caught:
        for chunk in reader.chunks("001.png"):
            produced += len(chunk)
    assert produced <= bomb.file_size
    assert caught.value.problems[0].message.startswith(
        f"unpacks to more than the {bomb.file_size:,} bytes the zip declares for it")


def test_bzip2_bomb_builder_makes_what_it_claims():
    stream = bzip2_bomb(2)
    assert len(stream) < 1000 and bz2.decompress(stream) == bytes(2 * BZIP2_BLOCK_BYTES)


def test_zip_reader_holds_each_member_and_all_of_them_to_their_limits(tmp_path):
    entries = [entry("a.bin", b"a" * 600), entry("b.bin", b"b" * 300)]
    too_big = _reader(tmp_path, entries, Limits(member_bytes=500, total_bytes=10_000))
    assert too_big.problems == []
    assert _refusal(too_big, "a.bin") == "unpacks to 600 bytes; the limit for one file is 500"
    assert too_big.read("b.bin") == b"b" * 300
    too_much = _reader(tmp_path, entries, Limits(member_bytes=1000, total_bytes=800))
    assert [p.message for p in too_much.problems] == ["the zip unpacks to 900 bytes; the limit is 800"]
    read_twice = _reader(tmp_path, entries, Limits(member_bytes=1000, total_bytes=1000))
    read_twice.read("a.bin")
    assert "in all" in _refusal(read_twice, "a.bin") and read_twice.exhausted


def test_zip_reader_counts_entries_before_loading_the_directory(tmp_path):
    reader = _reader(tmp_path, [entry(f"{i}.png", b"x") for i in range(30)],
                     Limits(member_bytes=10, total_bytes=1000, members=20))
    assert reader.names() == []
    assert [(p.file, p.message) for p in reader.problems] == [
        ("x.zip", "the zip holds more than 20 entries, the limit")]


def test_zip_reader_reports_a_file_that_is_no_zip(tmp_path):
    path = write_zip(tmp_path / "x.zip", [entry("001.png", b"x" * 100)])
    data = path.read_bytes()
    path.write_bytes(data.replace(b"PK\x01\x02", b"XX\x01\x02"))  # the directory is damaged
    reader = ZipReader(path, ROOMY, "upload.zip")
    assert reader.problems[0].file == "upload.zip"
    assert reader.problems[0].message.startswith("not a readable zip file")


def test_zip_reader_extract_leaves_nothing_of_a_refused_member(tmp_path):
    reader = _reader(tmp_path, [entry("a.bin", b"x" * 100, crc=1)])
    with pytest.raises(InvalidInput):
        reader.extract("a.bin", tmp_path / "out" / "a.bin")
    assert not (tmp_path / "out" / "a.bin").exists()


def _counted(chunks: list[bytes], pulled: list[int]):
    for chunk in chunks:
        pulled.append(len(chunk))
        yield chunk


def test_capped_asks_the_head_check_once_it_has_the_head_and_stops_past_the_cap():
    seen = []

    def check(head: bytes, complete: bool) -> Cap | None:
        seen.append((len(head), complete))
        return None if len(head) < 2 * HEAD_BYTES else Cap(3 * HEAD_BYTES, "too long")

    pulled: list[int] = []
    chunks = [bytes(HEAD_BYTES // 2)] * 100
    with pytest.raises(InvalidInput) as caught:
        list(capped(_counted(chunks, pulled), "x.png", check))
    assert seen == [(HEAD_BYTES, False), (2 * HEAD_BYTES, False)]
    assert caught.value.problems[0].message == "too long"
    assert sum(pulled) == 3 * HEAD_BYTES + HEAD_BYTES // 2  # stopped at the first chunk past it


def test_capped_decides_on_a_short_member_once_it_is_complete():
    calls = []

    def check(head, complete):
        calls.append(complete)
        return Cap(len(head), "")

    assert b"".join(capped(iter([b"ab", b"cd"]), "x.png", check)) == b"abcd"
    assert calls == [True]


def test_capped_lets_the_head_check_refuse_at_once():
    def check(head, complete):
        raise InvalidInput([])

    pulled: list[int] = []
    with pytest.raises(InvalidInput):
        list(capped(_counted([bytes(HEAD_BYTES)] * 1000, pulled), "x.png", check))
    assert sum(pulled) == HEAD_BYTES


def test_zip_reader_inflates_streams_ending_exactly_on_a_chunk_boundary(tmp_path):
    for size in (CHUNK - 1, CHUNK, CHUNK + 1, 2 * CHUNK):
        packer = zlib.compressobj(9, zlib.DEFLATED, -zlib.MAX_WBITS)
        data = bytes(size)
        member = Entry("z.bin", packer.compress(data) + packer.flush(), zipfile.ZIP_DEFLATED,
                       zlib.crc32(data), size)
        assert _reader(tmp_path, [member]).read("z.bin") == data
