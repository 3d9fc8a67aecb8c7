"""Sign-in, sessions, secrets, logs, headers and shutdown under attack (issue 10, items 8 to 10).

Each test is a case the security campaign found open: throttled sign-in, the same argon2 cost
for unknown users, server-side sign-out and password change, tokens kept out of the access
log, security headers on every answer, the secret key file and its length, invalid settings,
and a shutdown that a stalled upload cannot hold open.
"""

from __future__ import annotations

import logging
import os
import secrets
import signal
import socket
import stat
import subprocess
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient

from app import security
from app.accounts import create_token, create_user
from app.cli import main
from app.config import MIN_SECRET_LENGTH, Settings, SettingsError, get_settings
from app.db import ensure_schema, session_scope
from tests.utils.pages import HTML, PASSWORD, make_user, post_form, sign_in
from tests.utils.processes import RAIM, free_port, service_env, start_serve, wait_until

ATTACKER = ("203.0.113.7", 40000)
NEIGHBOUR = ("198.51.100.9", 40000)


@pytest.fixture
def app(settings: Settings) -> Iterator:
    from app import db
    from app.main import create_app

    ensure_schema()
    yield create_app(background=False)
    db.dispose_engines()


def client_at(app, address: tuple[str, int] = ("testclient", 50000)) -> TestClient:
    """A browser at ``address``; clients of one app share its sign-in throttle."""
    return TestClient(app, client=address)


@pytest.fixture
def client(app) -> Iterator[TestClient]:
    with client_at(app) as browser:
        yield browser


def judge_token(email: str = "judge@example.org") -> str:
    with session_scope(immediate=True) as session:
        user = create_user(session, email, name="Judge")
        user.is_judge = True
        return create_token(session, user, name="judge sign-in")[1]


# --- throttling -------------------------------------------------------------------------------

def test_sign_in_throttled_after_failures_refuses_even_the_right_password(app):
    make_user("ann@example.org")
    with client_at(app, ATTACKER) as attacker:
        answers = [post_form(attacker, "/sign-in", {"email": "ann@example.org",
                                                    "password": f"guess-{n:04d}"})
                   for n in range(40)]
        right = post_form(attacker, "/sign-in", {"email": "ann@example.org", "password": PASSWORD})
    codes = [answer.status_code for answer in answers]
    assert codes[:10] == [400] * 10 and set(codes[10:]) == {429}
    assert right.status_code == 429
    assert 1 <= int(right.headers["retry-after"]) <= 15 * 60
    assert "Too many failed sign-ins for this account" in right.text
    # Throttled per account, from any address; other accounts from the same address sign in.
    make_user("bob@example.org")
    with client_at(app, ATTACKER) as same_address, client_at(app, NEIGHBOUR) as elsewhere:
        assert sign_in(same_address, "bob@example.org").status_code == 303
        again = post_form(elsewhere, "/sign-in", {"email": "ann@example.org",
                                                  "password": PASSWORD})
        assert again.status_code == 429


def test_sign_in_throttled_per_address_across_accounts(app):
    make_user("ann@example.org")
    with client_at(app, ATTACKER) as attacker:
        for n in range(30):  # password spraying: one guess for each of 30 addresses
            assert post_form(attacker, "/sign-in", {"email": f"user{n}@example.org",
                                                    "password": "Winter2024!"}).status_code == 400
        refused = post_form(attacker, "/sign-in", {"email": "ann@example.org",
                                                   "password": PASSWORD})
    assert refused.status_code == 429 and "from your address" in refused.text
    assert int(refused.headers["retry-after"]) >= 1
    with client_at(app, NEIGHBOUR) as neighbour:
        assert sign_in(neighbour, "ann@example.org").status_code == 303


def test_sign_in_success_clears_the_account_failures(app):
    make_user("ann@example.org")
    with client_at(app, ATTACKER) as browser:
        for _ in range(2):
            for n in range(9):
                assert post_form(browser, "/sign-in", {"email": "ann@example.org",
                                                       "password": f"wrong-{n}"}).status_code == 400
            assert sign_in(browser, "ann@example.org").status_code == 303
            post_form(browser, "/sign-out")


def test_judge_link_guessing_is_throttled_per_address(app):
    token = judge_token()
    with client_at(app, ATTACKER) as attacker:
        guesses = [attacker.get(f"/judge/sign-in/{security.new_token()}", headers=HTML,
                                follow_redirects=False) for _ in range(30)]
        assert {guess.status_code for guess in guesses} == {404}
        refused = attacker.get(f"/judge/sign-in/{token}", headers=HTML, follow_redirects=False)
    assert refused.status_code == 429 and int(refused.headers["retry-after"]) >= 1
    assert "Too many failed sign-ins" in refused.text
    with client_at(app, NEIGHBOUR) as judge:
        answer = judge.get(f"/judge/sign-in/{token}", follow_redirects=False)
        assert answer.status_code == 303 and answer.headers["location"] == "/judge"


# --- the same cost for unknown users ----------------------------------------------------------

def test_sign_in_unknown_email_performs_one_verification_like_a_known_one(client, monkeypatch):
    make_user("ann@example.org")
    calls: list[str] = []
    real_verify = type(security._hasher).verify

    def counting(hasher, password_hash, password):  # type: ignore[no-untyped-def]
        calls.append(password_hash)
        return real_verify(hasher, password_hash, password)

    monkeypatch.setattr(type(security._hasher), "verify", counting)
    for email in ("ann@example.org", "nobody@example.org", "not an address"):
        calls.clear()
        answer = post_form(client, "/sign-in", {"email": email, "password": "wrong password"})
        assert answer.status_code == 400
        assert len(calls) == 1 and calls[0].startswith("$argon2id$"), email
    # The dummy hash has the parameters of real ones, so it costs the same.
    assert not security.password_needs_rehash(calls[0])


# --- server-side sessions ---------------------------------------------------------------------

def test_sign_out_makes_a_copied_cookie_worthless(app, client):
    make_user("ann@example.org")
    sign_in(client, "ann@example.org")
    copied = client.cookies.get("raim_session")
    assert client.get("/account", headers=HTML).status_code == 200
    assert post_form(client, "/sign-out").status_code == 303
    with client_at(app, NEIGHBOUR) as thief:
        thief.cookies.set("raim_session", copied)
        answer = thief.get("/account", headers=HTML, follow_redirects=False)
    assert answer.status_code == 303 and answer.headers["location"].startswith("/sign-in")


def test_password_change_signs_out_the_other_sessions_only(app):
    make_user("ann@example.org")
    with client_at(app) as laptop, client_at(app, NEIGHBOUR) as phone:
        sign_in(laptop, "ann@example.org")
        sign_in(phone, "ann@example.org")
        changed = post_form(laptop, "/account/password", {
            "current": PASSWORD, "new": "a brand new secret", "repeat": "a brand new secret"})
        assert changed.status_code == 303
        page = laptop.get("/account", headers=HTML)
        assert page.status_code == 200 and "1 other session signed out" in page.text
        assert phone.get("/account", headers=HTML, follow_redirects=False).status_code == 303
    with client_at(app, NEIGHBOUR) as fresh:
        assert sign_in(fresh, "ann@example.org", "a brand new secret").status_code == 303


def test_password_change_with_a_wrong_current_password_changes_nothing(app):
    make_user("ann@example.org")
    with client_at(app) as laptop, client_at(app, NEIGHBOUR) as phone:
        sign_in(laptop, "ann@example.org")
        sign_in(phone, "ann@example.org")
        refused = post_form(laptop, "/account/password", {
            "current": "not my password", "new": "a brand new secret",
            "repeat": "a brand new secret"})
        assert refused.status_code == 400 and "current password is wrong" in refused.text
        assert phone.get("/account", headers=HTML).status_code == 200
    with client_at(app, ATTACKER) as other:
        assert sign_in(other, "ann@example.org").status_code == 303


def test_judge_link_sign_in_starts_a_server_side_session(app, client):
    from sqlalchemy import func, select

    from app.models import BrowserSession

    token = judge_token()
    assert client.get(f"/judge/sign-in/{token}", follow_redirects=False).status_code == 303
    with session_scope() as session:
        assert session.scalar(select(func.count(BrowserSession.id))) == 1
    assert client.get("/judge", headers=HTML).status_code == 200
    post_form(client, "/sign-out")
    assert client.get("/judge", headers=HTML, follow_redirects=False).status_code == 303


# --- tokens kept out of the logs --------------------------------------------------------------

def test_access_log_of_raim_serve_redacts_judge_link_tokens(settings, tmp_path, weights_dir):
    token = security.new_token()
    port = free_port()
    log = tmp_path / "serve.log"
    server = start_serve(port, service_env(RAIM_DEVICE="cpu"), log)
    try:
        answer = httpx.get(f"http://127.0.0.1:{port}/judge/sign-in/{token}", timeout=30)
        assert answer.status_code == 404
        wait_until(lambda: "/judge/sign-in/" in log.read_text(errors="replace"),
                   "the access log line", server, log, limit=30)
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=60)
    text = log.read_text(errors="replace")
    assert token not in text and token[5:] not in text
    assert f"GET /judge/sign-in/{token[:9]}[redacted]" in text


def test_app_log_records_redact_tokens_in_messages_arguments_and_tracebacks(caplog):
    from app.logs import redact_tokens_in_logs

    redact_tokens_in_logs()
    token = security.new_token()
    logger = logging.getLogger("app.some.module")
    with caplog.at_level(logging.INFO, logger="app"):
        logger.info("link for %s: /judge/sign-in/%s", "Ann", token)
        logger.info(f"inline {token}")
        try:
            raise ValueError(f"bad token {token}")
        except ValueError:
            logger.exception("failed")
    text = "\n".join(record.getMessage() for record in caplog.records) + caplog.text
    assert token not in text and token[:9] + "[redacted]" in text


# --- security headers -------------------------------------------------------------------------

def _assert_security_headers(answer: httpx.Response) -> None:
    csp = answer.headers["content-security-policy"]
    for directive in ("default-src 'self'", "frame-ancestors 'none'", "object-src 'none'",
                      "base-uri 'self'", "form-action 'self'", "img-src 'self' data: blob:",
                      "style-src 'self'", "script-src 'self'"):
        assert directive in csp
    assert "unsafe-inline" not in csp
    assert answer.headers["x-frame-options"] == "DENY"
    assert answer.headers["x-content-type-options"] == "nosniff"
    assert answer.headers["referrer-policy"] == "same-origin"
    assert "strict-transport-security" not in answer.headers


def test_security_headers_on_pages_api_static_files_and_errors(app, client):
    @app.get("/boom")
    def boom() -> None:
        raise RuntimeError("unhandled")

    _assert_security_headers(client.get("/", headers=HTML))
    _assert_security_headers(client.get("/api/challenges/x/phases/y/leaderboard"))
    _assert_security_headers(client.get("/static/raim.css"))
    missing = client.get("/no/such/page")
    assert missing.status_code == 404
    _assert_security_headers(missing)
    failed = TestClient(app, raise_server_exceptions=False).get("/boom")
    assert failed.status_code == 500
    _assert_security_headers(failed)


def test_strict_transport_security_only_over_https(settings, monkeypatch):
    from app.main import create_app

    monkeypatch.setenv("RAIM_COOKIE_SECURE", "true")
    get_settings.cache_clear()
    with TestClient(create_app(background=False), base_url="https://testserver") as secure:
        answer = secure.get("/", headers=HTML)
    assert answer.headers["strict-transport-security"].startswith("max-age=")


def test_pages_need_nothing_inline_under_the_content_security_policy():
    import re

    from app.web.svg import mos_plot, score_plot, spread_plot

    templates = Path(__file__).resolve().parents[2] / "templates"
    for page in templates.rglob("*.html"):
        text = page.read_text()
        assert not re.search(r"\sstyle=|<style", text), page
        assert not re.search(r"<script(?![^>]*\ssrc=)|\son[a-z]+=", text), page
    plots = [score_plot([("001", 30.0)], 30.0),
             mos_plot([{"team": "a", "score": 3.0, "low": 2.5, "high": 3.5}]),
             spread_plot(["a"], [{"team": "a", "image": "001", "score": 3.0}])]
    for plot in plots:
        assert "style" not in str(plot) and "<svg" in str(plot)


def test_judging_images_keep_their_own_referrer_policy():
    from app.web.headers import SecurityHeaders

    sent: list[dict] = []

    async def image(scope, receive, send):  # type: ignore[no-untyped-def]
        await send({"type": "http.response.start", "status": 200,
                    "headers": [(b"referrer-policy", b"no-referrer")]})
        await send({"type": "http.response.body", "body": b""})

    async def collect(message):  # type: ignore[no-untyped-def]
        sent.append(message)

    import asyncio

    asyncio.run(SecurityHeaders(image)({"type": "http"}, None, collect))
    headers = dict(sent[0]["headers"])
    assert headers[b"referrer-policy"] == b"no-referrer"
    assert headers[b"x-frame-options"] == b"DENY"


# --- the secret key ---------------------------------------------------------------------------

def test_secret_file_is_owner_only_from_its_first_byte(settings, monkeypatch):
    modes: list[int] = []
    real_write = os.write

    def watching(descriptor: int, data: bytes) -> int:
        modes.append(stat.S_IMODE(os.fstat(descriptor).st_mode))
        return real_write(descriptor, data)

    monkeypatch.delenv("RAIM_SECRET_KEY")
    get_settings.cache_clear()
    previous = os.umask(0)  # the most permissive umask: nothing but the open mode protects it
    try:
        monkeypatch.setattr(os, "write", watching)
        secret = get_settings().session_secret()
    finally:
        monkeypatch.undo()
        os.umask(previous)
    path = settings.data_dir / "secret_key"
    assert modes == [0o600]
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert len(secret) >= MIN_SECRET_LENGTH and path.read_text() == secret
    assert Settings(secret_key=None, data_dir=settings.data_dir).session_secret() == secret


def test_secret_file_two_processes_starting_together_agree(settings, monkeypatch):
    """The other process creates the file while this one is generating its own secret."""
    monkeypatch.delenv("RAIM_SECRET_KEY")
    path = settings.data_dir / "secret_key"
    theirs = secrets.token_urlsafe(48)
    real_token = secrets.token_urlsafe

    def racing(nbytes: int | None = None) -> str:
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            os.write(descriptor, theirs.encode())
            os.close(descriptor)
        return real_token(nbytes)

    monkeypatch.setattr(secrets, "token_urlsafe", racing)
    mine = Settings(secret_key=None, data_dir=settings.data_dir).session_secret()
    assert mine == theirs == path.read_text()
    assert [p.name for p in path.parent.iterdir() if "secret" in p.name] == ["secret_key"]


def test_secret_file_readable_by_others_is_tightened_with_a_warning(settings, monkeypatch,
                                                                     caplog):
    path = settings.data_dir / "secret_key"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(secrets.token_urlsafe(48))
    path.chmod(0o644)
    with caplog.at_level(logging.WARNING, logger="app.config"):
        Settings(secret_key=None, data_dir=settings.data_dir).session_secret()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert "readable by group or others" in caplog.text


def test_short_secret_key_is_refused_by_settings_and_the_cli(settings, monkeypatch, capsys):
    with pytest.raises(ValueError, match="at least 32 characters"):
        Settings(secret_key="x" * (MIN_SECRET_LENGTH - 1))
    monkeypatch.setenv("RAIM_SECRET_KEY", "too-short")
    monkeypatch.setenv("RAIM_DEVICE", "gpu")
    get_settings.cache_clear()
    with pytest.raises(SettingsError):
        get_settings()
    assert main(["serve", "--port", "1"]) == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 2 and all(line.startswith("error: RAIM_") for line in lines)
    assert any(line.startswith("error: RAIM_SECRET_KEY: must have at least 32 characters")
               for line in lines)
    assert any(line.startswith("error: RAIM_DEVICE: must be auto, cpu, cuda or cuda:N, not 'gpu'")
               for line in lines)
    assert "too-short" not in "\n".join(lines)


def test_invalid_settings_give_one_line_each_from_the_raim_command(settings):
    result = subprocess.run([RAIM, "db", "upgrade"], capture_output=True, text=True, timeout=120,
                            env=service_env(RAIM_PORT="eighty", RAIM_SECRET_KEY="short"))
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert sorted(line.split(":")[1].strip() for line in lines) == ["RAIM_PORT", "RAIM_SECRET_KEY"]


# --- shutdown ---------------------------------------------------------------------------------

GRACE_SECONDS = 2
SHUTDOWN_SLACK_SECONDS = 25  # start-up of the shutdown, lifespan, interpreter exit: a bound


def test_sigterm_during_a_stalled_upload_exits_within_the_grace_period(settings, tmp_path,
                                                                      weights_dir):
    ensure_schema()
    with session_scope() as session:
        user = create_user(session, "team@example.org", name="Team")
        _, token = create_token(session, user, name="uploads")
    port = free_port()
    log = tmp_path / "serve.log"
    server = start_serve(port, service_env(RAIM_DEVICE="cpu",
                                           RAIM_SHUTDOWN_GRACE_SECONDS=str(GRACE_SECONDS)), log)
    incoming = settings.uploads_dir / "incoming"
    with socket.create_connection(("127.0.0.1", port), timeout=30) as upload:
        head = (f"POST /score HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
                f"Authorization: Bearer {token}\r\n"
                f"Content-Type: multipart/form-data; boundary=XYZ\r\n"
                f"Content-Length: 50000000\r\n\r\n"
                f"--XYZ\r\nContent-Disposition: form-data; name=\"file\"; filename=\"r.zip\"\r\n"
                f"Content-Type: application/zip\r\n\r\n")
        upload.sendall(head.encode() + b"PK\x03\x04" + b"\0" * 4096)  # ...and then nothing
        wait_until(lambda: incoming.is_dir() and any(incoming.iterdir()),
                   "the upload to reach the server", server, log, limit=60)
        server.send_signal(signal.SIGTERM)
        try:
            server.wait(timeout=GRACE_SECONDS + SHUTDOWN_SLACK_SECONDS)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
            pytest.fail(f"raim serve still running {GRACE_SECONDS + SHUTDOWN_SLACK_SECONDS} s "
                        f"after SIGTERM:\n{log.read_text(errors='replace')[-3000:]}")
    assert list(incoming.iterdir()) == []  # the cut-off upload left no partial file
    assert "still busy" not in log.read_text(errors="replace")  # the idle worker stopped
