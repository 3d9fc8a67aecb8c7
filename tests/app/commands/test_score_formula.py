"""`raim score --formula raim-2026-fusion --stages ...`: Track 2's reading from the command line,
the resized image named in the JSON and the CSV, the stage means in the JSON."""

import csv
import json

import cv2
import numpy as np
import pytest

from app.cli import main


@pytest.fixture
def weights_env(weights_dir, monkeypatch):
    from app.config import get_settings

    monkeypatch.setenv("RAIM_WEIGHTS_DIR", str(weights_dir))
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


def _write(root, rng):
    for stage, stems in (("s1", ["001"]), ("s2", ["001", "002"])):
        for stem in stems:
            gt = rng.integers(0, 256, (48, 48, 3), dtype=np.uint8)
            gt = cv2.GaussianBlur(gt, (5, 5), 0)
            pred = np.clip(gt.astype(int) + rng.integers(-10, 11, gt.shape), 0, 255).astype(np.uint8)
            if (stage, stem) == ("s2", "002"):
                pred = cv2.resize(pred, (40, 36), interpolation=cv2.INTER_AREA)
            for folder, img in (("gt", gt), ("pred", pred)):
                (root / folder / stage).mkdir(parents=True, exist_ok=True)
                cv2.imwrite(str(root / folder / stage / f"{stem}.png"), img)


def test_score_with_the_fusion_formula_and_two_stages(weights_env, tmp_path, capsys):
    _write(tmp_path, np.random.default_rng(5))
    out, table = tmp_path / "r.json", tmp_path / "r.csv"
    code = main(["score", "--pred", str(tmp_path / "pred"), "--gt", str(tmp_path / "gt"),
                 "--formula", "raim-2026-fusion", "--stages", "s1,s2", "--json", str(out),
                 "--csv", str(table), "--device", "cpu", "--quiet"])
    assert code == 0
    err = capsys.readouterr().err
    assert "note: 1 prediction(s) resized (bilinear) to the ground truth's size" in err
    result = json.loads(out.read_text())
    rows = {row["name"]: row for row in result["images"]}
    assert list(rows) == ["s1/001", "s2/001", "s2/002"]
    assert rows["s2/002"]["resized_from"] == "40x36" and "resized_from" not in rows["s1/001"]
    assert set(rows["s1/001"]) == {"name", "psnr", "ssim", "lpips", "score"}
    stage2 = (rows["s2/001"]["score"] + rows["s2/002"]["score"]) / 2
    assert result["stages"]["s2"]["score"] == pytest.approx(stage2)
    assert result["mean"]["score"] == pytest.approx((rows["s1/001"]["score"] + stage2) / 2)
    with table.open() as handle:
        read = list(csv.DictReader(handle))
    assert list(read[0]) == ["name", "psnr", "ssim", "lpips", "score", "resized_from"]
    assert [r["resized_from"] for r in read] == ["", "", "40x36"]


def test_score_under_raim_2024_keeps_its_reading_and_its_minimum_size(weights_env, tmp_path,
                                                                     capsys):
    _write(tmp_path, np.random.default_rng(5))
    code = main(["score", "--pred", str(tmp_path / "pred"), "--gt", str(tmp_path / "gt"),
                 "--formula", "raim-2024", "--stages", "s1,s2", "--quiet"])
    assert code == 2
    err = capsys.readouterr().err
    assert "s1/001.png: 48x48 is smaller than the minimum of 104x104 the metrics need" in err
