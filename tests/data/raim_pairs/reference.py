"""How tests/data/raim_pairs/reference.json was computed, with pyiqa directly and none of this project's code.

Run once with `.venv/bin/python tests/data/raim_pairs/reference.py WEIGHTS_DIR`. It writes, per image:

- "pyiqa": the organisers' procedure as they ran it (cv2.imread, /255, crop 4, pyiqa.create_metric
  with the protocol's options), on the machine that ran this script;
- "pyiqa_spread": how far those values move when the float32 colour product is summed in the
  other orders other BLAS code paths use (emulated here: reversed, and accumulated in float64);
- "exact": the exact procedure (docs/fidelity.md), written out again here independently: each
  Y plane in integers (ties to even where pyiqa rounds), then pyiqa's own networks on it.

The "exact" values are the same on every machine (to ~1e-12 for PSNR, SSIM and NIQE); LPIPS
and DISTS are float32 networks and move by ~1e-8 between machines.
"""

import json
import sys
from pathlib import Path

import cv2
import numpy as np
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


def raim(v):
    return (
        20 * v["psnr"] / 50
        + 15 * (v["ssim"] - 0.5) / 0.5
        + 20 * (1 - v["lpips"] / 0.4)
        + 40 * (1 - v["dists"] / 0.3)
        + 30 * (1 - v["niqe"] / 10)
    )


def load(path):
    return cv2.imread(str(path), cv2.IMREAD_COLOR)[:, :, ::-1].copy()


def tensor(img):
    return torch.from_numpy(img).permute(2, 0, 1).unsqueeze(0).float() / 255.0


def plain(x, y):
    with torch.no_grad():
        vals = {k: float(m(x, y)) if k != "niqe" else float(m(x)) for k, m in metrics.items()}
    vals["score"] = raim(vals)
    return vals


native_matmul = torch.matmul


def other_order(order):
    def matmul(a, b, *args, **kwargs):
        if a.dtype == torch.float32 and b.shape == (3, 3) and a.shape[-1] == 3:
            if order == "float64":
                return native_matmul(a.double(), b.double()).float()
            return a[..., 0:1] * b[0] + (a[..., 1:2] * b[1] + a[..., 2:3] * b[2])
        return native_matmul(a, b, *args, **kwargs)

    return matmul


def exact(pred, gt):
    """Y planes from integers: YCbCr (65481, 128553, 24966)/255000 + 16, YIQ (299, 587, 114)/1000."""

    def numerator(img, weights, scale, offset):
        c = img.astype(np.int64)
        return offset * scale + weights[0] * c[..., 0] + weights[1] * c[..., 1] + weights[2] * c[..., 2]

    def even(n, scale):
        q, r = np.divmod(n, scale)
        return q + ((r > scale // 2) | ((r == scale // 2) & (q % 2 == 1)))

    def plane(a):
        return torch.from_numpy(a)[None, None]

    ycc = (65481, 128553, 24966), 255000, 16
    yiq = (299, 587, 114), 1000, 0
    np_, ng = numerator(pred, *ycc), numerator(gt, *ycc)
    x, y = tensor(pred), tensor(gt)
    with torch.no_grad():
        vals = {
            "psnr": float(metrics["psnr"].net(plane(np_ / 65025000.0), plane(ng / 65025000.0))),
            "ssim": float(metrics["ssim"].net(plane(even(np_, 255000) / 255.0),
                                              plane(even(ng, 255000) / 255.0))),
            "lpips": float(metrics["lpips"].net(x, y)),
            "dists": float(metrics["dists"].net(x, y)),
            "niqe": float(metrics["niqe"].net(plane(even(numerator(pred, *yiq), 1000) / 255.0))),
        }
    vals["score"] = raim(vals)
    return vals


out = {}
for p in sorted((here / "pred").iterdir()):
    pred = load(p)[4:-4, 4:-4]
    gt = load(next((here / "gt").glob(f"{p.stem}.*")))[4:-4, 4:-4]
    row = {"pyiqa": plain(tensor(pred), tensor(gt))}
    runs = [row["pyiqa"]]
    for order in ("reversed", "float64"):
        torch.matmul = other_order(order)
        runs.append(plain(tensor(pred), tensor(gt)))
        torch.matmul = native_matmul
    row["pyiqa_spread"] = {k: max(r[k] for r in runs) - min(r[k] for r in runs) for k in runs[0]}
    row["exact"] = exact(pred, gt)
    out[p.stem] = row
(here / "reference.json").write_text(json.dumps(out, indent=2) + "\n")
print(json.dumps(out, indent=2))
