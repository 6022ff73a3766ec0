"""storage.db.open_readonly on SQLite and PostgreSQL: reads, refuses every write, never
migrates, and says what to do about a schema behind the code."""

from __future__ import annotations

import pytest
from alembic import command
from alembic.script import ScriptDirectory
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from storage.db import Database, ReadError, alembic_config, open_readonly


def test_reads_and_refuses_writes(database_url: str) -> None:
    Database(database_url).dispose()
    database = open_readonly(database_url)
    try:
        with database.sessions() as session:
            assert session.execute(text("SELECT count(*) FROM article_view")).scalar() == 0
        with pytest.raises(DBAPIError, match=r"read-only|readonly"), database.engine.begin() as c:
            c.execute(text("INSERT INTO sources (name) VALUES ('x')"))
    finally:
        database.dispose()


def test_a_schema_behind_is_reported_not_migrated(database_url: str) -> None:
    command.upgrade(alembic_config(database_url), "0002")
    head = ScriptDirectory.from_config(alembic_config(database_url)).get_current_head()
    with pytest.raises(ReadError, match=rf"behind this ecnews \({head}\): run ecnews db upgrade$"):
        open_readonly(database_url)
    with pytest.raises(ReadError, match="behind"):  # still behind: nothing was migrated
        open_readonly(database_url)


def test_an_empty_database_is_behind(database_url: str) -> None:
    if database_url.startswith("sqlite"):
        path = database_url.removeprefix("sqlite:///")
        open(path, "wb").close()  # noqa: PTH123 -- an empty file, as sqlite3 would leave
    with pytest.raises(ReadError, match=r"\(empty\) is behind"):
        open_readonly(database_url)
