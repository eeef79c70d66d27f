"""Configuration from the environment (prefix `ARCHIVE_`), read once per process."""

from __future__ import annotations

from functools import lru_cache
from typing import Annotated

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict


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
    public_reads: bool = Field(True, description="Whether GET requests work without a key")
    max_body_bytes: int = Field(
        32 * 1024 * 1024, description="Largest request body accepted (413 above it)"
    )
    base_url: str | None = Field(
        None, description="Public URL of the service, for ids in JSON-LD; default: the request's"
    )

    @field_validator("cors_origins", mode="before")
    @classmethod
    def _split_origins(cls, value: object) -> object:
        if isinstance(value, str):
            return [o.strip() for o in value.split(",") if o.strip()]
        return value


@lru_cache
def get_settings() -> Settings:
    return Settings()
