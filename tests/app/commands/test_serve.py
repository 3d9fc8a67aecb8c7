"""`raim worker` and `raim serve` refuse to start, with one clear line, when they cannot work."""

from app.cli import main


def test_worker_refuses_to_start_without_a_broker(settings, capsys):
    assert main(["worker"]) == 2
    err = capsys.readouterr().err
    assert "RAIM_BROKER_URL is not set" in err and "raim serve" in err


def test_serve_refuses_to_start_without_weights(settings, tmp_path, monkeypatch, capsys):
    from app.config import get_settings

    monkeypatch.setenv("RAIM_WEIGHTS_DIR", str(tmp_path / "no-weights"))
    get_settings.cache_clear()
    assert main(["serve", "--port", "1"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: missing weight file") and "raim weights install" in err


def test_worker_refuses_to_start_without_weights(settings, tmp_path, monkeypatch, capsys):
    from app.config import get_settings
    from app.jobs.broker import celery_app

    monkeypatch.setenv("RAIM_WEIGHTS_DIR", str(tmp_path / "no-weights"))
    monkeypatch.setenv("RAIM_BROKER_URL", "redis://127.0.0.1:6379/13")
    get_settings.cache_clear()
    celery_app.cache_clear()
    try:
        assert main(["worker"]) == 2
    finally:
        celery_app.cache_clear()
    assert "missing weight file" in capsys.readouterr().err
