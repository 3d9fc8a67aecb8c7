"""Factsheets and reproduction checks: phases.factsheet, submissions.factsheet, reproduction_checks.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None

CHECKS = "reproduction_checks"


def _json() -> sa.types.TypeEngine:
    return sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def upgrade() -> None:
    with op.batch_alter_table("phases") as batch:
        batch.add_column(sa.Column("factsheet", _json(), nullable=True))
    with op.batch_alter_table("submissions") as batch:
        batch.add_column(sa.Column("factsheet", _json(), nullable=True))
    op.create_table(
        CHECKS,
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("submission_id", sa.Integer(), nullable=False),
        sa.Column("actor_id", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("filename", sa.String(255), nullable=False),
        sa.Column("min_psnr", sa.Float(), nullable=False),
        sa.Column("max_diff", sa.Integer(), nullable=False),
        sa.Column("passed", sa.Boolean(), nullable=False),
        sa.Column("image_count", sa.Integer(), nullable=False),
        sa.Column("flagged", sa.Integer(), nullable=False),
        sa.Column("images", _json(), nullable=False),
        sa.ForeignKeyConstraint(["submission_id"], ["submissions.id"], ondelete="CASCADE",
                                name=op.f(f"fk_{CHECKS}_submission_id_submissions")),
        sa.ForeignKeyConstraint(["actor_id"], ["users.id"], ondelete="SET NULL",
                                name=op.f(f"fk_{CHECKS}_actor_id_users")),
        sa.PrimaryKeyConstraint("id", name=op.f(f"pk_{CHECKS}")),
    )
    op.create_index(op.f(f"ix_{CHECKS}_submission_id"), CHECKS, ["submission_id"])


def downgrade() -> None:
    op.drop_index(op.f(f"ix_{CHECKS}_submission_id"), table_name=CHECKS)
    op.drop_table(CHECKS)
    with op.batch_alter_table("submissions") as batch:
        batch.drop_column("factsheet")
    with op.batch_alter_table("phases") as batch:
        batch.drop_column("factsheet")
