"""metrics.numerics: every metric call runs with TF32 off, deterministic cuDNN, no autotuning."""

import numpy as np
import pytest

from metrics.numerics import NUMERICS_VERSION, configure_torch, scoring_mode, torch_flags

PINNED = {
    "cuda.matmul.allow_tf32": False,
    "cudnn.allow_tf32": False,
    "cudnn.deterministic": True,
    "cudnn.benchmark": False,
    "inference_mode": True,
}


def test_configure_torch_turns_tf32_off_and_cudnn_deterministic():
    configure_torch()
    flags = torch_flags()
    assert {k: v for k, v in flags.items() if k != "inference_mode"} == {
        k: v for k, v in PINNED.items() if k != "inference_mode"
    }


def test_scoring_mode_pins_the_flags_even_after_someone_changed_them():
    import torch

    torch.backends.cudnn.allow_tf32 = True
    torch.backends.cudnn.benchmark = True
    try:
        with scoring_mode():
            assert torch_flags() == PINNED
    finally:
        configure_torch()


def _flags_seen_by_the_networks(suite, call):
    """The flags in force inside each network's first convolution during ``call``."""
    import torch

    seen = []
    hooks = [
        next(m for m in suite.model(name).net.modules() if isinstance(m, torch.nn.Conv2d))
        .register_forward_pre_hook(lambda *_: seen.append(torch_flags()))
        for name in ("lpips", "dists")
    ]
    try:
        call()
    finally:
        for hook in hooks:
            hook.remove()
    return seen


@pytest.mark.slow
def test_every_network_call_of_the_engine_runs_with_the_pinned_flags(raim_suite):
    image = np.random.default_rng(0).integers(0, 256, (120, 120, 3), dtype=np.uint8)
    seen = _flags_seen_by_the_networks(raim_suite, lambda: raim_suite.score(image, image))
    assert len(seen) >= 2 and all(flags == PINNED for flags in seen)  # both networks, both images


@pytest.mark.slow
def test_pyiqas_own_forward_would_turn_tf32_back_on(raim_suite):
    # Why the engine calls model.net: InferenceModel.forward enters cudnn.flags(...), whose
    # allow_tf32 defaults to True. If pyiqa changes this, the workaround can go.
    from metrics.engine import Prepared

    x = Prepared(np.zeros((64, 64, 3), np.uint8)).tensor()
    seen = _flags_seen_by_the_networks(raim_suite, lambda: raim_suite.model("lpips")(x, x))
    assert seen and seen[0]["cudnn.allow_tf32"] is True


@pytest.mark.slow
def test_results_carry_the_numerics_version_next_to_the_metric_versions(raim_suite):
    versions = raim_suite.versions()
    assert versions["numerics"] == NUMERICS_VERSION
    assert set(versions) == {*raim_suite.names, "numerics"}
