"""Alembic revisions, applied in order by app.db.upgrade()."""
