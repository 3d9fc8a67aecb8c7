"""What keeps a score the same on every machine: the numerics version and the torch settings.

``NUMERICS_VERSION`` is stored with every result (``MetricSuite.versions``), so that
scores computed before a change of numerics can be recognised and rescored. Version 1
was pyiqa's own float32 colour conversion; version 2 (``exact-luma-2``) feeds PSNR,
SSIM and NIQE the exact luma planes of ``metrics.luma`` and runs every model under
``scoring_mode``. docs/fidelity.md says what this promises, measured.

On CUDA, PyTorch lets cuDNN convolutions use TF32 by default, and cuDNN may pick a
different algorithm per run. pyiqa's ``InferenceModel.forward`` enters
``torch.backends.cudnn.flags(enabled=True, benchmark=False, deterministic=True)``, whose
``allow_tf32`` argument defaults to True: it turns TF32 convolutions back on inside every
metric call, whatever the process set. So the engine never calls through that wrapper:
it calls each metric's network (``model.net``) inside ``scoring_mode``, which pins TF32
off, deterministic algorithms on and autotuning off for the duration of the call.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

NUMERICS_VERSION = "exact-luma-2"

# How far CUDA may be from the CPU, per metric (bench/gpu_check.py, tests/metrics/test_cuda.py):
# exact luma makes PSNR and SSIM identical in principle (SSIM is computed on the CPU on both
# sides); NIQE runs in float64 on the device; the networks in float32 (cuDNN's kernels sum in
# another order than oneDNN's). Absolute bounds; not yet measured on a GPU (bench/RESULTS.md).
CPU_CUDA_BOUNDS = {"psnr": 1e-9, "ssim": 1e-9, "niqe": 1e-6, "lpips": 1e-4, "dists": 1e-4}


def configure_torch() -> None:
    """Process-wide defaults for a scoring process (idempotent; harmless without CUDA).

    Uses PyTorch's legacy ``allow_tf32`` flags on purpose: mixing them with the newer
    ``fp32_precision`` settings makes pyiqa's own ``cudnn.flags`` context raise.
    """
    import torch

    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    torch.backends.cudnn.deterministic = True
    torch.backends.cudnn.benchmark = False


@contextlib.contextmanager
def scoring_mode() -> Iterator[None]:
    """No gradients, no TF32, deterministic cuDNN algorithms, no autotuning: around every
    metric call (a context, because pyiqa and other libraries change these flags)."""
    import torch

    configure_torch()
    with (
        torch.inference_mode(),
        torch.backends.cudnn.flags(
            enabled=True, benchmark=False, deterministic=True, allow_tf32=False
        ),
    ):
        yield


def torch_flags() -> dict[str, bool]:
    """The settings ``scoring_mode`` pins, as they are now (tests and ``bench/gpu_check.py``)."""
    import torch

    return {
        "cuda.matmul.allow_tf32": torch.backends.cuda.matmul.allow_tf32,
        "cudnn.allow_tf32": torch.backends.cudnn.allow_tf32,
        "cudnn.deterministic": torch.backends.cudnn.deterministic,
        "cudnn.benchmark": torch.backends.cudnn.benchmark,
        "inference_mode": torch.is_inference_mode_enabled(),
    }
