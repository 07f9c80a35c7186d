"""Alembic revision files (alembic itself skips this __init__)."""
