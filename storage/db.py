"""Engine and session factory from a DATABASE_URL, and the schema kept at Alembic's head."""

from __future__ import annotations

import logging
import os
import threading
from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import quote

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import create_engine, event
from sqlalchemy.engine import URL, Engine, make_url
from sqlalchemy.exc import ArgumentError, OperationalError
from sqlalchemy.orm import Session, sessionmaker

logger = logging.getLogger(__name__)
# Alembic narrates every migration context at INFO; only its warnings matter to a crawl.
logging.getLogger("alembic").setLevel(logging.WARNING)

DEFAULT_DATABASE_URL = "sqlite:///data/ecnews.db"
MIGRATIONS_DIR = Path(__file__).with_name("migrations")
SQLITE_BUSY_TIMEOUT_MS = 30_000

_upgrade_lock = threading.Lock()


def database_url(url: str | None = None) -> str:
    """The URL to use: the one given, else DATABASE_URL, else the SQLite default."""
    return url or os.environ.get("DATABASE_URL") or DEFAULT_DATABASE_URL


def redacted(url: str) -> str:
    """The URL with its password hidden, for logs and messages: the user:password@ one and
    a ``?password=`` query parameter alike."""
    try:
        parsed = make_url(url)
    except ArgumentError:
        return "<unparseable DATABASE_URL>"
    masked = "password" in parsed.query
    if masked:
        parsed = parsed.update_query_dict({"password": "MASKED"})
    shown = parsed.render_as_string(hide_password=True)
    return shown.replace("password=MASKED", "password=***") if masked else shown


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    # WAL lets readers (BI tools, the export) work while a crawl writes.
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
    cursor.close()


def _sqlite_begin(conn: Any) -> None:
    # Take the write lock at BEGIN, so two writers queue on busy_timeout instead of
    # failing half-way through a transaction with "database is locked".
    conn.exec_driver_sql("BEGIN IMMEDIATE")


def make_engine(url: str) -> Engine:
    """An engine for `url`; SQLite files get their folder created and WAL mode."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(parsed, connect_args={"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000})
        event.listen(engine, "connect", _sqlite_pragmas)
        # pysqlite's own transaction handling defers BEGIN; take control of it.
        event.listen(
            engine,
            "connect",
            lambda dbapi_conn, _rec: setattr(dbapi_conn, "isolation_level", None),
        )
        event.listen(engine, "begin", _sqlite_begin)
        return engine
    return create_engine(parsed, pool_pre_ping=True, pool_size=5, max_overflow=5)


def alembic_config(url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


def upgrade(engine: Engine) -> None:
    """Bring the schema to Alembic's head (no-op when it is there already)."""
    with _upgrade_lock, engine.begin() as connection:
        config = alembic_config(engine.url.render_as_string(hide_password=False))
        head = ScriptDirectory.from_config(config).get_current_head()
        current = MigrationContext.configure(connection).get_current_revision()
        if current == head:
            return
        logger.info("Upgrading database schema %s -> %s", current, head)
        config.attributes["connection"] = connection
        command.upgrade(config, "head")


class Database:
    """One engine and session factory for a process, schema upgraded on first use."""

    def __init__(self, url: str, *, migrate: bool = True) -> None:
        self.url = url
        self.engine = make_engine(url)
        if migrate:
            upgrade(self.engine)
        self.sessions: sessionmaker[Session] = sessionmaker(self.engine, expire_on_commit=False)

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    def dispose(self) -> None:
        self.engine.dispose()


@cache
def get_database(url: str) -> Database:
    """The process-wide Database for `url` (spider and pipelines share it)."""
    return Database(url)


# -- Reading only (`ecnews export`, `ecnews runs`, and any later read command) ----------


class ReadError(Exception):
    """The database cannot be read as it is; the message says what to do."""


class ReadOnlyDatabase:
    """An engine that cannot write: a SQLite file opened `mode=ro`, a PostgreSQL session
    with `default_transaction_read_only`. Never creates a file and never migrates."""

    def __init__(self, url: str, engine: Engine) -> None:
        self.url = url
        self.engine = engine
        self.sessions: sessionmaker[Session] = sessionmaker(engine)

    def dispose(self) -> None:
        self.engine.dispose()


def _readonly_engine(url: str) -> Engine:
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite":
        return create_engine(
            parsed,
            connect_args={"options": "-c default_transaction_read_only=on", "connect_timeout": 10},
        )
    path = Path(parsed.database or "")
    if not parsed.database or parsed.database == ":memory:" or not path.is_file():
        raise ReadError(f"no database at {path.resolve() if parsed.database else url}")
    # A URI filename with mode=ro: SQLite refuses every write and never creates the file.
    readonly = URL.create(
        "sqlite+pysqlite",
        database=f"file:{quote(str(path.resolve()))}",
        query={"mode": "ro", "uri": "true"},
    )
    engine = create_engine(readonly, connect_args={"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000})
    event.listen(engine, "connect", _readonly_pragmas)
    return engine


def _readonly_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
    cursor.close()


def open_readonly(url: str) -> ReadOnlyDatabase:
    """The database at `url` for reading, its schema checked against the code's.

    Raises ReadError: no database there, unreachable, or a schema behind (or ahead of)
    this code.
    """
    engine = _readonly_engine(url)
    script = ScriptDirectory.from_config(alembic_config(url))
    try:
        with engine.connect() as connection:
            current = MigrationContext.configure(connection).get_current_revision()
    except OperationalError as error:
        engine.dispose()
        raise ReadError(f"cannot read {redacted(url)}: {brief(error)}") from error
    head = script.get_current_head()
    if current != head:
        engine.dispose()
        known = {rev.revision for rev in script.walk_revisions()}
        if current is not None and current not in known:
            raise ReadError(
                f"the database schema ({current}) is newer than this ecnews ({head}): update ecnews"
            )
        raise ReadError(
            f"the database schema ({current or 'empty'}) is behind this ecnews ({head}): "
            "run ecnews db upgrade"
        )
    return ReadOnlyDatabase(url, engine)


def brief(error: Exception) -> str:
    """A database error in one line: the driver's own first line, without SQLAlchemy's
    statement and background-link trailer."""
    orig = getattr(error, "orig", None) or error
    lines = str(orig).strip().splitlines()
    return lines[0].strip() if lines else type(orig).__name__
