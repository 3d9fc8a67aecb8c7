"""The storage of record: SQLAlchemy 2 models of challenges, teams, accounts, submissions, audit.

Every timestamp is timezone-aware UTC, also on SQLite (which stores none): the
``UTCDateTime`` column type attaches UTC on the way out and refuses naive values on
the way in. Constraint names follow one naming convention so that migrations are stable.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    DateTime,
    Dialect,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
    false,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

PHASE_KINDS = ("paired", "unpaired")
LEADERBOARD_VISIBILITY = ("public", "private", "hidden")
RANK_RULES = ("best", "latest")
DATASET_ROLES = ("inputs", "ground_truth")
SUBMISSION_STATUSES = ("queued", "scoring", "scored", "failed")
# embedded: the thread of `raim serve`; celery: `raim worker` sharing the database and data
# folder; remote: `raim worker` with only the service's URL and a worker token.
WORKER_KINDS = ("embedded", "celery", "remote")


def utcnow() -> datetime:
    """The current time, timezone-aware UTC: the only clock the models use."""
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """A timestamp stored in UTC and always read back timezone-aware."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError(f"naive datetime {value.isoformat()} given; use timezone-aware UTC")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


# JSON on SQLite, JSONB on PostgreSQL.
JSONType = JSON().with_variant(JSONB(), "postgresql")


def _one_of(column: str, values: tuple[str, ...]) -> CheckConstraint:
    allowed = ", ".join(f"'{v}'" for v in values)
    return CheckConstraint(f"{column} IN ({allowed})", name=column)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map = {datetime: UTCDateTime(), dict[str, Any]: JSONType, list[Any]: JSONType}


class User(Base):
    """A person (or a team's service account): organisers, team members, judges."""

    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(320), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    password_hash: Mapped[str | None] = mapped_column(String(255))
    is_organiser: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    is_judge: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    tokens: Mapped[list[ApiToken]] = relationship(back_populates="user", passive_deletes=True)
    memberships: Mapped[list[TeamMember]] = relationship(back_populates="user",
                                                         passive_deletes=True)


class ApiToken(Base):
    """A personal API token; only its sha256 is stored, plus a short prefix to recognise it."""

    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    prefix: Mapped[str] = mapped_column(String(16))
    name: Mapped[str] = mapped_column(String(200), default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_used_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]

    user: Mapped[User] = relationship(back_populates="tokens")


class BrowserSession(Base):
    """A signed-in browser: the cookie carries a random id, only its sha256 is stored here.

    Signing out revokes the row; so does a password change, for the user's other sessions.
    An expired or revoked row signs nobody in.
    """

    __tablename__ = "browser_sessions"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    id_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime]
    revoked_at: Mapped[datetime | None]

    user: Mapped[User] = relationship()


class Challenge(Base):
    """A challenge: its formula (``Formula.to_dict()``) and final ranking blend."""

    __tablename__ = "challenges"

    id: Mapped[int] = mapped_column(primary_key=True)
    slug: Mapped[str] = mapped_column(String(64), unique=True)
    title: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="")
    formula: Mapped[dict[str, Any]]
    ranking: Mapped[list[Any]] = mapped_column(default=list)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    phases: Mapped[list[Phase]] = relationship(
        back_populates="challenge", order_by="Phase.position", passive_deletes=True)
    teams: Mapped[list[Team]] = relationship(back_populates="challenge", passive_deletes=True)


class Phase(Base):
    """One phase of a challenge: dates, quotas, leaderboard rules, qualification."""

    __tablename__ = "phases"
    __table_args__ = (
        UniqueConstraint("challenge_id", "slug"),
        _one_of("kind", PHASE_KINDS),
        _one_of("leaderboard", LEADERBOARD_VISIBILITY),
        _one_of("rank_by", RANK_RULES),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    challenge_id: Mapped[int] = mapped_column(
        ForeignKey("challenges.id", ondelete="CASCADE"), index=True)
    slug: Mapped[str] = mapped_column(String(64))
    title: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(16))
    position: Mapped[int] = mapped_column(Integer, default=0)
    start: Mapped[datetime | None]
    end: Mapped[datetime | None]
    max_submissions_per_day: Mapped[int | None]
    max_submissions: Mapped[int | None]
    leaderboard: Mapped[str] = mapped_column(String(16), default="public")
    rank_by: Mapped[str] = mapped_column(String(16), default="best")
    qualify_from: Mapped[str | None] = mapped_column(String(64))
    qualify_top: Mapped[int | None]
    # The factsheet teams fill in with each submission (revision 0011): FactsheetSpec's dump.
    factsheet: Mapped[dict[str, Any] | None]
    # The phase's own formula (``Formula.to_dict()``), None for the challenge's; and its test
    # stages (folder names; the score is the mean of the stages'), None for one set.
    formula: Mapped[dict[str, Any] | None]
    stages: Mapped[list[Any] | None]

    challenge: Mapped[Challenge] = relationship(back_populates="phases")
    datasets: Mapped[list[Dataset]] = relationship(back_populates="phase", passive_deletes=True)

    def dataset(self, role: str) -> Dataset | None:
        """The phase's dataset with this role (``inputs`` or ``ground_truth``), if any."""
        return next((d for d in self.datasets if d.role == role), None)


class Dataset(Base):
    """A folder of images under RAIM_DATA_DIR/datasets: a phase's inputs or its ground truth."""

    __tablename__ = "datasets"
    __table_args__ = (UniqueConstraint("phase_id", "role"), _one_of("role", DATASET_ROLES))

    id: Mapped[int] = mapped_column(primary_key=True)
    phase_id: Mapped[int] = mapped_column(ForeignKey("phases.id", ondelete="CASCADE"), index=True)
    role: Mapped[str] = mapped_column(String(16))
    path: Mapped[str] = mapped_column(String(1024))  # relative to settings.datasets_dir
    image_count: Mapped[int]
    fingerprint: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    phase: Mapped[Phase] = relationship(back_populates="datasets")


class Team(Base):
    """A team in one challenge; its name is unique within the challenge."""

    __tablename__ = "teams"
    __table_args__ = (UniqueConstraint("challenge_id", "name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    challenge_id: Mapped[int] = mapped_column(
        ForeignKey("challenges.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    challenge: Mapped[Challenge] = relationship(back_populates="teams")
    members: Mapped[list[TeamMember]] = relationship(back_populates="team", passive_deletes=True)


class TeamMember(Base):
    """Membership of a user in a team."""

    __tablename__ = "team_members"

    team_id: Mapped[int] = mapped_column(
        ForeignKey("teams.id", ondelete="CASCADE"), primary_key=True)
    user_id: Mapped[int] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True, index=True)

    team: Mapped[Team] = relationship(back_populates="members")
    user: Mapped[User] = relationship(back_populates="memberships")


class TeamInvitation(Base):
    """A single-use link that lets one signed-in person join a team (app.invitations).

    Only the code's sha256 is stored (the link is shown once, to the member who made it);
    it expires at ``expires_at``, and a member of the team may revoke it before it is used.
    """

    __tablename__ = "team_invitations"

    id: Mapped[int] = mapped_column(primary_key=True)
    team_id: Mapped[int] = mapped_column(ForeignKey("teams.id", ondelete="CASCADE"), index=True)
    code_hash: Mapped[str] = mapped_column(String(64), unique=True)
    prefix: Mapped[str] = mapped_column(String(16))
    created_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime]
    revoked_at: Mapped[datetime | None]
    used_at: Mapped[datetime | None]
    used_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))

    team: Mapped[Team] = relationship()
    created_by: Mapped[User | None] = relationship(foreign_keys=[created_by_id])
    used_by: Mapped[User | None] = relationship(foreign_keys=[used_by_id])


class Submission(Base):
    """One upload to a phase; the row is the source of truth for its scoring state."""

    __tablename__ = "submissions"
    __table_args__ = (
        _one_of("status", SUBMISSION_STATUSES),
        Index(None, "phase_id", "team_id", "created_at"),
        Index(None, "status"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    phase_id: Mapped[int] = mapped_column(ForeignKey("phases.id", ondelete="CASCADE"))
    team_id: Mapped[int] = mapped_column(ForeignKey("teams.id", ondelete="CASCADE"), index=True)
    user_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), index=True)
    status: Mapped[str] = mapped_column(String(16), default="queued")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    started_at: Mapped[datetime | None]
    finished_at: Mapped[datetime | None]
    upload_path: Mapped[str] = mapped_column(String(1024))
    upload_bytes: Mapped[int] = mapped_column(BigInteger)  # uploads may exceed 2 GiB
    upload_sha256: Mapped[str] = mapped_column(String(64))
    original_filename: Mapped[str] = mapped_column(String(255))
    image_count: Mapped[int] = mapped_column(Integer)
    attempts: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    worker: Mapped[str | None] = mapped_column(String(255))
    error: Mapped[str | None] = mapped_column(Text)
    score: Mapped[float | None] = mapped_column(Float)
    mean: Mapped[dict[str, Any] | None]
    versions: Mapped[dict[str, Any] | None]
    notes: Mapped[list[Any] | None]
    # Image name -> "WxH", its size as submitted, for each prediction resized to its ground
    # truth's size for scoring (a formula with size_mismatch: resize); None when none was.
    resized: Mapped[dict[str, Any] | None]
    # Scoring progress and lease (revision 0002): images done, and the worker's last sign of life.
    progress_done: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    heartbeat_at: Mapped[datetime | None]
    # When the job was last handed to the workers (revision 0005); None while no send succeeded
    # (broker down), so the sweeper knows which queued rows to hand over again.
    enqueued_at: Mapped[datetime | None]
    # The factsheet's checked values, field -> value (revision 0011); organisers only.
    factsheet: Mapped[dict[str, Any] | None]

    phase: Mapped[Phase] = relationship()
    team: Mapped[Team] = relationship()
    user: Mapped[User | None] = relationship()
    images: Mapped[list[ImageResult]] = relationship(
        back_populates="submission", order_by="ImageResult.name",
        cascade="all, delete-orphan", passive_deletes=True)


# Rebuilding a leaderboard picks each team's best scored submission with a window function
# (app/leaderboard.py); this index hands the rows over already in that order.
Index("ix_submissions_leaderboard", Submission.phase_id, Submission.status, Submission.team_id,
      Submission.score.desc(), Submission.created_at, Submission.id)


class HeldResult(Base):
    """The score and means a submission had when an organiser queued it for rescoring.

    The leaderboard ranks them until the rescore stores new results (which delete this row);
    if the rescore fails they stay, flagged (docs/service.md, "Rescoring").
    """

    __tablename__ = "held_results"

    submission_id: Mapped[int] = mapped_column(
        ForeignKey("submissions.id", ondelete="CASCADE"), primary_key=True)
    # The submission's phase, so that a leaderboard finds its held results by index without
    # reading every submission of the phase.
    phase_id: Mapped[int] = mapped_column(
        ForeignKey("phases.id", ondelete="CASCADE"), index=True)
    score: Mapped[float] = mapped_column(Float)
    mean: Mapped[dict[str, Any] | None]


class LeaderboardEntry(Base):
    """A team's line on a phase's leaderboard: the submission its rule picks, with that pick's
    score, means and time, kept by app.leaderboard in the transaction that changes them."""

    __tablename__ = "leaderboard_entries"

    phase_id: Mapped[int] = mapped_column(
        ForeignKey("phases.id", ondelete="CASCADE"), primary_key=True)
    team_id: Mapped[int] = mapped_column(
        ForeignKey("teams.id", ondelete="CASCADE"), primary_key=True, index=True)
    # No foreign key: on PostgreSQL its check would share-lock the picked submission, which
    # another worker storing that team's results may hold FOR UPDATE while it waits for the
    # team lock this line's writer holds (a deadlock). Lines go with their phase or team.
    submission_id: Mapped[int] = mapped_column(Integer, unique=True)
    score: Mapped[float] = mapped_column(Float)
    mean: Mapped[dict[str, Any] | None]
    submitted_at: Mapped[datetime]


class ImageResult(Base):
    """The metrics and score of one image of a scored submission."""

    __tablename__ = "image_results"
    __table_args__ = (UniqueConstraint("submission_id", "name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    submission_id: Mapped[int] = mapped_column(
        ForeignKey("submissions.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(255))
    # One column per metric of metrics/registry.py (RAIM_METRICS); code reads them by those
    # names, and tests/app/test_models.py checks that the two lists agree. A metric added to
    # the registry needs a column here and a migration.
    psnr: Mapped[float | None] = mapped_column(Float)
    ssim: Mapped[float | None] = mapped_column(Float)
    lpips: Mapped[float | None] = mapped_column(Float)
    dists: Mapped[float | None] = mapped_column(Float)
    niqe: Mapped[float | None] = mapped_column(Float)
    score: Mapped[float | None] = mapped_column(Float)

    submission: Mapped[Submission] = relationship(back_populates="images")


class WorkerToken(Base):
    """A remote worker's credential, good for the worker API only; only its sha256 is stored.

    Created and revoked by organisers (``raim worker token``, the queue page); the name is
    unique among the tokens not revoked and becomes part of each worker's name.
    """

    __tablename__ = "worker_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(64))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    prefix: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    created_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"))
    last_used_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]


class Worker(Base):
    """A scoring worker process as it last reported itself; every kind of worker heart-beats here.

    ``name`` is what ``Submission.worker`` holds while it scores: ``host:pid`` (celery),
    ``host:pid:local`` (embedded) or ``token-name@host:pid`` (remote). ``caches`` holds the
    cache figures of its last heartbeat (``features``: the DISTS feature cache; ``ground_truth``:
    a remote worker's ground-truth zips), each a plain dict (hits, misses, bytes, entries, ...).
    """

    __tablename__ = "workers"
    __table_args__ = (_one_of("kind", WORKER_KINDS),)

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(255), unique=True)
    kind: Mapped[str] = mapped_column(String(16))
    host: Mapped[str] = mapped_column(String(255), default="")
    pid: Mapped[int | None]
    version: Mapped[str] = mapped_column(String(255), default="")
    device: Mapped[str] = mapped_column(String(255), default="")
    token_id: Mapped[int | None] = mapped_column(
        ForeignKey("worker_tokens.id", ondelete="SET NULL"), index=True)
    started_at: Mapped[datetime] = mapped_column(default=utcnow)
    heartbeat_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    stopped_at: Mapped[datetime | None]
    caches: Mapped[dict[str, Any] | None]

    token: Mapped[WorkerToken | None] = relationship()


class ReproductionCheck(Base):
    """An organiser's reproduced outputs compared with a submission's (app.reproduction):
    the thresholds, the verdict and each image's figures."""

    __tablename__ = "reproduction_checks"

    id: Mapped[int] = mapped_column(primary_key=True)
    submission_id: Mapped[int] = mapped_column(
        ForeignKey("submissions.id", ondelete="CASCADE"), index=True)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    filename: Mapped[str] = mapped_column(String(255))
    min_psnr: Mapped[float] = mapped_column(Float)
    max_diff: Mapped[int] = mapped_column(Integer)
    passed: Mapped[bool] = mapped_column(Boolean)
    image_count: Mapped[int] = mapped_column(Integer)
    flagged: Mapped[int] = mapped_column(Integer)
    # [{"name", "psnr" (None when identical), "max_diff", "flagged", "reason"}], by name
    images: Mapped[list[Any]]

    submission: Mapped[Submission] = relationship()
    actor: Mapped[User | None] = relationship()


class AuditLog(Base):
    """An organiser action (or a system one, without an actor), with what it changed."""

    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    actor_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), index=True)
    action: Mapped[str] = mapped_column(String(64))
    target: Mapped[str] = mapped_column(String(255))
    details: Mapped[dict[str, Any]] = mapped_column(default=dict)

    actor: Mapped[User | None] = relationship()
