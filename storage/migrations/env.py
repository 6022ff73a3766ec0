"""Alembic environment: runs on the connection `storage.db.upgrade` hands over, or on the URL."""

from __future__ import annotations

from typing import TYPE_CHECKING

from alembic import context
from sqlalchemy import create_engine

from storage.models import Base
from storage.search import include_name

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection

config = context.config
target_metadata = Base.metadata


def run_migrations() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    engine = create_engine(config.get_main_option("sqlalchemy.url") or "")
    try:
        with engine.begin() as conn:
            _run(conn)
    finally:
        engine.dispose()  # `alembic upgrade` from the shell: leave no connection open


def _run(connection: Connection) -> None:
    if connection.dialect.name == "sqlite":
        # A batch migration copies a table and renames the copy; since SQLite 3.26 that
        # rename fails while a view (article_view) names the table. The legacy rename
        # leaves views alone, and they read the new table by its name.
        connection.exec_driver_sql("PRAGMA legacy_alter_table=ON")
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=True,  # SQLite cannot ALTER most things; batch mode copies the table
        compare_type=True,
        include_name=include_name,
    )
    with context.begin_transaction():
        context.run_migrations()


run_migrations()
