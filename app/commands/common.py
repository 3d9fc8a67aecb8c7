"""What every command module shares: the exit status for refused input, error lines, the database.

Commands that use the database open it with ``database()``, which brings the schema to the
newest migration first (sessions themselves never migrate; see app.db).
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy.orm import Session

from app.db import ensure_schema, session_scope

EXIT_INVALID = 2


def error(message: str) -> int:
    """Print ``error: message`` to standard error; the exit status for refused input."""
    print(f"error: {message}", file=sys.stderr)
    return EXIT_INVALID


@contextmanager
def database() -> Iterator[Session]:
    """A committed-on-success session on the configured database, schema upgraded first."""
    ensure_schema()
    with session_scope() as session:
        yield session
