"""Bring an app-state database to the newest schema with the migrations shipped here.

This is ``alembic upgrade head`` run in-process: the service runs it on every start (a
database already at head is left alone). New revisions are written with Alembic's own
command line from the worktree root, e.g.
``alembic -x url=sqlite:///dev.sqlite revision --autogenerate -m "…"`` with
``script_location = src/gigaloop/appstate/migrations`` (see ``docs/api.md``).

>>> from sqlalchemy import create_engine, inspect
>>> engine = create_engine("sqlite://")
>>> upgrade(engine)
>>> "api_tokens" in inspect(engine).get_table_names(), current_revision(engine) == HEAD
(True, True)
"""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine

MIGRATIONS = Path(__file__).with_name("migrations")


def _config() -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    return config


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Apply every migration up to ``revision`` on ``engine``'s database."""
    config = _config()
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, revision)


def current_revision(engine: Engine) -> str | None:
    """The revision the database is at (None before the first migration)."""
    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


#: The newest revision shipped with this version of gigaloop.
HEAD = ScriptDirectory.from_config(_config()).get_current_head()
