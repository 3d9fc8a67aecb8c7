"""``raim db upgrade|status|rebuild-leaderboards``: the schema's migrations, and stored leaderboards
computed again from the submissions."""

from __future__ import annotations

import argparse

from sqlalchemy import make_url

from app import db, leaderboard


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("db", help="database schema migrations")
    actions = parser.add_subparsers(dest="action", required=True)
    upgrade = actions.add_parser(
        "upgrade", help="apply every pending migration (other commands do this themselves)",
        description="Runs the Alembic migrations up to the newest revision on RAIM_DATABASE_URL "
        "(default: SQLite under RAIM_DATA_DIR). Safe to run while other processes start.")
    upgrade.set_defaults(handler=_upgrade)
    status = actions.add_parser(
        "status", help="show the database's revision and the newest one",
        description="Prints the database (RAIM_DATABASE_URL, else the SQLite file in "
        "RAIM_DATA_DIR; the password hidden), its migration revision and the newest one. "
        "Exit status: 0 up to date, 1 when `raim db upgrade` is needed.")
    status.set_defaults(handler=_status)
    rebuild = actions.add_parser(
        "rebuild-leaderboards", help="compute every phase's stored leaderboard again",
        description="Leaderboards are stored, one line per team, and kept up to date as "
        "results are stored and rescored. Run this after writing submissions into the database "
        "by other means than the service (an import, a manual fix): it computes every phase's "
        "lines again from the submissions, in one transaction.")
    rebuild.set_defaults(handler=_rebuild_leaderboards)


def _where() -> str:
    return make_url(db.database_url()).render_as_string(hide_password=True)


def _upgrade(args: argparse.Namespace) -> int:
    db.upgrade()
    print(f"database {_where()} is at revision {db.current_revision()}")
    return 0


def _status(args: argparse.Namespace) -> int:
    current, head = db.current_revision(), db.head_revision()
    state = "up to date" if current == head else "needs `raim db upgrade`"
    print(f"database {_where()}: revision {current or 'none'}, newest {head} ({state})")
    return 0 if current == head else 1


def _rebuild_leaderboards(args: argparse.Namespace) -> int:
    db.ensure_schema()
    with db.session_scope(immediate=True) as session:
        lines = leaderboard.rebuild_all(session)
    print(f"rebuilt the leaderboards of {len(lines)} phase(s): "
          f"{sum(lines.values())} team line(s) in all")
    return 0
