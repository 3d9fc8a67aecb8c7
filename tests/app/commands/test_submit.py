"""``raim submit``, ``raim submissions`` and ``raim status``: a team's client of the API.

Most tests run the commands in-process against the real application (no worker) through
Starlette's test client standing in for httpx's; the slow one runs ``raim serve`` with its
embedded worker and ``raim submit --wait`` as teams run them.
"""

import io
import json
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient

from app.cli import main
from app.commands import client as client_commands
from app.config import get_settings
from app.db import session_scope
from app.main import create_app
from app.models import Submission
from metrics.samples import SampleSet, write_sample_set
from tests.utils.arena import Arena, build_arena, zip_folder
from tests.utils.processes import REPO, free_port, service_env, start_serve, stop

SERVER = "http://raim.test"


@pytest.fixture
def scorable_set(tmp_path: Path) -> SampleSet:
    """Three 128x128 real-photograph triples: NIQE needs more than 64x64 after the crop."""
    return write_sample_set(tmp_path / "scorable", count=3, size=128)


@pytest.fixture
def arena(settings, scorable_set: SampleSet) -> Arena:
    """Challenge raim-test, open paired phase ``validation``, teams alpha and beta (SQLite)."""
    return build_arena(scorable_set)


@pytest.fixture
def good_zip(arena: Arena, tmp_path: Path) -> Path:
    return zip_folder(arena.samples.pred, tmp_path / "results.zip")


@pytest.fixture
def served(arena: Arena, monkeypatch: pytest.MonkeyPatch) -> Arena:
    """The commands talk to the application in-process; alpha's token in RAIM_TOKEN."""
    app = create_app(background=False)
    seen: list[str] = []

    def test_client(base_url: str, headers: dict, timeout: object = None) -> TestClient:
        seen.append(base_url)
        return TestClient(app, base_url=base_url, headers=headers)

    monkeypatch.setattr(client_commands.httpx, "Client", test_client)
    monkeypatch.setenv("RAIM_TOKEN", arena.tokens["alpha"])
    monkeypatch.setenv("RAIM_SERVER", SERVER)
    get_settings.cache_clear()
    arena.seen = seen  # type: ignore[attr-defined]
    return arena


def view_of(arena: Arena, sub_id: int) -> dict:
    with TestClient(create_app(background=False)) as http:
        return http.get(f"/api/submissions/{sub_id}", headers=arena.auth("alpha")).json()


def test_submit_uploads_and_prints_the_submission_as_the_api_gives_it(served, good_zip, capsys):
    assert main(["submit", str(good_zip), "--phase", "validation", "--json"]) == 0
    captured = capsys.readouterr()
    printed = json.loads(captured.out)
    assert printed == view_of(served, printed["id"])
    assert printed["status"] == "queued" and printed["phase"] == "validation"
    assert served.seen == [SERVER]  # RAIM_SERVER
    # not a terminal: plain progress lines on standard error
    assert "uploading results.zip" in captured.err and "uploaded 100%" in captured.err
    assert f"submission {printed['id']} accepted for raim-test/validation" in captured.err


def test_submit_with_challenge_names_challenge_slash_phase(served, good_zip, capsys):
    assert main(["submit", str(good_zip), "--challenge", "raim-test", "--phase",
                 "validation", "--server", "http://elsewhere.test"]) == 0
    out = capsys.readouterr().out
    assert "raim-test/validation" in out and "status     queued" in out
    assert served.seen == ["http://elsewhere.test"]


def test_submit_refused_prints_every_problem_naming_the_file_and_exits_2(served, tmp_path,
                                                                        capsys):
    bad = zip_folder(served.samples.pred, tmp_path / "bad.zip", skip=("002.png",),
                     extra={"004.png": b"not an image"})
    assert main(["submit", str(bad), "--phase", "validation"]) == 2
    err = capsys.readouterr().err
    assert "error: 400:" in err
    assert "error:   002.png: missing" in err and "error:   004.png:" in err
    with session_scope() as session:
        assert session.query(Submission).count() == 0


def test_submit_names_a_missing_zip(served, tmp_path, capsys):
    assert main(["submit", str(tmp_path / "nowhere.zip")]) == 2
    assert "nowhere.zip: no such file" in capsys.readouterr().err


def test_no_token_is_one_clear_error_naming_the_token_file(served, good_zip, monkeypatch,
                                                            tmp_path, capsys):
    monkeypatch.delenv("RAIM_TOKEN")
    monkeypatch.setenv("RAIM_CONFIG_DIR", str(tmp_path / "config"))
    get_settings.cache_clear()
    assert main(["submit", str(good_zip)]) == 2
    err = capsys.readouterr().err
    assert f"no API token: set RAIM_TOKEN, or put the token in {tmp_path / 'config' / 'token'}" \
        in err


def test_token_from_the_config_file(served, good_zip, monkeypatch, tmp_path, capsys):
    monkeypatch.delenv("RAIM_TOKEN")
    monkeypatch.setenv("RAIM_CONFIG_DIR", str(tmp_path / "config"))
    (tmp_path / "config").mkdir()
    (tmp_path / "config" / "token").write_text(served.tokens["beta"] + "\n")
    get_settings.cache_clear()
    assert main(["submit", str(good_zip), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["team"] == "beta"


def test_a_wrong_token_exits_2(served, good_zip, monkeypatch, capsys):
    monkeypatch.setenv("RAIM_TOKEN", "not-a-token")
    get_settings.cache_clear()
    assert main(["status", "1"]) == 2
    assert "error: 401:" in capsys.readouterr().err


def test_unreachable_server_exits_3(arena, good_zip, monkeypatch, capsys):
    monkeypatch.setenv("RAIM_TOKEN", arena.tokens["alpha"])
    get_settings.cache_clear()
    assert main(["status", "1", "--server", f"http://127.0.0.1:{free_port()}"]) == 3
    assert "error: cannot reach" in capsys.readouterr().err


def test_status_exit_1_when_scoring_failed(served, good_zip, capsys):
    assert main(["submit", str(good_zip), "--json"]) == 0
    sub_id = json.loads(capsys.readouterr().out)["id"]
    with session_scope(immediate=True) as session:
        sub = session.get_one(Submission, sub_id)
        sub.status, sub.error = "failed", "002.png: NIQE is undefined"
    assert main(["status", str(sub_id)]) == 1
    out = capsys.readouterr().out
    assert "status     failed" in out and "error      002.png: NIQE is undefined" in out
    assert main(["status", str(sub_id), "--json"]) == 1
    assert json.loads(capsys.readouterr().out) == view_of(served, sub_id)


def test_submit_wait_follows_until_failed_and_exits_1(served, good_zip, monkeypatch, capsys):
    real_call = client_commands.call
    polls = []

    def fail_on_second_poll(client, method, url, **kwargs):
        if method == "GET":
            polls.append(url)
            if len(polls) == 2:
                with session_scope(immediate=True) as session:
                    sub = session.get_one(Submission, int(url.rsplit("/", 1)[1]))
                    sub.status, sub.error = "failed", "bad"
        return real_call(client, method, url, **kwargs)

    monkeypatch.setattr(client_commands, "call", fail_on_second_poll)
    monkeypatch.setattr(client_commands, "POLL_SECONDS", 0)
    assert main(["submit", str(good_zip), "--wait"]) == 1
    err = capsys.readouterr().err.splitlines()
    assert [line for line in err if line.startswith("submission ") and ": " in line
            and "accepted" not in line] == [f"submission {polls[0].rsplit('/', 1)[1]}: queued",
                                            f"submission {polls[0].rsplit('/', 1)[1]}: failed"]


def test_submit_wait_gives_up_after_the_timeout_with_exit_3(served, good_zip, monkeypatch,
                                                            capsys):
    monkeypatch.setattr(client_commands, "POLL_SECONDS", 0)
    assert main(["submit", str(good_zip), "--wait", "--timeout", "0"]) == 3
    assert "is still queued after 0 s" in capsys.readouterr().err


def test_submissions_lists_the_teams_own_newest_first(served, good_zip, capsys):
    for _ in range(3):
        assert main(["submit", str(good_zip)]) == 0
    capsys.readouterr()
    assert main(["submissions", "--phase", "validation", "--per-page", "2"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split() == ["id", "submitted", "phase", "status", "images", "score"]
    assert [line.split()[0] for line in lines[1:3]] == ["3", "2"]
    assert "raim-test/validation  queued" in lines[1]
    assert lines[-1] == "page 1 of 2 (3 submission(s))"
    assert main(["submissions", "--json", "--page", "2", "--per-page", "2"]) == 0
    body = json.loads(capsys.readouterr().out)
    assert [item["id"] for item in body["items"]] == [1] and body["total"] == 3


def test_read_token_prefers_raim_token(settings, tmp_path, monkeypatch):
    monkeypatch.setenv("RAIM_CONFIG_DIR", str(tmp_path))
    (tmp_path / "token").write_text("from-file\nsecond line\n")
    get_settings.cache_clear()
    assert client_commands.read_token(get_settings()) == "from-file"
    monkeypatch.setenv("RAIM_TOKEN", " from-env ")
    get_settings.cache_clear()
    assert client_commands.read_token(get_settings()) == "from-env"


def test_refusal_lines_list_detail_then_each_problem():
    response = httpx.Response(400, json={"detail": "2 problems", "problems": [
        {"file": "a.png", "message": "missing"}, {"file": None, "message": "not a zip"}]})
    assert client_commands.refusal_lines(response) == [
        "400: 2 problems", "  a.png: missing", "  -: not a zip"]


@pytest.mark.slow
def test_submit_wait_against_raim_serve(arena, good_zip, weights_dir, tmp_path):
    env = service_env(RAIM_WEIGHTS_DIR=str(weights_dir), RAIM_DEVICE="cpu")
    port = free_port()
    server = start_serve(port, env, tmp_path / "serve.log")
    try:
        client_env = service_env(RAIM_SERVER=f"http://127.0.0.1:{port}",
                                 RAIM_TOKEN=arena.tokens["alpha"])
        done = subprocess.run([sys.executable, "-m", "app.cli", "submit", str(good_zip),
                               "--phase", "validation", "--wait", "--json"], cwd=REPO,
                              env=client_env, capture_output=True, text=True, timeout=600)
        assert done.returncode == 0, done.stderr + (tmp_path / "serve.log").read_text()[-3000:]
        view = json.loads(done.stdout)
        assert view["status"] == "scored" and len(view["images"]) == 3
        assert view == httpx.get(f"http://127.0.0.1:{port}/api/submissions/{view['id']}",
                                 headers=arena.auth("alpha")).json()
        assert f"submission {view['id']}: scored" in done.stderr
        listed = subprocess.run([sys.executable, "-m", "app.cli", "submissions"], cwd=REPO,
                                env=client_env, capture_output=True, text=True, timeout=120)
        assert listed.returncode == 0 and " scored " in listed.stdout
        csv_text = httpx.get(f"http://127.0.0.1:{port}/api/submissions/{view['id']}/results.csv",
                             headers=arena.auth("alpha")).text
        assert len(csv_text.strip().splitlines()) == 4  # header and three images
    finally:
        stop(server)


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_upload_progress_is_a_bar_on_a_terminal_and_plain_lines_otherwise():
    bar = Terminal()
    progress = client_commands.UploadProgress("r.zip", 1000, bar)
    progress(500)
    progress(1000)
    progress.close()
    drawn = bar.getvalue()  # redrawn at most every 0.1 s: only the first frame is certain
    assert drawn.startswith("\ruploading r.zip:   0%|") and "/1.00k" in drawn
    assert "uploaded" not in drawn
    plain = io.StringIO()
    progress = client_commands.UploadProgress("r.zip", 1000, plain)
    for done in (100, 250, 600, 1000):
        progress(done)
    assert plain.getvalue().splitlines() == ["uploading r.zip (1.0 KB)", "uploaded 25%",
                                             "uploaded 50%", "uploaded 100%"]
