"""A write from another connection landing right after a transaction's read: SQLite's race.

In WAL mode a transaction that began with a plain ``BEGIN``, read, and then tries to write
after another connection committed is refused at once with "database is locked": the busy
timeout does not apply, because waiting cannot make its snapshot fresh again. A session that
reads before it writes must begin with ``BEGIN IMMEDIATE`` (``session_scope(immediate=True)``).
``interloper`` makes the race happen every time instead of once in a few hundred runs.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import event
from sqlalchemy.engine import make_url

from app import db


@contextmanager
def interloper(url: str, table: str) -> Iterator[list[bool]]:
    """After every SELECT that reads ``table``, another connection tries to commit a write
    without waiting. Yields the outcomes: True where that write landed (a deferred reader's
    write will then fail), False where the reader's write lock refused it."""
    engine = db.get_engine(url)
    path = make_url(url).database
    outcomes: list[bool] = []

    def after_read(_conn, _cursor, statement: str, *_args) -> None:  # type: ignore[no-untyped-def]
        text = statement.lstrip().upper()
        if text.startswith("SELECT") and f"FROM {table.upper()}" in text:
            outcomes.append(_write_elsewhere(path))

    event.listen(engine, "after_cursor_execute", after_read)
    try:
        yield outcomes
    finally:
        event.remove(engine, "after_cursor_execute", after_read)


def _write_elsewhere(path: str) -> bool:
    other = sqlite3.connect(path, timeout=0, isolation_level=None)
    try:
        other.execute("CREATE TABLE IF NOT EXISTS interloper (n INTEGER)")
        other.execute("INSERT INTO interloper VALUES (1)")
        return True
    except sqlite3.OperationalError as exc:
        if "locked" not in str(exc):
            raise
        return False
    finally:
        other.close()
