"""Settings, read once from the environment (``GIGALOOP_*``) and validated.

>>> Settings(data_dir="/tmp/g").engine
'duckdb'
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    """Where data lives and which engine queries it."""

    model_config = SettingsConfigDict(env_prefix="GIGALOOP_", extra="forbid")

    data_dir: Path = Path("data")
    engine: Literal["duckdb", "spark"] = "duckdb"
    spark_master: str = "local[2]"

    @field_validator("data_dir")
    @classmethod
    def _not_root(cls, value: Path) -> Path:
        if value.resolve() == Path("/"):
            raise ValueError("data_dir must not be the file-system root")
        return value


def get_settings() -> Settings:
    """The settings, read from the environment now (a function, so tests can override it)."""
    return Settings()
