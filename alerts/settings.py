"""Service configuration from the environment (prefix ``ALERTCAST_``)."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

REPO_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_SECRET = "dev-insecure-change-me"  # noqa: S105 - the placeholder production refuses


def _default_db_url() -> str:
    return f"sqlite:///{REPO_ROOT / 'var' / 'alertcast.db'}"


class Settings(BaseSettings):
    """Every knob of the service; read once by ``get_settings()`` and passed to ``create_app``."""

    model_config = SettingsConfigDict(env_prefix="ALERTCAST_", env_file=None, extra="ignore")

    env: Literal["development", "test", "production"] = "development"
    database_url: str = Field(default_factory=_default_db_url)
    data_dir: Path = REPO_ROOT / "data"
    var_dir: Path = REPO_ROOT / "var"
    secret_key: SecretStr = SecretStr(DEFAULT_SECRET)
    max_cap_bytes: int = Field(default=1_048_576, ge=1024, le=64 * 1_048_576)
    public_base_url: str = "http://127.0.0.1:8000"
    feed_min_interval_s: float = Field(default=120.0, ge=0)
    http_timeout_s: float = Field(default=10.0, gt=0)
    in_process_worker: bool = True
    embedded_mmsc: bool = True
    api_key_cache_s: float = Field(
        default=5.0, ge=0, le=60, description="verified API keys kept per process; 0 = off"
    )
    mmsc_url: str | None = Field(default=None, description="MM7 URL; unset = embedded simulator")
    mmsc_user: str | None = None
    mmsc_password: SecretStr | None = None
    mmsc_rate_limit: float | None = Field(
        default=None, gt=0, description="SubmitReq/s, all workers"
    )
    mmsc_max_recipients: int = Field(default=1, ge=1, le=1000)
    mmsc_namespace: str | None = None
    mmsc_version: str | None = None
    mmsc_vaspid: str | None = None
    mmsc_vasid: str | None = None
    mmsc_sender: str | None = None
    mmsc_service_code: str | None = None
    sim_report_delay_s: float = Field(default=0.5, ge=0, le=2)
    mm7_inbound_user: str = "mmsc"
    mm7_inbound_password: SecretStr = SecretStr(DEFAULT_SECRET)
    worker_concurrency: int = Field(default=8, ge=1, le=512)
    worker_lease_s: float = Field(
        default=30.0, ge=1, le=600, description="a crashed worker's batch returns after this"
    )
    log_level: str = "INFO"

    @model_validator(mode="after")
    def _refuse_default_secrets_in_production(self) -> Settings:
        if self.env == "production":
            for name in ("secret_key", "mm7_inbound_password"):
                value: SecretStr = getattr(self, name)
                if value.get_secret_value() == DEFAULT_SECRET or len(value.get_secret_value()) < 16:
                    msg = f"ALERTCAST_{name.upper()} must be set to a real secret in production"
                    raise ValueError(msg)
            if self.database_url.startswith("sqlite"):
                raise ValueError("production needs ALERTCAST_DATABASE_URL to point at PostgreSQL")
        return self

    @property
    def is_sqlite(self) -> bool:
        """True when the database is the embedded SQLite file."""
        return self.database_url.startswith("sqlite")


@lru_cache
def get_settings() -> Settings:
    """Settings read from the environment, once per process."""
    return Settings()
