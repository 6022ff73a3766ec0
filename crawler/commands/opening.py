"""Open an existing database for reading, never creating or migrating one.

Until storage.db gains its read-only opener (`open_readonly`, from the CLI work), this is
the one place to swap for it.
"""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import inspect
from sqlalchemy.engine import make_url

from crawler.settings import database_options
from storage.db import Database
from storage.search import SEARCH_TABLE


class NotReadable(Exception):
    """The database cannot be read as asked; the message is the one line for stderr."""


def sqlite_path(url: str) -> Path | None:
    """The file of a SQLite URL, None for other databases."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite":
        return None
    return Path(parsed.database or "")


def open_existing(url: str, *, needs_search: bool = False) -> Database:
    """The database at `url`; NotReadable when a SQLite file is missing or, with
    `needs_search`, when the search index was never built (schema before 0004)."""
    path = sqlite_path(url)
    if path is not None and not path.is_file():
        raise NotReadable(f"no database at {path}")
    database = Database(url, migrate=False, options=database_options())
    if needs_search:
        with database.engine.connect() as connection:
            found = inspect(connection).has_table(SEARCH_TABLE)
        if not found:
            database.dispose()
            raise NotReadable("no search index in this database: run `ecnews db upgrade`")
    return database
