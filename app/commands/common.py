"""What every command module shares: the exit status for refused input, error lines, the database,
the weights check.

Commands that use the database open it with ``database()``, which brings the schema to the
newest migration first (sessions themselves never migrate; see app.db). Its transaction begins
with the write lock (``BEGIN IMMEDIATE`` on SQLite): commands read, then write, while a running
service writes too, and a plain ``BEGIN`` would then be refused at its first write.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy.orm import Session

from app.config import get_settings
from app.db import ensure_schema, session_scope

EXIT_INVALID = 2


def weights_ready() -> bool:
    """Whether every metric's weights are in RAIM_WEIGHTS_DIR; if not, one error line saying
    which file and how to install it (before anything loads or listens)."""
    from app.jobs.worker import check_weights
    from metrics.weights import WeightsMissing

    try:
        check_weights(get_settings())
    except WeightsMissing as exc:
        error(str(exc))
        return False
    return True


def error(message: str) -> int:
    """Print ``error: message`` to standard error; the exit status for refused input."""
    print(f"error: {message}", file=sys.stderr)
    return EXIT_INVALID


@contextmanager
def database(*, writes: bool = True) -> Iterator[Session]:
    """A committed-on-success session on the configured database, schema upgraded first;
    ``writes=False`` for commands that only read (they then take no write lock)."""
    ensure_schema()
    with session_scope(immediate=writes) as session:
        yield session
