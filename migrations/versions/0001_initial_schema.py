"""Initial schema: users, tokens, challenges, phases, datasets, teams, submissions, results, audit.

Revision ID: 0001
Revises:
Create Date: 2026-11-25
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def _ts(name: str, nullable: bool = False) -> sa.Column:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def _json(name: str, nullable: bool = False) -> sa.Column:
    return sa.Column(name, sa.JSON().with_variant(postgresql.JSONB(), "postgresql"),
                     nullable=nullable)


def _id() -> sa.Column:
    return sa.Column("id", sa.Integer(), nullable=False)


def _fk(table: str, column: str, target: str, ondelete: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint([column], [f"{target}.id"], ondelete=ondelete,
                                   name=op.f(f"fk_{table}_{column}_{target}"))


def _one_of(table: str, column: str, values: tuple[str, ...]) -> sa.CheckConstraint:
    allowed = ", ".join(f"'{v}'" for v in values)
    return sa.CheckConstraint(f"{column} IN ({allowed})", name=op.f(f"ck_{table}_{column}"))


def _index(table: str, *columns: str) -> None:
    op.create_index(op.f(f"ix_{table}_{'_'.join(columns)}"), table, list(columns))


def upgrade() -> None:
    op.create_table(
        "challenges",
        _id(),
        sa.Column("slug", sa.String(64), nullable=False),
        sa.Column("title", sa.String(200), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        _json("formula"),
        _json("ranking"),
        _ts("created_at"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_challenges")),
        sa.UniqueConstraint("slug", name=op.f("uq_challenges_slug")),
    )
    op.create_table(
        "users",
        _id(),
        sa.Column("email", sa.String(320), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("password_hash", sa.String(255), nullable=True),
        sa.Column("is_organiser", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column("is_judge", sa.Boolean(), server_default=sa.false(), nullable=False),
        _ts("created_at"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_users")),
        sa.UniqueConstraint("email", name=op.f("uq_users_email")),
    )
    op.create_table(
        "api_tokens",
        _id(),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("token_hash", sa.String(64), nullable=False),
        sa.Column("prefix", sa.String(16), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        _ts("created_at"),
        _ts("last_used_at", nullable=True),
        _ts("revoked_at", nullable=True),
        _fk("api_tokens", "user_id", "users", "CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_api_tokens")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_api_tokens_token_hash")),
    )
    _index("api_tokens", "user_id")
    op.create_table(
        "audit_log",
        _id(),
        _ts("at"),
        sa.Column("actor_id", sa.Integer(), nullable=True),
        sa.Column("action", sa.String(64), nullable=False),
        sa.Column("target", sa.String(255), nullable=False),
        _json("details"),
        _fk("audit_log", "actor_id", "users", "SET NULL"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_log")),
    )
    _index("audit_log", "actor_id")
    _index("audit_log", "at")
    op.create_table(
        "phases",
        _id(),
        sa.Column("challenge_id", sa.Integer(), nullable=False),
        sa.Column("slug", sa.String(64), nullable=False),
        sa.Column("title", sa.String(200), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        _ts("start", nullable=True),
        _ts("end", nullable=True),
        sa.Column("max_submissions_per_day", sa.Integer(), nullable=True),
        sa.Column("max_submissions", sa.Integer(), nullable=True),
        sa.Column("leaderboard", sa.String(16), nullable=False),
        sa.Column("rank_by", sa.String(16), nullable=False),
        sa.Column("qualify_from", sa.String(64), nullable=True),
        sa.Column("qualify_top", sa.Integer(), nullable=True),
        _one_of("phases", "kind", ("paired", "unpaired")),
        _one_of("phases", "leaderboard", ("public", "private", "hidden")),
        _one_of("phases", "rank_by", ("best", "latest")),
        _fk("phases", "challenge_id", "challenges", "CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_phases")),
        sa.UniqueConstraint("challenge_id", "slug", name=op.f("uq_phases_challenge_id_slug")),
    )
    _index("phases", "challenge_id")
    op.create_table(
        "teams",
        _id(),
        sa.Column("challenge_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        _ts("created_at"),
        _fk("teams", "challenge_id", "challenges", "CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_teams")),
        sa.UniqueConstraint("challenge_id", "name", name=op.f("uq_teams_challenge_id_name")),
    )
    _index("teams", "challenge_id")
    op.create_table(
        "datasets",
        _id(),
        sa.Column("phase_id", sa.Integer(), nullable=False),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("path", sa.String(1024), nullable=False),
        sa.Column("image_count", sa.Integer(), nullable=False),
        sa.Column("fingerprint", sa.String(64), nullable=False),
        _ts("created_at"),
        _one_of("datasets", "role", ("inputs", "ground_truth")),
        _fk("datasets", "phase_id", "phases", "CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_datasets")),
        sa.UniqueConstraint("phase_id", "role", name=op.f("uq_datasets_phase_id_role")),
    )
    _index("datasets", "phase_id")
    op.create_table(
        "submissions",
        _id(),
        sa.Column("phase_id", sa.Integer(), nullable=False),
        sa.Column("team_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=True),
        sa.Column("status", sa.String(16), nullable=False),
        _ts("created_at"),
        _ts("started_at", nullable=True),
        _ts("finished_at", nullable=True),
        sa.Column("upload_path", sa.String(1024), nullable=False),
        sa.Column("upload_bytes", sa.BigInteger(), nullable=False),
        sa.Column("upload_sha256", sa.String(64), nullable=False),
        sa.Column("original_filename", sa.String(255), nullable=False),
        sa.Column("image_count", sa.Integer(), nullable=False),
        sa.Column("attempts", sa.Integer(), server_default="0", nullable=False),
        sa.Column("worker", sa.String(255), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("score", sa.Float(), nullable=True),
        _json("mean", nullable=True),
        _json("versions", nullable=True),
        _json("notes", nullable=True),
        _one_of("submissions", "status", ("queued", "scoring", "scored", "failed")),
        _fk("submissions", "phase_id", "phases", "CASCADE"),
        _fk("submissions", "team_id", "teams", "CASCADE"),
        _fk("submissions", "user_id", "users", "SET NULL"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_submissions")),
    )
    _index("submissions", "phase_id", "team_id", "created_at")
    _index("submissions", "status")
    _index("submissions", "team_id")
    _index("submissions", "user_id")
    op.create_table(
        "team_members",
        sa.Column("team_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        _fk("team_members", "team_id", "teams", "CASCADE"),
        _fk("team_members", "user_id", "users", "CASCADE"),
        sa.PrimaryKeyConstraint("team_id", "user_id", name=op.f("pk_team_members")),
    )
    _index("team_members", "user_id")
    op.create_table(
        "image_results",
        _id(),
        sa.Column("submission_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(255), nullable=False),
        *(sa.Column(m, sa.Float(), nullable=True)
          for m in ("psnr", "ssim", "lpips", "dists", "niqe", "score")),
        _fk("image_results", "submission_id", "submissions", "CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_image_results")),
        sa.UniqueConstraint("submission_id", "name",
                            name=op.f("uq_image_results_submission_id_name")),
    )


def downgrade() -> None:
    # Indexes go with their tables; drop children before parents.
    for table in ("image_results", "team_members", "submissions", "datasets", "teams",
                  "phases", "audit_log", "api_tokens", "users", "challenges"):
        op.drop_table(table)
