"""Real service processes for end-to-end tests: uvicorn (in a thread or a subprocess), `raim worker`
subprocesses, waits."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

REPO = Path(__file__).resolve().parents[2]
RAIM = str(Path(sys.executable).with_name("raim"))
# Serves create_app() without the embedded worker: requests only, nothing scored in-process.
_API_ONLY = ("import sys, uvicorn; from app.main import create_app; "
             "uvicorn.run(create_app(background=False), host='127.0.0.1', port=int(sys.argv[1]), "
             "log_level='warning')")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextmanager
def serve_in_thread(app: object) -> Iterator[str]:
    """Serve ``app`` with uvicorn in a thread of this process on a free port; yields its URL."""
    import uvicorn

    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=free_port(),  # type: ignore[arg-type]
                                           log_level="warning", lifespan="on"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        if not thread.is_alive():
            raise RuntimeError("the test server did not start")
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{server.config.port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


def service_env(**overrides: str) -> dict[str, str]:
    """This process's environment (RAIM_* set by fixtures included) plus ``overrides``."""
    env = dict(os.environ)
    env.update(overrides)
    return env


def spawn(args: list[str], env: dict[str, str], log: Path) -> subprocess.Popen:
    handle = log.open("ab")
    return subprocess.Popen(args, cwd=REPO, env=env, stdout=handle, stderr=subprocess.STDOUT)


def start_api(port: int, env: dict[str, str], log: Path) -> subprocess.Popen:
    """uvicorn serving the app (no local worker); returns once it answers."""
    process = spawn([sys.executable, "-c", _API_ONLY, str(port)], env, log)
    wait_for_http(f"http://127.0.0.1:{port}/api/challenges/x/phases/y/leaderboard", process, log)
    return process


def start_serve(port: int, env: dict[str, str], log: Path) -> subprocess.Popen:
    """`raim serve`, exactly as operators run it; returns once it answers."""
    process = spawn([RAIM, "serve", "--port", str(port)], env, log)
    wait_for_http(f"http://127.0.0.1:{port}/api/challenges/x/phases/y/leaderboard", process, log)
    return process


def start_worker(env: dict[str, str], log: Path, *, hold: Path | None = None) -> subprocess.Popen:
    """`raim worker`; with ``hold``, one that pauses each claimed job while that file exists."""
    if hold is None:
        return spawn([RAIM, "worker", "--loglevel", "INFO"], env, log)
    return spawn([sys.executable, "-m", "tests.utils.held_worker", str(hold), "--loglevel", "INFO"],
                 env, log)


def wait_for_http(url: str, process: subprocess.Popen, log: Path, limit: float = 120) -> None:
    wait_until(lambda: _answers(url), f"{url} to answer", process, log, limit)


def _answers(url: str) -> bool:
    try:
        httpx.get(url, timeout=2)
    except httpx.TransportError:
        return False
    return True


def wait_until(check: Callable[[], object], what: str, process: subprocess.Popen | None = None,
               log: Path | None = None, limit: float = 300) -> object:
    """Poll ``check`` until it returns something truthy; fail with the process log otherwise."""
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        if process is not None and process.poll() is not None:
            raise AssertionError(f"process exited ({process.returncode}) while waiting for "
                                 f"{what}:\n{_tail(log)}")
        time.sleep(0.2)
    raise AssertionError(f"gave up waiting for {what} after {limit} s\n{_tail(log)}")


def _tail(log: Path | None) -> str:
    if log is None or not log.exists():
        return ""
    return log.read_text(errors="replace")[-4000:]


def stop(process: subprocess.Popen, sig: int = signal.SIGTERM) -> None:
    """Stop a process this test started, by its own pid, and reap it."""
    if process.poll() is None:
        process.send_signal(sig)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def start_redis(port: int, log: Path) -> subprocess.Popen:
    """A private, memory-only redis-server on 127.0.0.1:``port`` (never the shared one on
    6379); returns once it answers PING. Stopping it loses every message, as a broker can."""
    import redis

    process = spawn(["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "",
                     "--appendonly", "no", "--daemonize", "no"], dict(os.environ), log)
    client = redis.Redis(host="127.0.0.1", port=port, socket_connect_timeout=1)

    def pong() -> bool:
        try:
            return bool(client.ping())
        except redis.exceptions.ConnectionError:
            return False

    wait_until(pong, f"redis-server on port {port}", process, log, limit=30)
    return process
