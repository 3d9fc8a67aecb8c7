"""Workers you can see and remote workers: the workers table and worker tokens.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

TOKENS = "worker_tokens"
WORKERS = "workers"


def _ts(name: str, nullable: bool = False) -> sa.Column:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        TOKENS,
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(64), nullable=False),
        sa.Column("token_hash", sa.String(64), nullable=False),
        sa.Column("prefix", sa.String(16), nullable=False),
        _ts("created_at"),
        sa.Column("created_by_id", sa.Integer(), nullable=True),
        _ts("last_used_at", nullable=True),
        _ts("revoked_at", nullable=True),
        sa.ForeignKeyConstraint(["created_by_id"], ["users.id"], ondelete="SET NULL",
                                name=op.f(f"fk_{TOKENS}_created_by_id_users")),
        sa.PrimaryKeyConstraint("id", name=op.f(f"pk_{TOKENS}")),
        sa.UniqueConstraint("token_hash", name=op.f(f"uq_{TOKENS}_token_hash")),
    )
    op.create_table(
        WORKERS,
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(255), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("host", sa.String(255), nullable=False),
        sa.Column("pid", sa.Integer(), nullable=True),
        sa.Column("version", sa.String(255), nullable=False),
        sa.Column("device", sa.String(255), nullable=False),
        sa.Column("token_id", sa.Integer(), nullable=True),
        _ts("started_at"),
        _ts("heartbeat_at"),
        _ts("stopped_at", nullable=True),
        sa.Column("caches", sa.JSON().with_variant(postgresql.JSONB(), "postgresql"),
                  nullable=True),
        sa.CheckConstraint("kind IN ('embedded', 'celery', 'remote')",
                           name=op.f(f"ck_{WORKERS}_kind")),
        sa.ForeignKeyConstraint(["token_id"], [f"{TOKENS}.id"], ondelete="SET NULL",
                                name=op.f(f"fk_{WORKERS}_token_id_{TOKENS}")),
        sa.PrimaryKeyConstraint("id", name=op.f(f"pk_{WORKERS}")),
        sa.UniqueConstraint("name", name=op.f(f"uq_{WORKERS}_name")),
    )
    op.create_index(op.f(f"ix_{WORKERS}_token_id"), WORKERS, ["token_id"])
    op.create_index(op.f(f"ix_{WORKERS}_heartbeat_at"), WORKERS, ["heartbeat_at"])


def downgrade() -> None:
    op.drop_index(op.f(f"ix_{WORKERS}_heartbeat_at"), table_name=WORKERS)
    op.drop_index(op.f(f"ix_{WORKERS}_token_id"), table_name=WORKERS)
    op.drop_table(WORKERS)
    op.drop_table(TOKENS)
