"""Team invitations: single-use, expiring, revocable links to join a team.

Revision ID: 0008
Revises: 0007_judging_results
Create Date: 2026-12-08

(Numbered 0008 because another branch adds 0007; when both are merged, this one revises 0007.)
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007_judging_results"
branch_labels = None
depends_on = None

TABLE = "team_invitations"


def _ts(name: str, nullable: bool = False) -> sa.Column:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        TABLE,
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("team_id", sa.Integer(), nullable=False),
        sa.Column("code_hash", sa.String(64), nullable=False),
        sa.Column("prefix", sa.String(16), nullable=False),
        sa.Column("created_by_id", sa.Integer(), nullable=True),
        _ts("created_at"),
        _ts("expires_at"),
        _ts("revoked_at", nullable=True),
        _ts("used_at", nullable=True),
        sa.Column("used_by_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(["team_id"], ["teams.id"], ondelete="CASCADE",
                                name=op.f(f"fk_{TABLE}_team_id_teams")),
        sa.ForeignKeyConstraint(["created_by_id"], ["users.id"], ondelete="SET NULL",
                                name=op.f(f"fk_{TABLE}_created_by_id_users")),
        sa.ForeignKeyConstraint(["used_by_id"], ["users.id"], ondelete="SET NULL",
                                name=op.f(f"fk_{TABLE}_used_by_id_users")),
        sa.PrimaryKeyConstraint("id", name=op.f(f"pk_{TABLE}")),
        sa.UniqueConstraint("code_hash", name=op.f(f"uq_{TABLE}_code_hash")),
    )
    op.create_index(op.f(f"ix_{TABLE}_team_id"), TABLE, ["team_id"])


def downgrade() -> None:
    op.drop_index(op.f(f"ix_{TABLE}_team_id"), table_name=TABLE)
    op.drop_table(TABLE)
