"""Every error gigaloop raises, in one tree.

::

    GigaloopError
    ├── ConfigError            settings or a scenario file that cannot be used
    │   └── ScenarioError      a scenario TOML that does not validate
    ├── SchemaError            a table or column the data model does not know
    ├── StoreError             the store could not read or write (engine errors wrapped)
    │   └── EngineError        DuckDB / Spark failed underneath; ``__cause__`` holds it
    ├── IngestError            a source could not be read at all (bad rows are quarantined)
    │   ├── PayloadTooLarge    a batch over the size a receiver accepts
    │   └── UnsupportedFormat  a batch in a format the receiver does not read
    ├── AuthError              no valid credentials: a token missing, unknown, expired, revoked
    ├── AccessDenied           valid credentials that may not do this (role, a device's source)
    ├── NotFoundError          a record asked for by its id does not exist
    ├── ConflictError          a write that contradicts what is recorded (a second verdict)
    ├── ActuationError         an action could not be delivered or applied
    ├── ModelError             a fit that cannot be made (too few events, singular design)
    └── MissingExtraError      an optional extra is not installed; says which ``pip install``

Statistical doubt is a warning (:class:`GigaloopWarning`), impossibility raises.
Errors carry their context (table, VIN, station, …) as attributes.

>>> try:
...     raise SchemaError("no such table", table="telemetry_weekly")
... except GigaloopError as err:
...     print(err, err.context)
no such table {'table': 'telemetry_weekly'}
"""

from __future__ import annotations

from typing import Any


class GigaloopError(Exception):
    """Root of every error gigaloop raises; ``context`` names what it was about."""

    def __init__(self, message: str, **context: Any) -> None:
        super().__init__(message)
        self.context = context


class ConfigError(GigaloopError):
    """Settings or a configuration file that cannot be used."""


class ScenarioError(ConfigError):
    """A scenario file that does not validate."""


class SchemaError(GigaloopError):
    """A table, column or type the data model does not know."""


class StoreError(GigaloopError):
    """The store could not read or write."""


class EngineError(StoreError):
    """The query engine (DuckDB, Spark) failed; the original is ``__cause__``."""


class IngestError(GigaloopError):
    """A source could not be read at all (individual bad rows are quarantined instead)."""


class PayloadTooLarge(IngestError):
    """A batch larger than the receiver accepts (``limit`` bytes)."""


class UnsupportedFormat(IngestError):
    """A batch in a format (media type) the receiver does not read."""


class AuthError(GigaloopError):
    """No valid credentials: a token that is missing, unknown, expired or revoked."""


class AccessDenied(GigaloopError):
    """Valid credentials that may not do this: a role not allowed, another source's rows."""


class NotFoundError(GigaloopError):
    """A record asked for by its id (a change request, a token, a user) does not exist."""


class ConflictError(GigaloopError):
    """A write that contradicts what is recorded (a second verdict on one change request)."""


class ActuationError(GigaloopError):
    """An action could not be delivered to, or applied by, its target."""


class ModelError(GigaloopError):
    """A model fit that cannot be made."""


class MissingExtraError(GigaloopError, ImportError):
    """An optional extra is missing; the message names the ``pip install`` to run."""

    def __init__(self, extra: str, package: str) -> None:
        super().__init__(
            f"{package} is not installed: run `pip install 'gigaloop[{extra}]'`",
            extra=extra,
            package=package,
        )


class GigaloopWarning(UserWarning):
    """Statistical doubt: the result stands but deserves a second look."""


def require(module: str, extra: str) -> Any:
    """Import an optional dependency or raise :class:`MissingExtraError` naming the extra.

    >>> require("json", "core").__name__
    'json'
    """
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise MissingExtraError(extra, module.split(".")[0]) from exc
