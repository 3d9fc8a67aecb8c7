"""Database access: one engine per URL, transactional sessions, and schema upgrades via Alembic.

SQLite (the default, a file under RAIM_DATA_DIR) runs in WAL mode with foreign keys on
and a busy timeout; its transactions begin explicitly so that a caller can ask for
``BEGIN IMMEDIATE`` (``session_scope(immediate=True)``) to serialise writers, the SQLite
counterpart of ``SELECT ... FOR UPDATE`` on PostgreSQL. Every transaction that reads before it
writes must ask for it: in WAL mode a plain ``BEGIN`` that has read is refused at once ("database
is locked", the busy timeout does not apply) when another connection committed since its read
(``tests/utils/sqlite_race`` makes that race happen on demand).

Sessions never migrate. Each process brings the schema up to date once, explicitly, where it
starts: ``create_app``'s start-up, ``raim worker``, and the commands that use the database
(``app.commands.common.database``). ``ensure_schema()`` does it once per process and URL and
is safe when several processes start at once (an advisory lock on PostgreSQL, an immediate
transaction on SQLite).
"""

from __future__ import annotations

import importlib
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, MetaData, create_engine, event, make_url
from sqlalchemy.orm import Session, sessionmaker

from app.config import get_settings

# Every module that defines tables on app.models.Base; Alembic's autogenerate and the schema
# test import them all. A package adding tables adds its module here.
MODEL_MODULES = ("app.models", "app.judging.models")
MIGRATIONS_DIR = Path(__file__).resolve().parent.parent / "migrations"
SQLITE_BUSY_TIMEOUT_MS = 30_000
# Arbitrary constant identifying this application's schema-upgrade lock on PostgreSQL.
_UPGRADE_LOCK_KEY = 0x5241494D
_IMMEDIATE = "raim_sqlite_immediate"

_lock = threading.Lock()
_engines: dict[str, Engine] = {}
_upgraded: set[str] = set()


def all_metadata() -> MetaData:
    """The metadata of every table, after importing each module of MODEL_MODULES."""
    for module in MODEL_MODULES:
        importlib.import_module(module)
    from app.models import Base

    return Base.metadata


def database_url(url: str | None = None) -> str:
    """The SQLAlchemy URL to use (settings by default), with PostgreSQL mapped to psycopg 3."""
    url = url or get_settings().sqlalchemy_url
    for plain in ("postgresql://", "postgres://"):
        if url.startswith(plain):
            return "postgresql+psycopg://" + url[len(plain):]
    return url


def is_sqlite(session: Session) -> bool:
    """Whether the session talks to SQLite (callers pick their row-locking strategy by it)."""
    return session.get_bind().dialect.name == "sqlite"


def _configure_sqlite(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Take transaction control away from the driver; "begin" below issues BEGIN itself.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        immediate = conn.get_execution_options().get(_IMMEDIATE, False)
        conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")


def get_engine(url: str | None = None) -> Engine:
    """The process-wide engine for ``url`` (settings' database by default)."""
    url = database_url(url)
    with _lock:
        engine = _engines.get(url)
        if engine is None:
            engine = _create_engine(url)
            _engines[url] = engine
        return engine


def _create_engine(url: str) -> Engine:
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"check_same_thread": False})
        _configure_sqlite(engine)
        return engine
    return create_engine(url, pool_pre_ping=True)


def dispose_engines() -> None:
    """Close every pooled connection (tests, and forked worker processes)."""
    with _lock:
        for engine in _engines.values():
            engine.dispose()
        _engines.clear()
        _upgraded.clear()


def session_factory(url: str | None = None) -> sessionmaker[Session]:
    return sessionmaker(bind=get_engine(url), expire_on_commit=False)


@contextmanager
def session_scope(url: str | None = None, *, immediate: bool = False) -> Iterator[Session]:
    """A session committed on success and rolled back on error (the schema is not touched).

    ``immediate=True`` starts the transaction with ``BEGIN IMMEDIATE`` on SQLite so that
    read-then-write sequences (quota checks) cannot interleave; on PostgreSQL it changes
    nothing and callers lock rows with ``with_for_update()``. The transaction, and so the
    lock, begins at the session's first statement: a session opened but never used (a
    request's, while the route hands the work to code with sessions of its own) holds none.
    """
    engine = get_engine(url)
    if immediate and engine.dialect.name == "sqlite":
        engine = engine.execution_options(**{_IMMEDIATE: True})
    session = Session(bind=engine, expire_on_commit=False)
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


def alembic_config(connection: Connection | None = None) -> Any:
    """An Alembic configuration built in code; ``connection`` is used by migrations/env.py."""
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.set_main_option("path_separator", "os")
    if connection is not None:
        config.attributes["connection"] = connection
    return config


def upgrade(url: str | None = None, revision: str = "head") -> None:
    """Run ``alembic upgrade`` under a lock that serialises concurrent upgraders."""
    from alembic import command

    engine = get_engine(url)
    with engine.connect() as conn:
        if engine.dialect.name == "sqlite":
            conn.execution_options(**{_IMMEDIATE: True})
        with conn.begin():
            if engine.dialect.name == "postgresql":
                conn.exec_driver_sql(f"SELECT pg_advisory_xact_lock({_UPGRADE_LOCK_KEY})")
            command.upgrade(alembic_config(conn), revision)


def downgrade(url: str | None = None, revision: str = "base") -> None:
    """Run ``alembic downgrade`` (tests of the migrations, and operators undoing one)."""
    from alembic import command

    engine = get_engine(url)
    with engine.connect() as conn, conn.begin():
        command.downgrade(alembic_config(conn), revision)
    with _lock:
        _upgraded.discard(database_url(url))


def current_revision(url: str | None = None) -> str | None:
    """The revision the database is at, or None for an empty database."""
    from alembic.runtime.migration import MigrationContext

    with get_engine(url).connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def head_revision() -> str | None:
    from alembic.script import ScriptDirectory

    return ScriptDirectory.from_config(alembic_config()).get_current_head()


def ensure_schema(url: str | None = None) -> None:
    """Upgrade the database to the newest migration, once per process and URL."""
    key = database_url(url)
    if key in _upgraded:
        return
    upgrade(key)
    with _lock:
        _upgraded.add(key)
