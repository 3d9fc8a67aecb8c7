"""Formula options reach the metrics: RAIM 2026 Track 2 (RGB, no crop, resize, two stages)
gives what pyiqa gives when called directly, the organisers' way."""

from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

from metrics.images import ImageSet, InvalidInput, decode, pair_images
from metrics.pipeline import FastScorer
from metrics.registry import RAIM_METRICS, Measure
from scoring.formula import RAIM_2026_FUSION
from scoring.report import build_report

STAGES = ("stage1", "stage2")
# (stage, stem, prediction size as submitted (w, h), noise level); every ground truth is 64x64.
# Stage 2 has three images, one submitted at 60x52: the stage mean is not the image mean.
IMAGES = [
    ("stage1", "001", (64, 64), 6),
    ("stage1", "002", (64, 64), 10),
    ("stage2", "001", (60, 52), 25),
    ("stage2", "002", (64, 64), 30),
    ("stage2", "003", (64, 64), 40),
]
FUSION = Measure(("psnr", "ssim", "lpips"), color="rgb", crop=0, resize=True)


def _ground_truth(rng: np.random.Generator) -> np.ndarray:
    """A hand-made 64x64 scene: colour gradients, a bright square, a little texture (BGR)."""
    y, x = np.mgrid[0:64, 0:64].astype(np.float64)
    img = np.stack([2 * x + 40, 2 * y + 30, 200 - x - y], axis=-1)
    img[20:40, 24:44] += 50
    img += rng.normal(0, 4, img.shape)
    return np.clip(img, 0, 255).astype(np.uint8)


@pytest.fixture(scope="module")
def stage_sets(tmp_path_factory) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("fusion")
    rng = np.random.default_rng(2026)
    for stage, stem, (w, h), noise in IMAGES:
        gt = _ground_truth(rng)
        pred = np.clip(gt + rng.normal(0, noise, gt.shape), 0, 255).astype(np.uint8)
        pred = cv2.resize(pred, (w, h), interpolation=cv2.INTER_AREA) if (w, h) != (64, 64) else pred
        for folder, img in (("pred", pred), ("gt", gt)):
            (root / folder / stage).mkdir(parents=True, exist_ok=True)
            cv2.imwrite(str(root / folder / stage / f"{stem}.png"), img)
    return root / "pred", root / "gt"


def _organisers_way(pred_dir: Path, gt_dir: Path, weights_dir: Path) -> dict:
    """RAIM 2026 Track 2 computed directly with pyiqa, none of this project's code: cv2.imread,
    a prediction of the wrong size resized bilinear to the ground truth's, /255, no crop,
    pyiqa's RGB PSNR and SSIM and LPIPS, the formula per image, each stage's mean, their mean."""
    torch.hub.set_dir(str(weights_dir))
    import pyiqa

    psnr = pyiqa.create_metric("psnr", device="cpu")
    ssim = pyiqa.create_metric("ssim", test_y_channel=False, device="cpu")
    lpips = pyiqa.create_metric(
        "lpips", device="cpu",
        pretrained_model_path=str(weights_dir / "pyiqa/LPIPS_v0.1_alex-df73285e.pth"))

    def tensor(img: np.ndarray) -> torch.Tensor:
        return torch.from_numpy(img[:, :, ::-1].copy()).permute(2, 0, 1)[None].float() / 255.0

    per_stage: dict[str, list[float]] = {}
    rows = {}
    for stage, stem, _, _ in IMAGES:
        gt = cv2.imread(str(gt_dir / stage / f"{stem}.png"), cv2.IMREAD_COLOR)
        pred = cv2.imread(str(pred_dir / stage / f"{stem}.png"), cv2.IMREAD_COLOR)
        if pred.shape != gt.shape:
            pred = cv2.resize(pred, (gt.shape[1], gt.shape[0]), interpolation=cv2.INTER_LINEAR)
        x, y = tensor(pred), tensor(gt)
        with torch.no_grad():
            v = {"psnr": psnr(x, y).item(), "ssim": ssim(x, y).item(), "lpips": lpips(x, y).item()}
        v["score"] = 30 * v["psnr"] / 50 + 22.5 * (v["ssim"] - 0.5) / 0.5 + 30 * (1 - v["lpips"] / 0.4)
        rows[f"{stage}/{stem}"] = v
        per_stage.setdefault(stage, []).append(v["score"])
    stage_means = {s: float(np.mean(scores)) for s, scores in per_stage.items()}
    return {"images": rows, "stages": stage_means, "score": float(np.mean(list(stage_means.values())))}


@pytest.fixture(scope="module")
def scorer(raim_suite):
    return FastScorer(raim_suite.weights_dir, suite=raim_suite, reuse_memory=False)


def _ours(scorer: FastScorer, pred_dir: Path, gt_dir: Path):
    pred_set, gt_set = ImageSet(pred_dir, "prediction"), ImageSet(gt_dir, "ground truth")
    checked = pair_images(pred_set, gt_set, max_pixels=10**6, min_side=FUSION.min_side,
                          crop=FUSION.crop, stages=STAGES, resize=True)
    sources = [(p.name, lambda n=p.pred: decode(pred_set.read(n), n),
                lambda n=p.gt: decode(gt_set.read(n), n)) for p in checked.pairs]
    resized = {p.name: p.resized_from for p in checked.pairs if p.resized_from}
    report = build_report(scorer.score_pairs(sources, FUSION),
                          RAIM_2026_FUSION.with_stages(STAGES), resized)
    return checked, report


def test_raim_2026_track2_score_resize_and_two_stage_mean_match_pyiqa(scorer, stage_sets,
                                                                     weights_dir):
    checked, report = _ours(scorer, *stage_sets)
    expected = _organisers_way(*stage_sets, weights_dir)

    assert [row["name"] for row in report.images] == list(expected["images"])
    for row in report.images:
        want = expected["images"][row["name"]]
        for key in ("psnr", "ssim", "lpips", "score"):
            assert row[key] == pytest.approx(want[key], rel=1e-3), (row["name"], key)
    for stage, mean in report.stage_means.items():
        assert mean["score"] == pytest.approx(expected["stages"][stage], rel=1e-3)
    assert report.mean["score"] == pytest.approx(expected["score"], rel=1e-3)
    # The mean of the two stages, not of the five images (stage 2 has more, worse images).
    image_mean = np.mean([row["score"] for row in report.images])
    assert abs(report.mean["score"] - image_mean) > 1.0

    # The resized image is named: in its row, and in a note that the submission carries.
    assert [r["name"] for r in report.images if "resized_from" in r] == ["stage2/001"]
    assert report.images[2]["resized_from"] == "60x52"
    assert any("1 prediction(s) resized (bilinear)" in n and "stage2/001.png (60x52)" in n
               for n in checked.notes)
    assert report.to_json()["stages"]["stage2"]["images"] == 3


def test_the_fusion_reading_computes_only_its_metrics_with_rgb_psnr_and_ssim(scorer):
    versions = scorer.versions_for(FUSION)
    assert set(versions) == {"psnr", "ssim", "lpips", "numerics"}
    assert "test_y_channel=False" in versions["psnr"]
    assert "test_y_channel=False" in versions["ssim"]
    # The RAIM 2024 reading is untouched: its five metrics, its versions.
    assert scorer.versions_for(Measure()) == scorer.versions()
    assert Measure().reference and not FUSION.reference
    assert Measure().specs == RAIM_METRICS


def test_reject_is_the_default_a_wrong_size_is_refused_naming_both_sizes(stage_sets):
    pred_dir, gt_dir = stage_sets
    with pytest.raises(InvalidInput) as caught:
        pair_images(ImageSet(pred_dir, "prediction"), ImageSet(gt_dir, "ground truth"),
                    max_pixels=10**6, stages=STAGES)
    assert [(p.file, p.message) for p in caught.value.problems] == [
        ("stage2/001.png", "size 60x52 differs from the ground truth stage2/001.png (64x64)")]


def test_stages_pair_within_their_folders_and_refuse_files_outside_them(stage_sets, tmp_path):
    pred_dir, gt_dir = stage_sets
    checked = pair_images(ImageSet(pred_dir, "prediction"), ImageSet(gt_dir, "ground truth"),
                          max_pixels=10**6, stages=STAGES, resize=True)
    assert [(p.name, p.pred) for p in checked.pairs][:3] == [
        ("stage1/001", "stage1/001.png"), ("stage1/002", "stage1/002.png"),
        ("stage2/001", "stage2/001.png")]
    loose = tmp_path / "loose"
    (loose / "stage1").mkdir(parents=True)
    cv2.imwrite(str(loose / "004.png"), np.zeros((64, 64, 3), np.uint8))
    with pytest.raises(InvalidInput) as caught:
        pair_images(ImageSet(loose, "prediction"), ImageSet(gt_dir, "ground truth"),
                    max_pixels=10**6, stages=STAGES, resize=True)
    assert ("004.png", "outside the stage folders of the prediction (each image lies in one "
                       "of: stage1, stage2)") in [(p.file, p.message) for p in caught.value.problems]


def test_the_scorer_resizes_only_when_asked(scorer):
    gt = np.full((64, 64, 3), 100, np.uint8)
    gt[10:30, 10:30] = 200
    small = cv2.resize(gt, (48, 40), interpolation=cv2.INTER_LINEAR)
    values = dict(scorer.score_pairs([("x", lambda: small, lambda: gt)], FUSION))["x"]
    assert values["psnr"] > 20
    strict = Measure(("psnr", "ssim", "lpips"), color="rgb", crop=0)
    with pytest.raises(ValueError, match="x: prediction 48x40 and ground truth 64x64 differ"):
        list(scorer.score_pairs([("x", lambda: small, lambda: gt)], strict))
