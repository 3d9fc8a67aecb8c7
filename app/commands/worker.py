"""``raim worker``: a Celery scoring worker (remote or shared-disk), and ``raim worker token``.

A worker with RAIM_SERVICE_URL and RAIM_WORKER_TOKEN is remote: it talks to the service's
worker API only, and its RAIM_DATA_DIR holds caches only (no database is opened or created).
Without them it shares the database and RAIM_DATA_DIR with the service, and sweeps stuck jobs
too. ``raim worker token add NAME`` prints the new token as the last word of its last line.
"""

from __future__ import annotations

import argparse
import os
import socket
import sys

from app.commands.common import EXIT_INVALID, database, error, weights_ready
from app.config import Settings, get_settings

EXIT_UNREACHABLE = 3

DESCRIPTION = """\
Without a subcommand: a scoring worker. It loads the metric models once, then scores one
submission at a time from the broker's queue (RAIM_BROKER_URL, queue RAIM_QUEUE_NAME), each
claimed in the fair order (every team's oldest waiting job in turn), reporting each only after
its result is stored. Run one per GPU, on as many machines as you like.

Remote (set RAIM_SERVICE_URL and RAIM_WORKER_TOKEN, made with `raim worker token add NAME`):
the worker needs the broker, the service's URL and the token, nothing else. It downloads each
submission and the ground truth it needs over the worker API, checked by sha256, keeps ground
truth zips by hash under its own RAIM_DATA_DIR (at most RAIM_WORKER_CACHE_BYTES, and at most
half the free disk), heart-beats and posts the results, which the service checks and stores.

Shared-disk (without them): the worker shares RAIM_DATA_DIR and RAIM_DATABASE_URL with the
service, reads files and writes results directly, and also re-queues stuck jobs.
"""


def register(sub: argparse._SubParsersAction) -> None:
    work = sub.add_parser(
        "worker", help="run a Celery scoring worker (remote or shared-disk), manage worker tokens",
        description=DESCRIPTION, formatter_class=argparse.RawDescriptionHelpFormatter,
        usage="raim worker [-h] [--loglevel LOGLEVEL]\n       raim worker token {add,list,revoke} ...")
    work.add_argument("--loglevel", default="INFO", help="Celery log level (default INFO)")
    work.set_defaults(handler=run_worker)
    actions = work.add_subparsers(dest="worker_action", metavar="token ...", title="subcommand")
    token = actions.add_parser("token", help="create, list and revoke worker tokens",
                               description="Worker tokens let remote workers use the worker API "
                               "and nothing else. Each is shown once and stored as a hash.")
    token_actions = token.add_subparsers(dest="token_action", required=True)
    add = token_actions.add_parser(
        "add", help="create a worker token and print it (last word of the last line)")
    add.add_argument("name", metavar="NAME",
                     help="e.g. the machine: letters, digits, '.', '_', '-' (64 at most)")
    add.set_defaults(handler=_token_add)
    listing = token_actions.add_parser("list", help="list worker tokens (never the tokens)")
    listing.set_defaults(handler=_token_list)
    revoke = token_actions.add_parser(
        "revoke", help="revoke a worker token at once: its workers are refused from then on")
    revoke.add_argument("name", metavar="NAME", help="the token's name, or its prefix (raim_AbC1)")
    revoke.set_defaults(handler=_token_revoke)


def _token_add(args: argparse.Namespace) -> int:
    from app import worker_tokens

    try:
        with database() as session:
            row, token = worker_tokens.create(session, args.name)
    except worker_tokens.WorkerTokenError as exc:
        return error(str(exc))
    print(f"worker token {row.name!r} created; give it to the worker as RAIM_WORKER_TOKEN "
          "(shown once):")
    print(f"token: {token}")
    return 0


def _token_list(args: argparse.Namespace) -> int:
    from app import worker_tokens

    with database(writes=False) as session:
        rows = worker_tokens.listing(session)
        if not rows:
            print("no worker tokens (create one with `raim worker token add NAME`)")
            return 0
        print(f"{'name':<24} {'prefix':<10} {'created':<17} {'last used':<17} state")
        for row in rows:
            state = "revoked " + _minute(row.revoked_at) if row.revoked_at else "active"
            print(f"{row.name:<24} {row.prefix:<10} {_minute(row.created_at):<17} "
                  f"{_minute(row.last_used_at):<17} {state}")
    return 0


def _minute(when) -> str:  # type: ignore[no-untyped-def]
    return when.strftime("%Y-%m-%d %H:%M") if when is not None else "never"


def _token_revoke(args: argparse.Namespace) -> int:
    from app import worker_tokens

    try:
        with database() as session:
            row = worker_tokens.by_name_or_prefix(session, args.name)
            worker_tokens.revoke(session, row)
    except worker_tokens.WorkerTokenError as exc:
        return error(str(exc))
    print(f"worker token {row.name!r} ({row.prefix}…) revoked")
    return 0


def run_worker(args: argparse.Namespace) -> int:
    from app.jobs.broker import NoBroker, broker_url_for_people, celery_app

    settings = get_settings()
    remote = bool(settings.service_url or settings.worker_token)
    if remote and not (settings.service_url and settings.worker_token):
        missing = "RAIM_WORKER_TOKEN" if settings.service_url else "RAIM_SERVICE_URL"
        return error(f"{missing} is not set: a remote worker needs RAIM_SERVICE_URL and "
                     "RAIM_WORKER_TOKEN (made with `raim worker token add NAME`)")
    try:
        celery_app()
    except NoBroker as exc:
        return error(str(exc))
    if not weights_ready():
        return EXIT_INVALID
    store = _remote_store(settings) if remote else _shared_disk_store(settings)
    if isinstance(store, int):
        return store
    print(f"{store.kind} worker {store.name}: broker {broker_url_for_people()}, queue "
          f"{settings.queue_name}" + (f", service {settings.service_url}; "
                                      f"{settings.data_dir} holds caches only" if remote else
                                      f", database and {settings.data_dir} shared"), flush=True)
    return _work(args, settings, store)


def _remote_store(settings: Settings):  # type: ignore[no-untyped-def]
    from app.jobs import presence
    from app.jobs.remote import HttpStore
    from app.jobs.store import StoreUnavailable, WorkerRefused
    from app.jobs.worker import describe_device

    if settings.database_url:
        print("note: RAIM_DATABASE_URL is not used by a remote worker", file=sys.stderr)
    store = HttpStore(settings)
    try:
        store.hello(presence.software_version(), describe_device(settings))
    except WorkerRefused as exc:
        return error(f"{exc} (is RAIM_WORKER_TOKEN a worker token that is not revoked?)")
    except StoreUnavailable as exc:
        print(f"error: the service at {settings.service_url} does not answer: {exc}",
              file=sys.stderr)
        return EXIT_UNREACHABLE
    return store


def _shared_disk_store(settings: Settings):  # type: ignore[no-untyped-def]
    from app.db import ensure_schema
    from app.jobs import presence, sweeper
    from app.jobs.worker import DatabaseStore, describe_device

    ensure_schema()
    store = DatabaseStore(settings, kind="celery")
    store.hello(presence.software_version(), describe_device(settings))
    sweeper.sweep(settings)  # jobs of workers that died are re-queued
    sweeper.resume_queued()
    sweeper.Sweeper(settings).start()
    return store


def _work(args: argparse.Namespace, settings: Settings, store) -> int:  # type: ignore[no-untyped-def]
    from app.jobs import worker
    from app.jobs.tasks import worker_app

    worker.scorer(settings)  # once per process, before the first job
    beacon = worker.Beacon(store)
    beacon.start()
    try:
        worker_app(store).worker_main([
            "worker", "--pool=solo", "--concurrency=1", "--prefetch-multiplier=1",
            f"--queues={settings.queue_name}", f"--loglevel={args.loglevel}",
            f"--hostname=raim-{os.getpid()}@{socket.gethostname()}",
            "--without-gossip", "--without-mingle",
        ])
    finally:
        beacon.stop()
        try:
            store.goodbye()
        except Exception as exc:  # the service may be gone first; the page then says silent
            print(f"note: could not say goodbye to the service: {exc}", file=sys.stderr)
    return 0
