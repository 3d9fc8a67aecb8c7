"""The one place configuration is read: environment variables with the RAIM_ prefix.

An invalid variable raises ``SettingsError``, which lists every bad variable by name with the
reason (``raim`` prints it as one line each and exits 2).
"""

from __future__ import annotations

import logging
import os
import secrets
import stat
from functools import lru_cache
from pathlib import Path

from limits import parse as parse_limit
from pydantic import Field, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

log = logging.getLogger(__name__)

# Shortest cookie-signing secret accepted (RAIM_SECRET_KEY or the secret_key file).
MIN_SECRET_LENGTH = 32
SECRET_FILE = "secret_key"


class SettingsError(ValueError):
    """Invalid configuration: ``problems`` holds one "RAIM_X: why" line per bad variable."""

    def __init__(self, problems: list[str]):
        super().__init__("; ".join(problems))
        self.problems = problems

    @classmethod
    def from_validation(cls, error: ValidationError) -> SettingsError:
        problems = []
        for item in error.errors():
            field = str(item["loc"][0]) if item["loc"] else "settings"
            reason = item["msg"].removeprefix("Value error, ")
            problems.append(f"RAIM_{field.upper()}: {reason}")
        return cls(problems)


def _default_data_dir() -> Path:
    return Path.home() / ".local" / "share" / "raim-arena"


def _default_weights_dir() -> Path:
    return Path.home() / ".cache" / "raim-arena" / "weights"


def _default_config_dir() -> Path:
    """``$XDG_CONFIG_HOME/raim``, else ``~/.config/raim``: where the team CLI's token file is."""
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "raim"


class Settings(BaseSettings):
    """Every tunable of the service; each field is read from RAIM_<FIELD>."""

    model_config = SettingsConfigDict(env_prefix="RAIM_", extra="ignore")

    data_dir: Path = Field(default_factory=_default_data_dir)
    weights_dir: Path = Field(default_factory=_default_weights_dir)
    database_url: str | None = None
    broker_url: str | None = None
    queue_name: str = "raim.scoring"  # the broker queue of scoring jobs; one per arena on a broker
    # A remote `raim worker` (docs/service.md, "Workers"): the service's URL and a worker token
    # instead of a database and a shared data folder; its data dir then holds only caches.
    service_url: str | None = None
    worker_token: str | None = None
    worker_cache_bytes: int = Field(default=20 * 10**9, ge=0)  # its ground-truth zips, at most
    # The team CLI (`raim submit`, `raim submissions`, `raim status`; README, "From the command
    # line"): the service's address and a team API token, else the first line of the file
    # RAIM_CONFIG_DIR/token (default $XDG_CONFIG_HOME/raim/token, i.e. ~/.config/raim/token).
    server: str = "http://127.0.0.1:8000"
    token: str | None = None
    config_dir: Path = Field(default_factory=_default_config_dir)
    device: str = "auto"
    max_pixels: int = 40_000_000
    max_images: int = 2_000
    max_upload_bytes: int = 8 * 1024**3
    # Reproduction checks (app.reproduction): an image is flagged below this PSNR (dB) or when
    # a pixel differs by more than this many levels (0-255); a request may set its own.
    reproduction_min_psnr: float = Field(default=40.0, gt=0)
    reproduction_max_diff: int = Field(default=4, ge=0, le=255)
    secret_key: str | None = None  # None: generated once into RAIM_DATA_DIR/secret_key
    # Links printed without a request (the CLI's judge links); requests use their own address.
    base_url: str = "http://127.0.0.1:8000"
    host: str = "127.0.0.1"
    port: int = 8000
    scoring_retries: int = 3
    stale_after_seconds: int = 1800
    cookie_secure: bool = False
    sweep_interval_seconds: int = 30  # how often stuck submissions are looked for
    resend_after_seconds: int = 600  # a queued job handed to the broker this long ago is sent again
    max_wait_seconds: int = 600  # cap on POST /score?wait=SECONDS
    # Ground-truth DISTS feature cache of metrics.pipeline.FastScorer, on by default, filled on
    # first use and by the idle embedded worker (app/jobs/warm; docs/service.md, "Workers"):
    # ~104 MB of disk per 1024x1024 ground truth from stage 3, ~488 MB from stage 1. Its budget
    # is the smaller of dists_cache_bytes (0: off) and dists_cache_free_share of its disk;
    # least recently used entries make room.
    dists_cache_dir: Path | None = None  # None: dists_cache_path, under data_dir
    dists_cache_bytes: int = Field(default=20 * 1024**3, ge=0)
    dists_cache_free_share: float = Field(default=0.1, gt=0, le=1)
    dists_cache_from_stage: int = Field(default=3, ge=1, le=5)
    dists_cache_warm: bool = True  # the embedded worker fills it from loaded ground truths when idle
    # Sign-in (docs/service.md, "Security"): server-side sessions, failed sign-ins throttled.
    session_max_age_seconds: int = Field(default=14 * 24 * 3600, gt=0)
    sign_in_account_limit: str = "10 per 15 minutes"  # failed sign-ins for one email
    sign_in_address_limit: str = "30 per 15 minutes"  # failed sign-ins from one client address
    throttle_storage_url: str = "memory://"  # limits storage; redis://... to share it
    shutdown_grace_seconds: int = Field(default=30, ge=0)  # bound on the drain after SIGTERM
    # Team invitations (docs/service.md, "Teams"): single-use links, valid this long.
    invitation_max_age_seconds: int = Field(default=7 * 24 * 3600, gt=0)

    @property
    def token_file(self) -> Path:
        """The team CLI's token file, read when RAIM_TOKEN is not set."""
        return self.config_dir / "token"

    @field_validator("secret_key")
    @classmethod
    def _check_secret_key(cls, value: str | None) -> str | None:
        if not value:
            return None  # RAIM_SECRET_KEY= (empty) is the same as unset
        if len(value) < MIN_SECRET_LENGTH:
            raise ValueError(f"must have at least {MIN_SECRET_LENGTH} characters (it has "
                             f"{len(value)}); make one with: python -c 'import secrets; "
                             f"print(secrets.token_urlsafe(48))', or unset it to have one "
                             f"generated into RAIM_DATA_DIR/{SECRET_FILE}")
        return value

    @field_validator("sign_in_account_limit", "sign_in_address_limit")
    @classmethod
    def _check_limit(cls, value: str) -> str:
        try:
            parse_limit(value)
        except ValueError as exc:
            raise ValueError(f"not a rate limit like '10 per 15 minutes': {value!r}") from exc
        return value

    @field_validator("throttle_storage_url")
    @classmethod
    def _check_throttle_storage(cls, value: str) -> str:
        scheme = value.partition("://")[0]
        if scheme not in {"memory", "redis", "rediss", "redis+sentinel", "redis+cluster"}:
            raise ValueError(f"must be memory:// or a redis://host:port/db URL, not {value!r}")
        return value

    @field_validator("service_url")
    @classmethod
    def _check_service_url(cls, value: str | None) -> str | None:
        if not value:
            return None
        if not value.startswith(("http://", "https://")):
            raise ValueError(f"must be the service's http:// or https:// URL, not {value!r}")
        return value.rstrip("/")

    @field_validator("queue_name")
    @classmethod
    def _check_queue_name(cls, value: str) -> str:
        if not value or len(value) > 200 or not all(c.isalnum() or c in "._-" for c in value):
            raise ValueError(f"must be 1 to 200 letters, digits, '.', '_' or '-', not {value!r}")
        return value

    @field_validator("device")
    @classmethod
    def _check_device(cls, value: str) -> str:
        if value not in {"auto", "cpu", "cuda"} and not value.startswith("cuda:"):
            raise ValueError(f"must be auto, cpu, cuda or cuda:N, not {value!r}")
        return value

    @property
    def sqlalchemy_url(self) -> str:
        return self.database_url or f"sqlite:///{self.data_dir / 'raim.db'}"

    @property
    def uploads_dir(self) -> Path:
        return self.data_dir / "uploads"

    @property
    def datasets_dir(self) -> Path:
        return self.data_dir / "datasets"

    @property
    def dists_cache_path(self) -> Path:
        return self.dists_cache_dir or self.data_dir / "dists-cache"

    def session_secret(self) -> str:
        """The cookie-signing secret: RAIM_SECRET_KEY, else one generated once and kept."""
        if self.secret_key:
            return self.secret_key
        return _secret_file(self.data_dir / SECRET_FILE)


def _secret_file(path: Path) -> str:
    """The secret kept in ``path``, created owner-only on first use (see ``_create_secret``).

    An existing file that group or others may read is tightened to 0600 with a warning.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    if not path.exists():
        _create_secret(path)
    mode = stat.S_IMODE(path.stat().st_mode)
    if mode & 0o077:
        log.warning("%s was readable by group or others (mode %o); tightened to 0600", path, mode)
        path.chmod(0o600)
    secret = path.read_text().strip()
    if len(secret) < MIN_SECRET_LENGTH:
        raise SettingsError([f"{path}: the secret has {len(secret)} characters, fewer than "
                             f"{MIN_SECRET_LENGTH}; delete the file to have a new one generated"])
    return secret


def _create_secret(path: Path) -> None:
    """Write a new secret to ``path`` unless another process got there first.

    The secret goes to a temporary file opened with O_CREAT|O_EXCL and mode 0600 (owner-only
    from its first byte), which is then hard-linked into place: the link either appears whole
    or fails because ``path`` exists, so two processes starting together agree on one secret.
    """
    temporary = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        os.write(descriptor, secrets.token_urlsafe(48).encode("ascii"))
        os.fsync(descriptor)
    finally:
        os.close(descriptor)
    try:
        os.link(temporary, path)
    except FileExistsError:
        pass  # another process created it first: use theirs
    finally:
        temporary.unlink()


@lru_cache
def get_settings() -> Settings:
    """The settings of this process; SettingsError names every invalid RAIM_ variable."""
    try:
        return Settings()
    except ValidationError as exc:
        raise SettingsError.from_validation(exc) from None
