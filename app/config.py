"""The one place configuration is read: environment variables with the RAIM_ prefix."""

from __future__ import annotations

import secrets
from functools import lru_cache
from pathlib import Path

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


def _default_data_dir() -> Path:
    return Path.home() / ".local" / "share" / "raim-arena"


def _default_weights_dir() -> Path:
    return Path.home() / ".cache" / "raim-arena" / "weights"


class Settings(BaseSettings):
    """Every tunable of the service; each field is read from RAIM_<FIELD>."""

    model_config = SettingsConfigDict(env_prefix="RAIM_", extra="ignore")

    data_dir: Path = Field(default_factory=_default_data_dir)
    weights_dir: Path = Field(default_factory=_default_weights_dir)
    database_url: str | None = None
    broker_url: str | None = None
    device: str = "auto"
    max_pixels: int = 40_000_000
    max_images: int = 2_000
    max_upload_bytes: int = 8 * 1024**3
    secret_key: str | None = None
    base_url: str = "http://127.0.0.1:8000"
    host: str = "127.0.0.1"
    port: int = 8000
    scoring_retries: int = 3
    stale_after_seconds: int = 1800
    cookie_secure: bool = False
    sweep_interval_seconds: int = 30  # how often stuck submissions are looked for
    resend_after_seconds: int = 600  # a queued job handed to the broker this long ago is sent again
    max_wait_seconds: int = 600  # cap on POST /score?wait=SECONDS
    # Ground-truth DISTS feature cache of metrics.pipeline.FastScorer (off while 0 bytes):
    # ~104 MB of disk per 1024x1024 ground truth from stage 3, ~488 MB from stage 1.
    dists_cache_dir: Path | None = None  # None: dists_cache_path, under data_dir
    dists_cache_bytes: int = 0
    dists_cache_from_stage: int = 3

    @field_validator("device")
    @classmethod
    def _check_device(cls, value: str) -> str:
        if value not in {"auto", "cpu", "cuda"} and not value.startswith("cuda:"):
            raise ValueError(f"RAIM_DEVICE must be auto, cpu, cuda or cuda:N, not {value!r}")
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
        path = self.data_dir / "secret_key"
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(secrets.token_urlsafe(48))
            path.chmod(0o600)
        return path.read_text().strip()


@lru_cache
def get_settings() -> Settings:
    return Settings()
