"""Results store: SQLAlchemy models, Alembic migrations and the write/read API.

Typical use::

    from ring_core.store import api, db
    db.upgrade()
    with db.session() as s:
        run = api.get_or_create_run(s, api.get_or_create_model(s, "ring-lite"), ...)
"""
