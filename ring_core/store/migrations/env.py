"""Alembic environment for the results store; driven from ``ring_core.store.db.upgrade``."""
from __future__ import annotations

from alembic import context
from sqlalchemy import create_engine

from ring_core.store.models import Base

config = context.config
target_metadata = Base.metadata


def run_offline() -> None:
    context.configure(url=config.get_main_option("sqlalchemy.url"), target_metadata=target_metadata,
                      literal_binds=True, render_as_batch=True)
    with context.begin_transaction():
        context.run_migrations()


def run_online() -> None:
    # db.upgrade() hands over an open connection so SQLite pragmas (WAL, FKs) apply here too.
    connection = config.attributes.get("connection")
    if connection is not None:
        _migrate(connection)
        return
    engine = create_engine(config.get_main_option("sqlalchemy.url"))
    try:
        with engine.begin() as conn:
            _migrate(conn)
    finally:
        engine.dispose()


def _migrate(connection) -> None:
    # Batch mode lets later migrations alter SQLite tables (which lack ALTER COLUMN).
    context.configure(connection=connection, target_metadata=target_metadata, render_as_batch=True)
    with context.begin_transaction():
        context.run_migrations()


if context.is_offline_mode():
    run_offline()
else:
    run_online()
