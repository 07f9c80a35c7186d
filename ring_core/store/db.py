"""Where the results DB lives, how to connect to it, and how to migrate it."""
from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

from ring_core.paths import ring_home

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"
BUSY_TIMEOUT_MS = 30_000

_engines: dict[str, Engine] = {}
_sessionmakers: dict[str, sessionmaker] = {}
_engines_lock = threading.Lock()


def database_url() -> str:
    """``$RING_DB_URL`` if set, else a SQLite file ``$RING_HOME/ring.db``."""
    url = os.environ.get("RING_DB_URL", "").strip()
    if url:
        return url
    return f"sqlite:///{ring_home() / 'ring.db'}"


def redacted(url: str) -> str:
    """The URL with any password replaced by ``***`` (safe to print or log)."""
    return make_url(url).render_as_string(hide_password=True)


def _sqlite_pragmas(dbapi_conn, _record) -> None:
    # WAL lets the dashboard read while a run writes; busy_timeout makes concurrent writers
    # wait instead of failing with "database is locked"; SQLite ships with FKs off.
    cur = dbapi_conn.cursor()
    cur.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.close()


def make_engine(url: str | None = None) -> Engine:
    """One shared engine per URL (default :func:`database_url`)."""
    url = url or database_url()
    with _engines_lock:
        engine = _engines.get(url)
        if engine is not None:
            return engine
        parsed = make_url(url)
        kwargs: dict = {"future": True}
        if parsed.get_backend_name() == "sqlite":
            db_path = parsed.database
            if db_path and db_path != ":memory:" and not db_path.startswith("file:"):
                Path(db_path).expanduser().parent.mkdir(parents=True, exist_ok=True)
            kwargs["connect_args"] = {"check_same_thread": False, "timeout": BUSY_TIMEOUT_MS / 1000}
        else:
            kwargs["pool_pre_ping"] = True
        engine = create_engine(url, **kwargs)
        if parsed.get_backend_name() == "sqlite":
            event.listen(engine, "connect", _sqlite_pragmas)
        _engines[url] = engine
        return engine


def dispose_engines() -> None:
    """Close every cached engine (tests, forked workers)."""
    with _engines_lock:
        for engine in _engines.values():
            engine.dispose()
        _engines.clear()
        _sessionmakers.clear()


def alembic_config(url: str | None = None):
    """An Alembic config built in code, pointing at the migrations inside this package."""
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    # ConfigParser treats '%' as interpolation; URL-encoded passwords contain it.
    cfg.set_main_option("sqlalchemy.url", (url or database_url()).replace("%", "%%"))
    return cfg


def upgrade(url: str | None = None, revision: str = "head") -> str:
    """Migrate the DB at ``url`` to ``revision`` (default newest); returns the URL used."""
    return _migrate("upgrade", url, revision)


def downgrade(url: str | None = None, revision: str = "-1") -> str:
    """Migrate the DB at ``url`` down to ``revision`` ("base" drops every table)."""
    return _migrate("downgrade", url, revision)


def _migrate(direction: str, url: str | None, revision: str) -> str:
    from alembic import command

    url = url or database_url()
    cfg = alembic_config(url)
    with make_engine(url).begin() as conn:
        cfg.attributes["connection"] = conn
        getattr(command, direction)(cfg, revision)
    return url


def current_revision(url: str | None = None) -> str | None:
    """The Alembic revision the DB is at (None for an empty DB)."""
    from alembic.runtime.migration import MigrationContext

    with make_engine(url).connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


@contextmanager
def session(url: str | None = None) -> Iterator[Session]:
    """An ORM session that commits on success and rolls back on error."""
    url = url or database_url()
    maker = _sessionmakers.get(url)
    if maker is None:
        maker = _sessionmakers[url] = sessionmaker(make_engine(url), expire_on_commit=False)
    with maker() as s:
        try:
            yield s
            s.commit()
        except BaseException:
            s.rollback()
            raise
