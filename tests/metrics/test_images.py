"""Decoding follows cv2.imread(IMREAD_COLOR); pairing is by stem; every problem is reported at once."""

import io
import zipfile
from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image

from metrics.archive import HEAD_BYTES, capped
from metrics.images import SIDE_FILES, ImageSet, InvalidInput, decode, image_cap, pair_images
from tests.utils.zips import corrupt_idat_crc, entry, padded_png_member, write_zip

CAP = 10_000_000


def _png(array: np.ndarray, mode: str | None = None) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(array, mode=mode).save(buf, format="PNG")
    return buf.getvalue()


def _rgb(h: int = 16, w: int = 16, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (h, w, 3), dtype=np.uint8)


def _folder(root: Path, files: dict[str, bytes]) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    for name, data in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_bytes(data)
    return root


def _pair(tmp_path: Path, pred: dict[str, bytes], gt: dict[str, bytes], **kw):
    return pair_images(
        ImageSet(_folder(tmp_path / "pred", pred), "prediction"),
        ImageSet(_folder(tmp_path / "gt", gt), "ground truth"),
        max_pixels=kw.pop("max_pixels", CAP),
        **kw,
    )


def _problems(excinfo) -> dict[str, str]:
    return {p.file: p.message for p in excinfo.value.problems}


def test_decode_returns_rgb_order_like_opencv_imread():
    rgb = _rgb()
    decoded = decode(_png(rgb))
    assert decoded.dtype == np.uint8 and decoded.shape == (16, 16, 3)
    np.testing.assert_array_equal(decoded, rgb)


def test_decode_replicates_gray_to_three_channels():
    gray = np.arange(256, dtype=np.uint8).reshape(16, 16)
    decoded = decode(_png(gray))
    assert decoded.shape == (16, 16, 3)
    for channel in range(3):
        np.testing.assert_array_equal(decoded[..., channel], gray)


def test_decode_drops_alpha():
    rgba = np.dstack([_rgb(), np.full((16, 16), 7, np.uint8)])
    decoded = decode(_png(rgba))
    np.testing.assert_array_equal(decoded, rgba[..., :3])


def test_decode_reduces_16_bit_like_the_reference(tmp_path):
    deep = np.arange(16 * 16 * 3, dtype=np.uint16).reshape(16, 16, 3) * 85
    path = tmp_path / "deep.png"
    cv2.imwrite(str(path), deep)
    expected = cv2.cvtColor(cv2.imread(str(path), cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)
    np.testing.assert_array_equal(decode(path.read_bytes()), expected)
    np.testing.assert_array_equal(expected, (deep[..., ::-1] >> 8).astype(np.uint8))


def test_pair_images_pairs_jpeg_prediction_with_png_ground_truth(tmp_path):
    ok, jpg = cv2.imencode(".jpg", _rgb())
    inventory = _pair(
        tmp_path,
        {"001.jpg": jpg.tobytes(), "002.png": _png(_rgb())},
        {"001.png": _png(_rgb()), "002.png": _png(_rgb())},
    )
    assert [(p.name, p.pred, p.gt) for p in inventory.pairs] == [
        ("001", "001.jpg", "001.png"),
        ("002", "002.png", "002.png"),
    ]


def test_pair_images_notes_16_bit_predictions(tmp_path):
    path = tmp_path / "deep.png"
    cv2.imwrite(str(path), np.full((16, 16, 3), 40000, np.uint16))
    inventory = _pair(tmp_path, {"001.png": path.read_bytes()}, {"001.png": _png(_rgb())})
    assert inventory.notes and "16-bit" in inventory.notes[0]


def test_pair_images_reports_every_problem_at_once(tmp_path):
    good = _png(_rgb())
    truncated = good[: len(good) // 2]
    with pytest.raises(InvalidInput) as caught:
        _pair(
            tmp_path,
            {
                "001.png": good,
                "002.png": truncated,
                "003.png": b"this is not an image",
                "004.png": _png(_rgb(20, 16)),
                "005.png": good,
                "005.jpg": good,
                "006.png": good,
                "notes.txt": b"hello",
            },
            {n: good for n in ("001.png", "002.png", "003.png", "004.png", "005.png", "007.png")},
        )
    problems = _problems(caught)
    assert problems["002.png"] == "truncated image"
    assert "not a decodable image" in problems["003.png"]
    assert "16x20" in problems["004.png"] and "16x16" in problems["004.png"]
    assert "share the stem '005'" in problems["005.jpg, 005.png"]
    assert "extra file" in problems["006.png"]
    assert "missing" in problems["007.png"]
    assert "not an image file" in problems["notes.txt"]
    assert "001.png" not in problems


def test_pair_images_rejects_images_over_the_pixel_cap(tmp_path):
    with pytest.raises(InvalidInput) as caught:
        _pair(
            tmp_path, {"a.png": _png(_rgb(32, 32))}, {"a.png": _png(_rgb(32, 32))}, max_pixels=1000
        )
    assert "32x32 is over the limit of 1,000 pixels" in _problems(caught)["a.png"]


def test_pair_images_reports_an_empty_prediction(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(InvalidInput) as caught:
        pair_images(ImageSet(tmp_path / "empty", "prediction"), None, max_pixels=CAP)
    assert "no images found" in str(caught.value)


def test_image_set_reads_a_zip_with_one_wrapping_folder_and_ignores_mac_debris(tmp_path):
    archive = tmp_path / "results.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("results/001.png", _png(_rgb()))
        zf.writestr("results/.DS_Store", b"x")
        zf.writestr("__MACOSX/results/._001.png", b"x")
    images = ImageSet(archive, "prediction")
    assert images.names() == ["001.png"]
    assert decode(images.read("001.png")).shape == (16, 16, 3)


def test_image_set_refuses_unsafe_zip_paths(tmp_path):
    archive = tmp_path / "evil.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("../../etc/001.png", _png(_rgb()))
    images = ImageSet(archive, "prediction")
    assert images.names() == []
    assert images.problems[0].message.startswith("unsafe path inside the zip")


def test_image_set_reports_a_missing_path(tmp_path):
    images = ImageSet(tmp_path / "nope", "ground truth")
    assert images.problems[0].message == "ground truth path does not exist"


def test_pair_images_rejects_images_below_the_minimum_side(tmp_path):
    with pytest.raises(InvalidInput) as caught:
        _pair(
            tmp_path, {"a.png": _png(_rgb(64, 200))}, {"a.png": _png(_rgb(64, 200))}, min_side=104
        )
    problems = _problems(caught)
    assert "200x64 is smaller than the minimum of 104x104" in problems["a.png"]


def _single_colour(h=32, w=32, colour=(120, 30, 200)) -> np.ndarray:
    return np.tile(np.array(colour, np.uint8), (h, w, 1))


def test_pair_images_refuses_a_single_colour_prediction_where_niqe_is_scored(tmp_path):
    framed = _single_colour()
    framed[:4] = 0  # a different border is cropped away before scoring: still one colour inside
    pred = {"flat.png": _png(_single_colour()), "framed.png": _png(framed), "ok.png": _png(_rgb(32, 32))}
    gt = {name: _png(_rgb(32, 32, seed=1)) for name in pred}
    with pytest.raises(InvalidInput) as caught:
        _pair(tmp_path, pred, gt, flat_undefined=("niqe",), crop=4)
    problems = _problems(caught)
    assert set(problems) == {"flat.png", "framed.png"}
    assert problems["flat.png"].startswith("NIQE is undefined for an image of a single colour")


def test_pair_images_accepts_single_colour_images_where_no_metric_needs_variation(tmp_path):
    files = {"flat.png": _png(_single_colour())}
    inventory = _pair(tmp_path, files, dict(files))  # unpaired and judged phases: people decide
    assert [p.name for p in inventory.pairs] == ["flat"]


def test_single_colour_check_ignores_alpha_and_sees_gray_and_palette_images(tmp_path):
    rgba = np.dstack([_single_colour(), np.random.default_rng(2).integers(0, 256, (32, 32), np.uint8)])
    gray = np.full((32, 32), 9, np.uint8)
    pred = {"rgba.png": _png(rgba, "RGBA"), "gray.png": _png(gray, "L")}
    buf = io.BytesIO()
    Image.fromarray(_single_colour()).convert("P", palette=Image.Palette.ADAPTIVE).save(buf, format="PNG")
    pred["palette.png"] = buf.getvalue()
    gt = {name: _png(_rgb(32, 32)) for name in pred}
    with pytest.raises(InvalidInput) as caught:
        _pair(tmp_path, pred, gt, flat_undefined=("niqe",), crop=4)
    assert set(_problems(caught)) == {"rgba.png", "gray.png", "palette.png"}


# -- read like an image, decoded as scoring decodes ----------------------------------------


def test_pair_images_refuses_a_png_that_pillow_loads_but_opencv_refuses(tmp_path):
    broken = corrupt_idat_crc(_png(_rgb()))
    Image.open(io.BytesIO(broken)).load()  # Pillow does not check the IDAT CRC
    with pytest.raises(InvalidInput) as caught:
        _pair(tmp_path, {"001.png": broken}, {"001.png": _png(_rgb())})
    assert _problems(caught)["001.png"] == (
        "not a decodable image (corrupt data that OpenCV, which scoring uses, refuses)")


def test_pair_images_reports_a_truncated_jpeg(tmp_path):
    ok, jpg = cv2.imencode(".jpg", _rgb())
    with pytest.raises(InvalidInput) as caught:
        _pair(tmp_path, {"001.jpg": jpg.tobytes()[:-100]}, {"001.png": _png(_rgb())})
    assert _problems(caught)["001.jpg"] == "truncated image"


def test_pair_images_compares_sizes_as_scoring_decodes_them(tmp_path):
    image = Image.fromarray(_rgb(16, 24))
    exif = image.getexif()
    exif[0x0112] = 6  # "rotate 90": OpenCV turns the image, as scoring sees it
    buf = io.BytesIO()
    image.save(buf, format="JPEG", exif=exif)
    with pytest.raises(InvalidInput) as caught:
        _pair(tmp_path, {"001.jpg": buf.getvalue()}, {"001.png": _png(_rgb(16, 24))})
    assert "size 16x24 differs from the ground truth 001.png (24x16)" in _problems(caught)["001.jpg"]


def test_pair_images_notes_16_bit_tiffs(tmp_path):
    path = tmp_path / "deep.tif"
    cv2.imwrite(str(path), np.full((16, 16, 3), 40000, np.uint16))
    inventory = _pair(tmp_path, {"001.tif": path.read_bytes()}, {"001.png": _png(_rgb())})
    assert inventory.notes and "16-bit" in inventory.notes[0]


def test_single_colour_check_sees_what_scoring_sees_of_a_16_bit_image(tmp_path):
    deep = np.full((32, 32, 3), 40000, np.uint16)
    deep[8:24, 8:24] += 7  # differs only below the high byte, which decoding keeps
    path = tmp_path / "deep.png"
    cv2.imwrite(str(path), deep)
    with pytest.raises(InvalidInput) as caught:
        _pair(tmp_path, {"001.png": path.read_bytes()}, {"001.png": _png(_rgb(32, 32))},
              flat_undefined=("niqe",), crop=4)
    assert "single colour" in _problems(caught)["001.png"]


def _pulled(data: bytes, pulled: list[int], size: int = 4096):
    for start in range(0, len(data), size):
        pulled.append(size)
        yield data[start : start + size]


def test_image_cap_refuses_a_file_with_no_image_header_after_its_first_bytes():
    pulled: list[int] = []
    with pytest.raises(InvalidInput) as caught:
        list(capped(_pulled(bytes(10 * 1024**2), pulled), "001.png", image_cap("001.png", CAP)))
    assert _problems(caught)["001.png"].startswith("not a decodable image")
    assert sum(pulled) == HEAD_BYTES


def test_image_cap_cuts_off_a_file_holding_more_than_its_header_allows():
    padded = _png(_rgb()) + bytes(20 * 1024**2)  # a 16x16 image needs a few KB
    pulled: list[int] = []
    with pytest.raises(InvalidInput) as caught:
        list(capped(_pulled(padded, pulled), "001.png", image_cap("001.png", CAP)))
    assert "a 16x16 image can need" in _problems(caught)["001.png"]
    assert sum(pulled) < 5 * 1024**2


def test_image_cap_refuses_an_image_over_the_pixel_cap_from_its_header():
    pulled: list[int] = []
    big = _png(_rgb(300, 400)) + bytes(10 * 1024**2)
    with pytest.raises(InvalidInput) as caught:
        list(capped(_pulled(big, pulled), "001.png", image_cap("001.png", 1000)))
    assert "400x300 is over the limit of 1,000 pixels" in _problems(caught)["001.png"]
    assert sum(pulled) == HEAD_BYTES


def test_image_cap_waits_for_a_tiff_whose_header_is_at_its_end():
    path_bytes = cv2.imencode(".tif", _rgb(200, 200))[1].tobytes()  # libtiff: directory last
    assert len(path_bytes) > HEAD_BYTES
    data = b"".join(capped(_pulled(path_bytes, []), "001.tif", image_cap("001.tif", CAP)))
    assert data == path_bytes


def test_image_set_refuses_a_zip_member_padded_past_its_image(tmp_path):
    archive = write_zip(tmp_path / "x.zip", [padded_png_member("001.png", _png(_rgb()), 64 * 1024**2)])
    images = ImageSet(archive, "prediction", max_pixels=CAP)
    with pytest.raises(InvalidInput) as caught:
        images.read("001.png")
    assert "a 16x16 image can need" in _problems(caught)["001.png"]


def test_image_set_names_read_errors_as_it_names_the_file(tmp_path):
    archive = write_zip(tmp_path / "x.zip", [entry("results/001.png", _png(_rgb()), crc=1)])
    images = ImageSet(archive, "prediction")
    with pytest.raises(InvalidInput) as caught:
        images.read("001.png")
    assert _problems(caught)["001.png"].startswith("bad CRC-32")


def test_pair_images_reports_zip_errors_with_the_other_problems(tmp_path):
    good = _png(_rgb())
    deflate64 = entry("002.png", good)
    deflate64.method = 9
    archive = write_zip(tmp_path / "x.zip", [
        entry("001.png", good, crc=1), deflate64, entry("003.png", good), entry("003.PNG", good),
        entry("..\\..\\004.png", good),
    ])
    gt = _folder(tmp_path / "gt", {f"00{i}.png": good for i in (1, 2, 3)})
    with pytest.raises(InvalidInput) as caught:
        pair_images(ImageSet(archive, "prediction"), ImageSet(gt, "ground truth"), max_pixels=CAP)
    problems = _problems(caught)
    assert problems["001.png"].startswith("bad CRC-32")
    assert "deflate64 (method 9)" in problems["002.png"]
    assert "spelled alike" in problems["003.PNG"]
    assert problems["..\\..\\004.png"].startswith("unsafe path inside the zip")


def test_pair_images_reads_no_file_of_a_set_over_the_image_limit(tmp_path):
    good = _png(_rgb())
    files = {"001.png": good, "002.png": b"broken", "003.png": good}
    with pytest.raises(InvalidInput) as caught:
        _pair(tmp_path, files, dict(files), max_images=2)
    assert [p.message for p in caught.value.problems] == ["3 images is over the limit of 2"]


def test_a_prediction_set_keeps_its_factsheet_aside_not_as_an_image(tmp_path):
    data = _png(_rgb())
    path = tmp_path / "results.zip"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("results/001.png", data)
        archive.writestr("results/factsheet.yaml", "method: x\n")
        archive.writestr("results/notes/factsheet.yaml", "only the top one is set aside\n")
    plain = ImageSet(path, "prediction")
    assert "factsheet.yaml" in plain.names()
    images = ImageSet(path, "prediction", side_files=SIDE_FILES)
    assert images.names() == ["001.png", "notes/factsheet.yaml"]
    assert images.side_names() == ["factsheet.yaml"]
    assert images.read_side("factsheet.yaml", 100) == b"method: x\n"
    assert images.read_side("other.yaml", 100) is None
    with pytest.raises(InvalidInput, match="larger than 4 bytes"):
        images.read_side("factsheet.yaml", 4)
    gt = _folder(tmp_path / "gt", {"001.png": data})
    sub = tmp_path / "sub.zip"
    with zipfile.ZipFile(sub, "w") as archive:
        archive.writestr("001.png", data)
        archive.writestr("factsheet.yaml", "method: x\n")
    checked = pair_images(ImageSet(sub, "prediction", side_files=SIDE_FILES),
                          ImageSet(gt, "ground truth"), max_pixels=10**6)
    assert [p.name for p in checked.pairs] == ["001"]
