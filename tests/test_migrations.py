"""The Alembic migrations build exactly the schema the models declare, on both databases."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect

from storage.db import Database
from storage.models import Base
from storage.search import include_name


def test_migrations_match_the_models(database_url: str) -> None:
    database = Database(database_url)
    try:
        with database.engine.connect() as connection:
            context = MigrationContext.configure(
                connection, opts={"compare_type": False, "include_name": include_name}
            )
            diff = compare_metadata(context, Base.metadata)
            tables = set(inspect(connection).get_table_names())
    finally:
        database.dispose()
    assert diff == []
    assert set(Base.metadata.tables) <= tables


def test_upgrade_is_idempotent(database_url: str) -> None:
    Database(database_url).dispose()
    Database(database_url).dispose()  # at head already: nothing to do, nothing fails
