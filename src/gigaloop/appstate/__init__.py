"""App state: what the service keeps beside the store, in SQLite or PostgreSQL.

Users and API tokens (hashed, with a role and an expiry; a device token is bound to one
source), verdicts on change requests, connector offsets, the actuator outbox and the
ingest log. SQLAlchemy 2 models with Alembic migrations shipped in the package and
applied on open. Needs ``gigaloop[service]``.
"""

from gigaloop.errors import require

require("sqlalchemy", "service")
require("alembic", "service")

from gigaloop.appstate.records import (  # noqa: E402
    IngestEntry,
    IssuedToken,
    OutboxEntry,
    Principal,
    Review,
    Role,
    TokenRecord,
    UserRecord,
)
from gigaloop.appstate.state import (  # noqa: E402
    DATABASE_URL_ENV,
    AppState,
    default_url,
    store_root,
)

__all__ = ["DATABASE_URL_ENV", "AppState", "IngestEntry", "IssuedToken", "OutboxEntry",
           "Principal", "Review", "Role", "TokenRecord", "UserRecord", "default_url", "store_root"]
