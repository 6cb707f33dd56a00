"""The app state: one SQLAlchemy engine, migrated on open, and its parts.

SQLite by default (a file beside the store folder), PostgreSQL (or any SQLAlchemy URL)
when ``GIGALOOP_DATABASE_URL`` or the caller names one.

>>> from pathlib import Path
>>> default_url(Path("runs/latest/store"), env={})
'sqlite:///runs/latest/appstate.sqlite'
>>> default_url(Path("runs/latest/store"), env={"GIGALOOP_DATABASE_URL": "postgresql://db/x"})
'postgresql+psycopg://db/x'
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, OperationalError
from sqlalchemy.orm import sessionmaker
from sqlalchemy.pool import StaticPool

from gigaloop.appstate.access import Access
from gigaloop.appstate.migrate import upgrade
from gigaloop.appstate.operations import IngestLog, Offsets, Outbox, Reviews
from gigaloop.errors import ConfigError, StoreError

DATABASE_URL_ENV = "GIGALOOP_DATABASE_URL"
SQLITE_FILE = "appstate.sqlite"


def default_url(store_dir: Path, env: Mapping[str, str] | None = None) -> str:
    """``GIGALOOP_DATABASE_URL`` if set, else a SQLite file beside ``store_dir``
    (``postgresql://`` URLs get the psycopg 3 driver)."""
    env = os.environ if env is None else env
    url = env.get(DATABASE_URL_ENV)
    if not url:
        return f"sqlite:///{Path(store_dir).parent / SQLITE_FILE}"
    return with_driver(url)


def with_driver(url: str) -> str:
    """``postgresql://`` (or ``postgres://``) URLs with the psycopg 3 driver the extra
    installs; others as they are.

    >>> with_driver("postgres://u@db/x"), with_driver("sqlite:///a.sqlite")
    ('postgresql+psycopg://u@db/x', 'sqlite:///a.sqlite')
    """
    if url.startswith(("postgresql://", "postgres://")):
        return "postgresql+psycopg://" + url.split("://", 1)[1]
    return url


def store_root(folder: Path | str) -> Path:
    """The store in ``folder``: ``folder/store`` for a run folder, else ``folder`` itself.

    >>> store_root("runs/nowhere")
    PosixPath('runs/nowhere')
    """
    folder = Path(folder)
    return folder / "store" if (folder / "store").is_dir() else folder


class AppState:
    """Users and tokens (:attr:`access`), change-request verdicts (:attr:`reviews`),
    connector offsets (:attr:`offsets`), the actuator outbox (:attr:`outbox`) and the
    ingest log (:attr:`ingest_log`) in one database, brought to the newest schema on open.
    """

    def __init__(self, url: str, *, migrate: bool = True) -> None:
        self.url = url = with_driver(url)
        self.engine = _engine(url)
        if migrate:
            try:
                upgrade(self.engine)
            except OperationalError as exc:
                self.engine.dispose()
                raise StoreError(f"cannot open the app-state database: {exc.orig}",
                                 url=_safe(url)) from exc
        sessions = sessionmaker(self.engine, expire_on_commit=False)
        self.access = Access(sessions)
        self.reviews = Reviews(sessions)
        self.offsets = Offsets(sessions)
        self.outbox = Outbox(sessions)
        self.ingest_log = IngestLog(sessions)

    @classmethod
    def beside(cls, store_dir: Path | str, url: str | None = None) -> AppState:
        """The app state of the store at ``store_dir`` (see :func:`default_url`)."""
        return cls(url or default_url(Path(store_dir)))

    def __repr__(self) -> str:
        return f"AppState({_safe(self.url)!r})"

    def close(self) -> None:
        self.engine.dispose()


def _engine(url: str) -> Engine:
    try:
        parsed = make_url(url)
    except ArgumentError as exc:
        raise ConfigError(f"not a database URL: {url!r}", url=url) from exc
    options: dict[str, Any] = {}
    if parsed.get_backend_name() == "sqlite":
        options["connect_args"] = {"check_same_thread": False}  # the API's worker threads
        if parsed.database in (None, "", ":memory:"):
            options["poolclass"] = StaticPool  # one in-memory database for every thread
        else:
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
    else:
        options["pool_pre_ping"] = True
    engine = create_engine(parsed, **options)
    if parsed.get_backend_name() == "sqlite":
        event.listen(engine, "connect", _sqlite_pragmas)
    return engine


def _sqlite_pragmas(connection: Any, _record: Any) -> None:
    """Foreign keys on; a writer waits up to 5 s for another (the CLI beside the server)."""
    cursor = connection.cursor()
    cursor.execute("PRAGMA foreign_keys = ON")
    cursor.execute("PRAGMA busy_timeout = 5000")
    cursor.close()


def _safe(url: str) -> str:
    """The URL without its password."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        return "<not a URL>"
