"""Formula options per phase: a phase's own formula and stages; a submission's resized images.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def _json(name: str) -> sa.Column:
    return sa.Column(name, sa.JSON().with_variant(postgresql.JSONB(), "postgresql"),
                     nullable=True)


def upgrade() -> None:
    with op.batch_alter_table("phases") as batch:
        batch.add_column(_json("formula"))
        batch.add_column(_json("stages"))
    with op.batch_alter_table("submissions") as batch:
        batch.add_column(_json("resized"))


def downgrade() -> None:
    with op.batch_alter_table("submissions") as batch:
        batch.drop_column("resized")
    with op.batch_alter_table("phases") as batch:
        batch.drop_column("stages")
        batch.drop_column("formula")
