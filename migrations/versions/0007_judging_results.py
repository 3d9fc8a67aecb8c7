"""Judges can be revoked, and each campaign's final results are stored (computed once per change).

Revision ID: 0007_judging_results
Revises: 0006
Create Date: 2026-12-08
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0007_judging_results"
down_revision = "0006"
branch_labels = None
depends_on = None

TABLE = "final_results"


def _ts(name: str, nullable: bool = False) -> sa.Column:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def _json(name: str, nullable: bool = False) -> sa.Column:
    return sa.Column(name, sa.JSON().with_variant(postgresql.JSONB(), "postgresql"),
                     nullable=nullable)


def upgrade() -> None:
    with op.batch_alter_table("judges") as batch:
        batch.add_column(_ts("revoked_at", nullable=True))
    op.create_table(
        TABLE,
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("campaign_id", sa.Integer(), nullable=False),
        sa.Column("key", sa.String(64), nullable=False),
        _json("body"),
        _ts("computed_at"),
        _json("published_body", nullable=True),
        _ts("published_at", nullable=True),
        sa.ForeignKeyConstraint(["campaign_id"], ["campaigns.id"], ondelete="CASCADE",
                                name=op.f(f"fk_{TABLE}_campaign_id_campaigns")),
        sa.PrimaryKeyConstraint("id", name=op.f(f"pk_{TABLE}")),
        sa.UniqueConstraint("campaign_id", name=op.f(f"uq_{TABLE}_campaign_id")),
    )


def downgrade() -> None:
    op.drop_table(TABLE)
    with op.batch_alter_table("judges") as batch:
        batch.drop_column("revoked_at")
