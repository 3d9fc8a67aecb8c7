"""Fixtures shared by the whole suite."""

import uuid
from collections.abc import Iterator
from functools import lru_cache
from pathlib import Path

import pytest
from sqlalchemy.orm import Session

from app.config import Settings, get_settings
from metrics.samples import SampleSet, write_sample_set
from metrics.weights import verify


@pytest.fixture(scope="session")
def weights_dir() -> Path:
    """The provisioned weights directory; missing weights fail loudly with the fix command."""
    path = get_settings().weights_dir
    bad = [s for s in verify(path) if s.state != "ok"]
    if bad:
        pytest.fail(f"weights not provisioned in {path} ({', '.join(s.weight.relpath for s in bad)}); "
                    f"run `raim weights install` (make test does this first)")
    return path


# --- settings, databases and sample images (generic: any test may use them) ---------------------

_POSTGRES_BASE = "postgresql+psycopg://postgres@127.0.0.1:5432/test"


@lru_cache(maxsize=1)
def _postgres_unreachable() -> str | None:
    """None when PostgreSQL answers at 127.0.0.1:5432, else the reason it does not."""
    import psycopg

    try:
        psycopg.connect("host=127.0.0.1 port=5432 dbname=test user=postgres",
                        connect_timeout=3).close()
    except psycopg.Error as exc:
        return f"PostgreSQL not reachable at 127.0.0.1:5432 database test: {exc}".strip()
    return None


@pytest.fixture
def settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Settings]:
    """Settings with a fresh RAIM_DATA_DIR (SQLite database inside it) and no broker."""
    monkeypatch.setenv("RAIM_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("RAIM_SECRET_KEY", "test-secret-key-not-for-production")
    monkeypatch.delenv("RAIM_DATABASE_URL", raising=False)
    monkeypatch.delenv("RAIM_BROKER_URL", raising=False)
    # The idle embedded worker would load the models and fill the DISTS cache from every
    # arena's ground truth: CPU the tests do not need, and cache counts they assert would move.
    # tests/app/jobs/test_warm.py turns it back on.
    monkeypatch.setenv("RAIM_DISTS_CACHE_WARM", "false")
    get_settings.cache_clear()
    yield get_settings()
    get_settings.cache_clear()


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def db_url(request: pytest.FixtureRequest, settings: Settings,
           monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """An empty database, once on SQLite (a file in the data dir) and once on PostgreSQL.

    The PostgreSQL case uses a schema of its own, dropped afterwards; RAIM_DATABASE_URL
    points at it so that get_settings() and app.db use it too.
    """
    from app import db

    if request.param == "sqlite":
        url = settings.sqlalchemy_url
        yield url
        db.dispose_engines()
        return
    reason = _postgres_unreachable()
    if reason:
        pytest.skip(reason)
    import psycopg

    schema = f"t_{uuid.uuid4().hex}"
    with psycopg.connect("host=127.0.0.1 port=5432 dbname=test user=postgres",
                         autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{schema}"')
    url = f"{_POSTGRES_BASE}?options=-csearch_path%3D{schema}"
    monkeypatch.setenv("RAIM_DATABASE_URL", url)
    get_settings.cache_clear()
    try:
        yield url
    finally:
        db.dispose_engines()
        with psycopg.connect("host=127.0.0.1 port=5432 dbname=test user=postgres",
                             autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA "{schema}" CASCADE')


@pytest.fixture
def migrated(db_url: str) -> str:
    """``db_url`` brought to the newest migration, as every service process does when it starts
    (sessions never migrate by themselves)."""
    from app import db

    db.ensure_schema(db_url)
    return db_url


@pytest.fixture
def session(db_url: str) -> Iterator[Session]:
    """A session on the upgraded test database; commit explicitly, closed afterwards."""
    from app import db

    db.ensure_schema(db_url)
    with db.session_factory(db_url)() as s:
        yield s


@pytest.fixture
def sample_set(tmp_path: Path) -> SampleSet:
    """Three 112x112 real-photograph triples: gt/, lq/ (degraded), pred/ (restored), NNN.png.

    112 is the smallest round size the metrics accept (NIQE needs 96x96 after the 4-pixel crop).
    """
    return write_sample_set(tmp_path / "samples", count=3, size=112)
