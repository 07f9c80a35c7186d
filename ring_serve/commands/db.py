"""`ring db`: create or migrate the results DB (``ring_core.store``)."""
from __future__ import annotations

import typer

app = typer.Typer(help="Results database (SQLite by default, any SQLAlchemy URL via RING_DB_URL).",
                  no_args_is_help=True)


@app.command("upgrade")
def db_upgrade() -> None:
    """Create the results DB or migrate it to the newest schema."""
    from ring_core.store import db

    url = db.upgrade()
    typer.echo(f"database at {db.redacted(url)} is at the newest schema")
