"""A covering index for leaderboards: each team's best scored submission without a sort.

Revision ID: 0004
Revises: 0003_judging
Create Date: 2026-11-25
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003_judging"
branch_labels = None
depends_on = None

NAME = "ix_submissions_leaderboard"


def upgrade() -> None:
    op.create_index(NAME, "submissions", ["phase_id", "status", "team_id", sa.text("score DESC"),
                                          "created_at", "id"])


def downgrade() -> None:
    op.drop_index(NAME, table_name="submissions")
