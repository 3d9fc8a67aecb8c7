"""`raim` itself: settings are checked before any command runs, one line per bad variable."""

import pytest

from app.cli import main
from app.config import get_settings


@pytest.mark.parametrize("command", [["db", "status"], ["status", "1"], ["weights", "verify"]])
def test_an_invalid_setting_is_one_line_and_exit_2_not_a_traceback(command, settings, monkeypatch,
                                                                    capsys):
    monkeypatch.setenv("RAIM_DEVICE", "gpu")
    get_settings.cache_clear()
    assert main(command) == 2
    captured = capsys.readouterr()
    assert captured.err.splitlines() == [
        "error: RAIM_DEVICE: must be auto, cpu, cuda or cuda:N, not 'gpu'"]
    assert "Traceback" not in captured.out + captured.err
