"""Judging protocols: a campaign's protocol and options, best-k picks, pairwise comparisons.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None

PICKS = "judge_picks"
PAIRS = "judge_pairs"


def _ts(name: str, nullable: bool = False) -> sa.Column:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def _json(name: str, nullable: bool = False, **kwargs: object) -> sa.Column:
    return sa.Column(name, sa.JSON().with_variant(postgresql.JSONB(), "postgresql"),
                     nullable=nullable, **kwargs)


def _token(name: str) -> sa.Column:
    return sa.Column(name, sa.String(64), nullable=False)


def upgrade() -> None:
    with op.batch_alter_table("campaigns") as batch:
        batch.add_column(sa.Column("protocol", sa.String(16), nullable=False,
                                   server_default="rating"))
        batch.add_column(_json("protocol_options", server_default="{}"))
        batch.create_check_constraint(op.f("ck_campaigns_protocol"),
                                      "protocol IN ('rating', 'best-k', 'pairwise')")
    op.create_table(
        PICKS,
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("trial_id", sa.Integer(), nullable=False),
        _json("labels"),
        _ts("picked_at"),
        sa.ForeignKeyConstraint(["trial_id"], ["judge_trials.id"], ondelete="CASCADE",
                                name=op.f(f"fk_{PICKS}_trial_id_judge_trials")),
        sa.PrimaryKeyConstraint("id", name=op.f(f"pk_{PICKS}")),
        sa.UniqueConstraint("trial_id", name=op.f(f"uq_{PICKS}_trial_id")),
    )
    op.create_table(
        PAIRS,
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("campaign_id", sa.Integer(), nullable=False),
        sa.Column("judge_id", sa.Integer(), nullable=False),
        sa.Column("image", sa.String(255), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("repeat_of", sa.Integer(), nullable=True),
        sa.Column("first_entry_id", sa.Integer(), nullable=False),
        sa.Column("second_entry_id", sa.Integer(), nullable=False),
        _token("token"), _token("input_token"), _token("first_token"), _token("second_token"),
        sa.Column("outcome", sa.String(8), nullable=True),
        _ts("decided_at", nullable=True),
        sa.CheckConstraint("outcome IN ('first', 'second', 'tie')",
                           name=op.f(f"ck_{PAIRS}_outcome")),
        sa.ForeignKeyConstraint(["campaign_id"], ["campaigns.id"], ondelete="CASCADE",
                                name=op.f(f"fk_{PAIRS}_campaign_id_campaigns")),
        sa.ForeignKeyConstraint(["judge_id"], ["judges.id"], ondelete="CASCADE",
                                name=op.f(f"fk_{PAIRS}_judge_id_judges")),
        sa.ForeignKeyConstraint(["repeat_of"], [f"{PAIRS}.id"], ondelete="CASCADE",
                                name=op.f(f"fk_{PAIRS}_repeat_of_{PAIRS}")),
        sa.ForeignKeyConstraint(["first_entry_id"], ["campaign_entries.id"], ondelete="CASCADE",
                                name=op.f(f"fk_{PAIRS}_first_entry_id_campaign_entries")),
        sa.ForeignKeyConstraint(["second_entry_id"], ["campaign_entries.id"], ondelete="CASCADE",
                                name=op.f(f"fk_{PAIRS}_second_entry_id_campaign_entries")),
        sa.PrimaryKeyConstraint("id", name=op.f(f"pk_{PAIRS}")),
        sa.UniqueConstraint("campaign_id", "judge_id", "position",
                            name=op.f(f"uq_{PAIRS}_campaign_id_judge_id_position")),
        sa.UniqueConstraint("token", name=op.f(f"uq_{PAIRS}_token")),
        sa.UniqueConstraint("input_token", name=op.f(f"uq_{PAIRS}_input_token")),
        sa.UniqueConstraint("first_token", name=op.f(f"uq_{PAIRS}_first_token")),
        sa.UniqueConstraint("second_token", name=op.f(f"uq_{PAIRS}_second_token")),
    )
    op.create_index(op.f(f"ix_{PAIRS}_campaign_id"), PAIRS, ["campaign_id"])
    op.create_index(op.f(f"ix_{PAIRS}_judge_id"), PAIRS, ["judge_id"])


def downgrade() -> None:
    op.drop_index(op.f(f"ix_{PAIRS}_judge_id"), table_name=PAIRS)
    op.drop_index(op.f(f"ix_{PAIRS}_campaign_id"), table_name=PAIRS)
    op.drop_table(PAIRS)
    op.drop_table(PICKS)
    with op.batch_alter_table("campaigns") as batch:
        batch.drop_constraint(op.f("ck_campaigns_protocol"), type_="check")
        batch.drop_column("protocol_options")
        batch.drop_column("protocol")
