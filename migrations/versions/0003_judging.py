"""Judging: judges, qualified teams, rating campaigns, their entries, trials, candidates, ratings.

Revision ID: 0003_judging
Revises: 0002
Create Date: 2026-11-25
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0003_judging"
down_revision = "0002"
branch_labels = None
depends_on = None

TABLES = ("judge_ratings", "judge_candidates", "judge_trials", "campaign_entries", "campaigns",
          "qualifications", "judges")


def _id() -> sa.Column:
    return sa.Column("id", sa.Integer(), nullable=False)


def _ts(name: str, nullable: bool = False) -> sa.Column:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def _int(name: str, nullable: bool = False) -> sa.Column:
    return sa.Column(name, sa.Integer(), nullable=nullable)


def _json(name: str, nullable: bool = False) -> sa.Column:
    return sa.Column(name, sa.JSON().with_variant(postgresql.JSONB(), "postgresql"),
                     nullable=nullable)


def _pk(table: str) -> sa.PrimaryKeyConstraint:
    return sa.PrimaryKeyConstraint("id", name=op.f(f"pk_{table}"))


def _fk(table: str, column: str, target: str, ondelete: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint([column], [f"{target}.id"], ondelete=ondelete,
                                   name=op.f(f"fk_{table}_{column}_{target}"))


def _unique(table: str, *columns: str) -> sa.UniqueConstraint:
    return sa.UniqueConstraint(*columns, name=op.f(f"uq_{table}_{'_'.join(columns)}"))


def _one_of(table: str, column: str, values: tuple[str, ...]) -> sa.CheckConstraint:
    allowed = ", ".join(f"'{v}'" for v in values)
    return sa.CheckConstraint(f"{column} IN ({allowed})", name=op.f(f"ck_{table}_{column}"))


def _index(table: str, column: str) -> None:
    op.create_index(op.f(f"ix_{table}_{column}"), table, [column])


def upgrade() -> None:
    op.create_table(
        "judges", _id(), _int("challenge_id"), _int("user_id"),
        sa.Column("name", sa.String(200), nullable=False), _ts("created_at"),
        _fk("judges", "challenge_id", "challenges", "CASCADE"),
        _fk("judges", "user_id", "users", "CASCADE"), _pk("judges"),
        _unique("judges", "challenge_id", "user_id"), _unique("judges", "challenge_id", "name"))
    _index("judges", "challenge_id")
    _index("judges", "user_id")
    op.create_table(
        "qualifications", _id(), _int("phase_id"), _int("team_id"),
        _int("source_rank", nullable=True), sa.Column("source", sa.String(16), nullable=False),
        _ts("confirmed_at"), _int("confirmed_by", nullable=True),
        _one_of("qualifications", "source", ("leaderboard", "organiser")),
        _fk("qualifications", "phase_id", "phases", "CASCADE"),
        _fk("qualifications", "team_id", "teams", "CASCADE"),
        _fk("qualifications", "confirmed_by", "users", "SET NULL"), _pk("qualifications"),
        _unique("qualifications", "phase_id", "team_id"))
    _index("qualifications", "phase_id")
    _index("qualifications", "team_id")
    op.create_table(
        "campaigns", _id(), _int("phase_id"), sa.Column("status", sa.String(16), nullable=False),
        _int("scale_min"), _int("scale_max"), sa.Column("criteria", sa.Boolean(), nullable=False),
        sa.Column("repeat_share", sa.Float(), nullable=False), _json("method"), _ts("created_at"),
        _ts("closed_at", nullable=True), _int("created_by", nullable=True),
        _one_of("campaigns", "status", ("open", "closed")),
        _fk("campaigns", "phase_id", "phases", "CASCADE"),
        _fk("campaigns", "created_by", "users", "SET NULL"), _pk("campaigns"))
    _index("campaigns", "phase_id")
    op.create_table(
        "campaign_entries", _id(), _int("campaign_id"), _int("team_id"), _int("submission_id"),
        _fk("campaign_entries", "campaign_id", "campaigns", "CASCADE"),
        _fk("campaign_entries", "team_id", "teams", "CASCADE"),
        _fk("campaign_entries", "submission_id", "submissions", "CASCADE"),
        _pk("campaign_entries"), _unique("campaign_entries", "campaign_id", "team_id"))
    _index("campaign_entries", "campaign_id")
    op.create_table(
        "judge_trials", _id(), _int("campaign_id"), _int("judge_id"),
        sa.Column("image", sa.String(255), nullable=False), _int("position"),
        _int("repeat_of", nullable=True), sa.Column("token", sa.String(64), nullable=False),
        sa.Column("input_token", sa.String(64), nullable=False),
        _fk("judge_trials", "campaign_id", "campaigns", "CASCADE"),
        _fk("judge_trials", "judge_id", "judges", "CASCADE"),
        _fk("judge_trials", "repeat_of", "judge_trials", "CASCADE"), _pk("judge_trials"),
        _unique("judge_trials", "campaign_id", "judge_id", "position"),
        _unique("judge_trials", "token"), _unique("judge_trials", "input_token"))
    _index("judge_trials", "campaign_id")
    _index("judge_trials", "judge_id")
    op.create_table(
        "judge_candidates", _id(), _int("trial_id"), _int("entry_id"),
        sa.Column("label", sa.String(4), nullable=False),
        sa.Column("image_token", sa.String(64), nullable=False),
        _fk("judge_candidates", "trial_id", "judge_trials", "CASCADE"),
        _fk("judge_candidates", "entry_id", "campaign_entries", "CASCADE"),
        _pk("judge_candidates"), _unique("judge_candidates", "trial_id", "label"),
        _unique("judge_candidates", "trial_id", "entry_id"),
        _unique("judge_candidates", "image_token"))
    _index("judge_candidates", "trial_id")
    op.create_table(
        "judge_ratings", _id(), _int("candidate_id"),
        sa.Column("score", sa.Float(), nullable=False),
        _json("criteria", nullable=True), _ts("rated_at"),
        _fk("judge_ratings", "candidate_id", "judge_candidates", "CASCADE"), _pk("judge_ratings"),
        _unique("judge_ratings", "candidate_id"))


def downgrade() -> None:
    for table in TABLES:
        op.drop_table(table)
