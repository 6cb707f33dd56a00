"""The service's settings, from ``GIGALOOP_*`` environment variables (pydantic-settings).

>>> ServiceSettings(max_ingest_bytes=1024).max_ingest_bytes
1024
>>> ServiceSettings(pseudonym_key="changeme")
Traceback (most recent call last):
pydantic_core._pydantic_core.ValidationError: 1 validation error for ServiceSettings
pseudonym_key
  Value error, a pseudonym key needs at least 32 characters ...
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from gigaloop.errors import ConfigError

MEBIBYTE = 1024 * 1024


class ServiceSettings(BaseSettings):
    """``GIGALOOP_DATABASE_URL``: the app-state database (default: SQLite beside the
    store); ``GIGALOOP_PSEUDONYM_KEY``: the key of marketing's customer pseudonyms
    (default: one made on first start and kept in the app state);
    ``GIGALOOP_MAX_INGEST_BYTES``: the largest ingest payload (10 MiB);
    ``GIGALOOP_DECIDE_EVERY_S``: how often the daily decision cycle looks for ended days to
    decide (600 s; 0: never, the cycle is left to ``gigaloop decide``);
    ``GIGALOOP_APPROVAL``: ``reviewed`` (a change request waits for a person's verdict) or
    ``automatic``."""

    model_config = SettingsConfigDict(env_prefix="GIGALOOP_", extra="ignore")

    database_url: str | None = None
    pseudonym_key: SecretStr | None = None
    max_ingest_bytes: int = Field(default=10 * MEBIBYTE, gt=0)
    max_page_rows: int = Field(default=1000, gt=0)
    decide_every_s: float = Field(default=600.0, ge=0)
    approval: Literal["reviewed", "automatic"] = "reviewed"

    @field_validator("pseudonym_key")
    @classmethod
    def _strong_key(cls, key: SecretStr | None) -> SecretStr | None:
        if key is not None:
            value = key.get_secret_value()
            if len(value) < 32 or len(set(value)) < 8:
                raise ValueError("a pseudonym key needs at least 32 characters and some "
                                 "variety (`openssl rand -hex 32` makes one)")
        return key


def load_settings(**overrides: object) -> ServiceSettings:
    """The settings from the environment, ``overrides`` on top; a bad value is a
    :class:`~gigaloop.errors.ConfigError` that names it."""
    try:
        return ServiceSettings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        raise ConfigError(f"service settings (GIGALOOP_*): {exc}") from exc
