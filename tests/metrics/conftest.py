"""Metric suites shared by the metric tests: each loads its pyiqa models once per session."""

import pytest

from metrics.engine import MetricSuite
from metrics.registry import DISTS, LPIPS, NIQE, PSNR, SSIM


@pytest.fixture(scope="session")
def raim_suite(weights_dir):
    """The five metrics with the RAIM reference options and 4-pixel crop."""
    return MetricSuite(weights_dir, device="cpu")


@pytest.fixture(scope="session")
def default_options_suite(weights_dir):
    """pyiqa's default options, no crop: what pyiqa's published calibration values used."""
    specs = [PSNR.with_options(), SSIM.with_options(), LPIPS, DISTS, NIQE]
    return MetricSuite(weights_dir, device="cpu", specs=specs, crop=0)
