"""Configuration from the environment (prefix `ARCHIVE_`), read once per process."""

from __future__ import annotations

from functools import lru_cache
from typing import Annotated

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

DEFAULT_RATE_LIMIT = 1200  # requests per window and address or key, on PostgreSQL


class Settings(BaseSettings):
    """Every setting can be given as an environment variable, e.g. `ARCHIVE_DATABASE_URL`."""

    model_config = SettingsConfigDict(env_prefix="ARCHIVE_", env_file=".env", extra="ignore")

    database_url: str = Field(
        "sqlite:///./archive.db",
        description="SQLAlchemy URL: sqlite:///path/to/file.db or postgresql://user@host/db",
    )
    cors_origins: Annotated[list[str], NoDecode] = Field(
        default_factory=lambda: ["*"],
        description="Origins allowed to call the API from a browser, comma-separated; * for any",
    )
    trusted_proxies: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description="Addresses (or networks, e.g. 10.0.0.0/8) of reverse proxies whose "
        "X-Forwarded-For and X-Forwarded-Proto are believed, comma-separated; none by default, "
        "so a client cannot choose the address it is rate-limited by",
    )
    public_reads: bool = Field(True, description="Whether GET requests work without a key")
    max_body_bytes: int = Field(
        32 * 1024 * 1024, description="Largest request body accepted (413 above it)"
    )
    base_url: str | None = Field(
        None, description="Public URL of the service, for ids in JSON-LD; default: the request's"
    )
    rate_limit_per_address: int | None = Field(
        None,
        ge=0,
        description="Requests one client address may make per window (0: no limit). Default: "
        "off on SQLite (the embedded mode), 1200 on PostgreSQL (the server mode)",
    )
    rate_limit_per_key: int | None = Field(
        None,
        ge=0,
        description="Requests one API key may make per window (0: no limit). Default: off on "
        "SQLite, 1200 on PostgreSQL",
    )
    rate_limit_window_seconds: int = Field(
        60, ge=1, le=86_400, description="Length of the rate-limit window in seconds"
    )
    idempotency_ttl_seconds: int = Field(
        24 * 3600,
        ge=60,
        description="How long the first response to a POST with an Idempotency-Key is replayed",
    )
    db_connect_timeout_seconds: int = Field(
        5, ge=1, description="PostgreSQL: give up connecting after this long (then 503)"
    )
    db_statement_timeout_ms: int = Field(
        30_000,
        ge=0,
        description="PostgreSQL: cancel a request's statement after this long (0: never)",
    )
    read_budget_ms: int = Field(
        10_000,
        ge=0,
        description="How long one read (GET, a lookup) may keep the database busy before it "
        "is stopped with 504 (0: no budget); SQLite and PostgreSQL alike. The export is "
        "bounded by its client instead",
    )
    expensive_concurrency: int = Field(
        4,
        ge=1,
        description="Searches and quote lookups each worker runs at once; more wait (up to "
        "the read budget, then 503), so that cheap requests and writes go on being served",
    )
    db_pool_timeout_seconds: int = Field(
        10, ge=1, description="PostgreSQL: wait this long for a free pooled connection"
    )
    sqlite_busy_timeout_ms: int = Field(
        15_000, ge=0, description="SQLite: wait this long for the write lock (then 503)"
    )
    workers: int = Field(
        1,
        ge=1,
        description="Worker processes `archive serve` starts; `--workers` overrides it. Each "
        "answers with about one core's worth of Python at most (its SQL runs in threads)",
    )
    search_cache_size: int = Field(
        1024,
        ge=0,
        description="Search answers each worker keeps until the next write (0: none); see "
        "archive/cache.py",
    )

    def rate_limits(self) -> tuple[int, int]:
        """(per address, per key) requests per window; 0 means no limit.

        Unset, rate limiting is off for SQLite (a local, embedded archive) and on for
        PostgreSQL, which is how the service is deployed for many users."""
        server = not self.database_url.startswith("sqlite")
        default = DEFAULT_RATE_LIMIT if server else 0
        per_address = self.rate_limit_per_address
        per_key = self.rate_limit_per_key
        return (
            default if per_address is None else per_address,
            default if per_key is None else per_key,
        )

    @field_validator("cors_origins", "trusted_proxies", mode="before")
    @classmethod
    def _split_origins(cls, value: object) -> object:
        if isinstance(value, str):
            return [o.strip() for o in value.split(",") if o.strip()]
        return value


@lru_cache
def get_settings() -> Settings:
    return Settings()
