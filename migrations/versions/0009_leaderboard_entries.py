"""Stored leaderboards: one line per team and phase, and the results held during a rescore.

The lines are built here from the submissions by the same function that rebuilds them later
(``app.leaderboard.rebuild_all``), so an upgraded database serves the leaderboards it served
before.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-08
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql
from sqlalchemy.orm import Session

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

HELD = "held_results"
LINES = "leaderboard_entries"


def _json(name: str) -> sa.Column:
    return sa.Column(name, sa.JSON().with_variant(postgresql.JSONB(), "postgresql"),
                     nullable=True)


def upgrade() -> None:
    op.create_table(
        HELD,
        sa.Column("submission_id", sa.Integer(), nullable=False),
        sa.Column("phase_id", sa.Integer(), nullable=False),
        sa.Column("score", sa.Float(), nullable=False),
        _json("mean"),
        sa.ForeignKeyConstraint(["submission_id"], ["submissions.id"], ondelete="CASCADE",
                                name=op.f(f"fk_{HELD}_submission_id_submissions")),
        sa.ForeignKeyConstraint(["phase_id"], ["phases.id"], ondelete="CASCADE",
                                name=op.f(f"fk_{HELD}_phase_id_phases")),
        sa.PrimaryKeyConstraint("submission_id", name=op.f(f"pk_{HELD}")),
    )
    op.create_index(op.f(f"ix_{HELD}_phase_id"), HELD, ["phase_id"])
    op.create_table(
        LINES,
        sa.Column("phase_id", sa.Integer(), nullable=False),
        sa.Column("team_id", sa.Integer(), nullable=False),
        sa.Column("submission_id", sa.Integer(), nullable=False),
        sa.Column("score", sa.Float(), nullable=False),
        _json("mean"),
        sa.Column("submitted_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["phase_id"], ["phases.id"], ondelete="CASCADE",
                                name=op.f(f"fk_{LINES}_phase_id_phases")),
        sa.ForeignKeyConstraint(["team_id"], ["teams.id"], ondelete="CASCADE",
                                name=op.f(f"fk_{LINES}_team_id_teams")),
        sa.PrimaryKeyConstraint("phase_id", "team_id", name=op.f(f"pk_{LINES}")),
        sa.UniqueConstraint("submission_id", name=op.f(f"uq_{LINES}_submission_id")),
    )
    op.create_index(op.f(f"ix_{LINES}_team_id"), LINES, ["team_id"])
    from app.leaderboard import rebuild_all

    with Session(bind=op.get_bind()) as session:
        rebuild_all(session)
        session.flush()


def downgrade() -> None:
    op.drop_index(op.f(f"ix_{LINES}_team_id"), table_name=LINES)
    op.drop_table(LINES)
    op.drop_index(op.f(f"ix_{HELD}_phase_id"), table_name=HELD)
    op.drop_table(HELD)
