"""Alembic environment (env.py) and revisions of the results store schema."""
