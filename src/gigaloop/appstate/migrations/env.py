"""Alembic's environment for the app state: runs on the connection the caller hands over
(:func:`gigaloop.appstate.migrate.upgrade`), or on ``-x url=…`` from Alembic's command line."""

from alembic import context
from sqlalchemy import Connection, create_engine

from gigaloop.appstate.models import Base


def run_migrations() -> None:
    config = context.config
    connection = config.attributes.get("connection")
    if connection is None:  # alembic's command line: alembic -x url=sqlite:///x.sqlite …
        url = context.get_x_argument(as_dictionary=True).get("url")
        if not url:
            raise SystemExit("give the database: alembic -x url=sqlite:///appstate.sqlite …")
        with create_engine(url).begin() as connection:
            _run(connection)
    else:
        _run(connection)


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=Base.metadata,
        render_as_batch=True,
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


if hasattr(context, "config"):  # only when Alembic loads this file, not when it is imported
    run_migrations()
