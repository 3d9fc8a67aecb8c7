"""How tests/data/raim_pairs/reference.json was computed: the organisers' procedure with pyiqa directly.

Run once with `.venv/bin/python tests/data/raim_pairs/reference.py WEIGHTS_DIR`; it does not use this
project's metrics code, so the pinned values are an independent check of it.
"""

import json
import sys
from pathlib import Path

import cv2
import torch

torch.hub.set_dir(sys.argv[1])
import pyiqa  # noqa: E402  (after set_dir: pyiqa reads the hub dir at import)

here = Path(__file__).parent
w = Path(sys.argv[1]) / "pyiqa"
metrics = {
    "psnr": pyiqa.create_metric("psnr", test_y_channel=True, color_space="ycbcr", device="cpu"),
    "ssim": pyiqa.create_metric("ssim", test_y_channel=True, color_space="ycbcr", device="cpu"),
    "lpips": pyiqa.create_metric(
        "lpips", device="cpu", pretrained_model_path=str(w / "LPIPS_v0.1_alex-df73285e.pth")
    ),
    "dists": pyiqa.create_metric(
        "dists", device="cpu", pretrained_model_path=str(w / "DISTS_weights-f5e65c96.pth")
    ),
    "niqe": pyiqa.create_metric(
        "niqe", device="cpu", pretrained_model_path=str(w / "niqe_modelparameters.mat")
    ),
}


def load(path):
    img = cv2.imread(str(path), cv2.IMREAD_COLOR)[:, :, ::-1].copy()
    return torch.from_numpy(img).permute(2, 0, 1).unsqueeze(0).float() / 255.0


out = {}
preds = sorted((here / "pred").iterdir())
gts = sorted((here / "gt").iterdir())
for p, g in zip(preds, gts, strict=True):
    x, y = load(p)[..., 4:-4, 4:-4], load(g)[..., 4:-4, 4:-4]
    vals = {k: float(m(x, y)) if k != "niqe" else float(m(x)) for k, m in metrics.items()}
    vals["score"] = (
        20 * vals["psnr"] / 50
        + 15 * (vals["ssim"] - 0.5) / 0.5
        + 20 * (1 - vals["lpips"] / 0.4)
        + 40 * (1 - vals["dists"] / 0.3)
        + 30 * (1 - vals["niqe"] / 10)
    )
    out[p.stem] = vals
(here / "reference.json").write_text(json.dumps(out, indent=2) + "\n")
print(json.dumps(out, indent=2))
