"""The service: FastAPI over a store folder and its app state (needs ``gigaloop[service]``).

``create_app(store_dir)`` builds the app; ``gigaloop serve --store DIR`` runs it with
uvicorn. Routes live in :mod:`gigaloop.api.routes`, one module per resource; every route
needs a bearer token of a role it allows (:func:`gigaloop.api.deps.allow`), and domain
errors become HTTP answers in one handler (:mod:`gigaloop.api.errors`).
"""

from gigaloop.errors import require

for _module in ("fastapi", "uvicorn", "sqlalchemy", "alembic"):
    require(_module, "service")

from gigaloop.api.main import create_app  # noqa: E402
from gigaloop.api.settings import load_settings  # noqa: E402
from gigaloop.appstate import store_root  # noqa: E402

__all__ = ["create_app", "load_settings", "store_root"]
