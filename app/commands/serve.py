"""``raim serve``: the web service, and the embedded scoring worker when there is no broker."""

from __future__ import annotations

import argparse
import sys
import time
from types import FrameType
from typing import TYPE_CHECKING

from app.commands.common import weights_ready
from app.config import get_settings

if TYPE_CHECKING:
    import uvicorn
    from fastapi import FastAPI

EXIT_CONFIG = 2
EXIT_STARTUP = 3  # as uvicorn.run: the server could not start (port taken, say)


def register(sub: argparse._SubParsersAction) -> None:
    serve = sub.add_parser(
        "serve", help="run the web service (and, without a broker, the scoring worker)",
        description="Serves the pages and the API with uvicorn after upgrading the database. "
        "Without RAIM_BROKER_URL, submissions are scored in this process by a local worker; "
        "with it, by `raim worker` processes. On SIGTERM or Ctrl-C it stops accepting "
        "connections and gives those open, and the local worker, RAIM_SHUTDOWN_GRACE_SECONDS "
        "(default 30) to finish; a job still running is re-queued at the next start.")
    serve.add_argument("--host", help="default: RAIM_HOST (127.0.0.1)")
    serve.add_argument("--port", type=int, help="default: RAIM_PORT (8000)")
    serve.add_argument("--demo", action="store_true",
                       help="create a demo challenge from sample photographs and print a "
                       "team token")
    serve.set_defaults(handler=run_serve)


def run_serve(args: argparse.Namespace) -> int:
    import uvicorn

    from app.db import ensure_schema
    from app.main import create_app

    settings = get_settings()
    if not settings.broker_url and not weights_ready():
        return EXIT_CONFIG
    ensure_schema()
    if settings.broker_url:
        _announce_broker(settings.sweep_interval_seconds)
    host, port = args.host or settings.host, args.port or settings.port
    if args.demo:
        _announce_demo(host, port)
    app = create_app(settings)
    server = _bounded_server(app, uvicorn.Config(
        app, host=host, port=port, log_level="info",
        timeout_graceful_shutdown=settings.shutdown_grace_seconds))
    server.run()
    return 0 if server.started else EXIT_STARTUP


def _bounded_server(app: FastAPI, config: uvicorn.Config) -> uvicorn.Server:
    """uvicorn's server, noting on SIGTERM or SIGINT when the shutdown began, so that the
    connections' drain and the app's background threads share one grace period (app.main)."""
    import uvicorn

    class Server(uvicorn.Server):
        def handle_exit(self, sig: int, frame: FrameType | None) -> None:
            if getattr(app.state, "shutdown_began", None) is None:
                app.state.shutdown_began = time.monotonic()  # no lock taken: signal-safe
            super().handle_exit(sig, frame)

    return Server(config)


def _announce_broker(sweep_interval: int) -> None:
    """One line: whether the broker answers. The service starts either way (the sweeper
    sends what waits once it is back)."""
    from app.jobs.broker import broker_problem, broker_url_for_people

    url, problem = broker_url_for_people(), broker_problem()
    if problem is None:
        print(f"broker {url}: reachable; `raim worker` processes score the submissions",
              flush=True)
    else:
        print(f"broker {url}: NOT reachable ({problem}); submissions are still accepted and "
              f"kept queued, and sent to the workers once it answers (checked every "
              f"{sweep_interval} s)", file=sys.stderr, flush=True)


def _announce_demo(host: str, port: int) -> None:
    from app.demo import install_demo

    demo = install_demo(get_settings())
    print(f"demo challenge {demo.challenge!r}, phase {demo.phase!r}, team {demo.team!r}\n"
          f"try: cd {demo.example_predictions} && zip -q /tmp/demo.zip *.png && "
          f"curl -F file=@/tmp/demo.zip -H 'Authorization: Bearer {demo.token}' "
          f"'http://{host}:{port}/score?wait=120'\n"
          f"demo team token: {demo.token}", flush=True)
