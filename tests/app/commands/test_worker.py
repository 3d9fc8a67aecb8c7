"""``raim worker token add|list|revoke`` and a remote worker's configuration checks."""

import pytest

from app import security, worker_tokens
from app.cli import main
from app.config import get_settings
from app.db import ensure_schema, session_scope
from app.jobs.broker import celery_app
from tests.utils.sqlite_race import interloper


def _last_word(text: str) -> str:
    return text.strip().splitlines()[-1].split()[-1]


def test_token_add_prints_the_token_last_and_stores_only_its_hash(db_url, capsys):
    assert main(["worker", "token", "add", "lab-gpu-1"]) == 0
    token = _last_word(capsys.readouterr().out)
    assert security.looks_like_token(token)
    with session_scope() as session:
        row = worker_tokens.find(session, token)
        assert row.name == "lab-gpu-1" and row.token_hash == security.hash_token(token)
        assert row.revoked_at is None


def test_token_commands_take_the_write_lock_before_they_read(settings, capsys):
    """A running service commits all the time. On SQLite a command that read first under a
    plain BEGIN would be refused at its first write; these wait for the lock instead."""
    ensure_schema()
    with interloper(settings.sqlalchemy_url, "worker_tokens") as outcomes:
        assert main(["worker", "token", "add", "gpu-a"]) == 0
        assert main(["worker", "token", "revoke", "gpu-a"]) == 0
    assert outcomes and not any(outcomes), "a write landed inside the command's transaction"
    assert "revoked" in capsys.readouterr().out


def test_token_list_and_revoke_by_name(db_url, capsys):
    main(["worker", "token", "add", "lab-gpu-1"])
    token = _last_word(capsys.readouterr().out)
    assert main(["worker", "token", "list"]) == 0
    listing = capsys.readouterr().out
    assert "lab-gpu-1" in listing and token[:9] in listing and "active" in listing
    assert token not in listing
    assert main(["worker", "token", "revoke", "lab-gpu-1"]) == 0
    assert "revoked" in capsys.readouterr().out
    with session_scope() as session:
        assert worker_tokens.find(session, token).revoked_at is not None
    assert main(["worker", "token", "revoke", "lab-gpu-1"]) == 2  # no active one any more
    assert "no active worker token named 'lab-gpu-1'" in capsys.readouterr().err
    assert main(["worker", "token", "add", "lab-gpu-1"]) == 0  # the name is free again


def test_token_names_are_checked(db_url, capsys):
    assert main(["worker", "token", "add", "lab gpu/1"]) == 2
    assert "use 1 to 64 letters, digits" in capsys.readouterr().err
    main(["worker", "token", "add", "twice"])
    assert main(["worker", "token", "add", "twice"]) == 2
    assert "exists already" in capsys.readouterr().err


@pytest.mark.parametrize("variables, missing", [
    ({"RAIM_SERVICE_URL": "http://127.0.0.1:9"}, "RAIM_WORKER_TOKEN"),
    ({"RAIM_WORKER_TOKEN": "raim_" + "x" * 43}, "RAIM_SERVICE_URL"),
])
def test_a_remote_worker_needs_both_the_service_url_and_the_token(settings, monkeypatch, capsys,
                                                                  variables, missing):
    for name, value in variables.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("RAIM_BROKER_URL", "redis://127.0.0.1:6379/13")
    get_settings.cache_clear()
    celery_app.cache_clear()
    try:
        assert main(["worker"]) == 2
    finally:
        celery_app.cache_clear()
    assert f"{missing} is not set" in capsys.readouterr().err


def test_a_service_url_that_is_not_http_is_refused(settings, monkeypatch, capsys):
    monkeypatch.setenv("RAIM_SERVICE_URL", "127.0.0.1:8000")
    get_settings.cache_clear()
    assert main(["worker"]) == 2
    assert "RAIM_SERVICE_URL: must be the service's http:// or https:// URL" in \
        capsys.readouterr().err


def test_worker_help_names_both_kinds_and_the_token_commands(capsys):
    with pytest.raises(SystemExit):
        main(["worker", "--help"])
    text = capsys.readouterr().out
    assert "RAIM_SERVICE_URL" in text and "RAIM_WORKER_TOKEN" in text and "Shared-disk" in text
    assert "token" in text
