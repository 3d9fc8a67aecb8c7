"""`raim score`: a full table, the JSON contract, CSV, and exit 2 with every problem on bad input."""

import json
import math
import shutil
from pathlib import Path

import pytest

from app.cli import main

DATA = Path(__file__).parents[2] / "data" / "raim_pairs"
METRICS = ("psnr", "ssim", "lpips", "dists", "niqe", "score")


@pytest.fixture
def weights_env(weights_dir, monkeypatch):
    from app.config import get_settings

    monkeypatch.setenv("RAIM_WEIGHTS_DIR", str(weights_dir))
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


@pytest.mark.slow
def test_score_prints_a_table_and_writes_the_json_contract(weights_env, tmp_path, capsys):
    out = tmp_path / "result.json"
    table = tmp_path / "result.csv"
    code = main(
        [
            "score",
            "--pred",
            str(DATA / "pred"),
            "--gt",
            str(DATA / "gt"),
            "--json",
            str(out),
            "--csv",
            str(table),
            "--device",
            "cpu",
            "--quiet",
        ]
    )
    assert code == 0
    printed = capsys.readouterr().out
    assert "mean" in printed and "4 image(s)" in printed
    result = json.loads(out.read_text())
    assert set(result) == {"images", "mean"}
    assert [img["name"] for img in result["images"]] == ["001", "002", "003", "004"]
    for row in [*result["images"], result["mean"]]:
        assert all(isinstance(row[k], float) and math.isfinite(row[k]) for k in METRICS)
    reference = json.loads((DATA / "reference.json").read_text())
    for img in result["images"]:  # the exact procedure's score; networks bound it (docs/fidelity.md)
        assert img["score"] == pytest.approx(reference[img["name"]]["exact"]["score"], abs=2e-4)
    assert table.read_text().splitlines()[0] == "name,psnr,ssim,lpips,dists,niqe,score"


def test_score_exits_2_listing_every_problem(weights_env, tmp_path, capsys):
    pred = tmp_path / "pred"
    shutil.copytree(DATA / "pred", pred)
    (pred / "001.png").unlink()
    (pred / "003.png").write_bytes(b"garbage")
    (pred / "999.png").write_bytes((DATA / "gt" / "001.png").read_bytes())
    code = main(["score", "--pred", str(pred), "--gt", str(DATA / "gt"), "--quiet"])
    assert code == 2
    err = capsys.readouterr().err
    assert "3 problem(s)" in err
    assert "001.png: missing" in err
    assert "003.png: not a decodable image" in err
    assert "999.png: extra file" in err


def test_score_exits_2_naming_a_flat_prediction_and_niqe_before_loading_models(
    weights_env, tmp_path, capsys
):
    import cv2
    import numpy as np

    pred = tmp_path / "pred"
    shutil.copytree(DATA / "pred", pred)
    cv2.imwrite(str(pred / "002.png"), np.full((160, 160, 3), 64, np.uint8))
    code = main(["score", "--pred", str(pred), "--gt", str(DATA / "gt"), "--quiet"])
    assert code == 2
    err = capsys.readouterr().err
    assert "002.png: NIQE is undefined for an image of a single colour" in err
    assert "Traceback" not in err


def test_score_without_weights_says_which_file_and_how_to_fix(tmp_path, monkeypatch, capsys):
    from app.config import get_settings

    monkeypatch.setenv("RAIM_WEIGHTS_DIR", str(tmp_path / "empty"))
    get_settings.cache_clear()
    try:
        code = main(["score", "--pred", str(DATA / "pred"), "--gt", str(DATA / "gt"), "--quiet"])
    finally:
        get_settings.cache_clear()
    assert code == 3
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "missing weight file" in err[0] and "raim weights install" in err[0]


def test_score_names_a_missing_folder_once_and_lists_no_extra_file(tmp_path, capsys):
    assert main(["score", "--pred", str(DATA / "pred"), "--gt", str(tmp_path / "nowhere")]) == 2
    err = capsys.readouterr().err
    assert err.splitlines() == [f"error: --gt {tmp_path / 'nowhere'}: no such folder or .zip file"]
