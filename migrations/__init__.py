"""Alembic migrations of the storage of record (configured in code by app.db.alembic_config)."""
