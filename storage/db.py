"""Engine and session factory from a DATABASE_URL, and the schema kept at Alembic's head."""

from __future__ import annotations

import logging
import os
import threading
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import create_engine, event
from sqlalchemy.engine import URL, Connection, Engine, make_url
from sqlalchemy.exc import ArgumentError, DatabaseError
from sqlalchemy.orm import Session, sessionmaker

if TYPE_CHECKING:
    from collections.abc import Mapping

logger = logging.getLogger(__name__)
# Alembic narrates every migration context at INFO; only its warnings matter to a crawl.
logging.getLogger("alembic").setLevel(logging.WARNING)

MIGRATIONS_DIR = Path(__file__).with_name("migrations")


@dataclass(frozen=True, slots=True)
class DatabaseOptions:
    """Every wait of a database connection, in seconds.

    Storage is also used without Scrapy (the writer process, the read commands, tests,
    benchmarks) and cannot import the crawler, so these defaults are the one definition:
    crawler/settings.py re-exports each as a DATABASE_* setting, which the environment and
    `-s` override, and the crawl's components pass them back here.

    Every PostgreSQL connection is bounded, so no fault can make a crawl wait forever: a
    server that does not answer (connect_timeout), a connection cut without a FIN (TCP
    keepalives, tcp_user_timeout), a lock another session holds (lock_timeout), a
    statement that never ends (statement_timeout), and a transaction whose client vanished,
    which would hold its locks for the ~2 h of default keepalives (idle_in_transaction_
    session_timeout, on the server side). A URL's own query parameters win.
    """

    sqlite_busy_timeout: float = 30.0
    """How long a SQLite write waits for another process's lock before "database is locked"."""
    pg_connect_timeout: int = 10
    pg_lock_timeout: int = 10
    pg_statement_timeout: int = 60
    pg_idle_in_transaction_timeout: int = 60
    pg_keepalive_idle: int = 10
    pg_client_timeout: int = 0
    """A write transaction still waiting this long breaks its connection from our side (a
    half-open connection the server never heard from; see storage/writer.py). 0: the
    statement timeout + the lock timeout + 5."""

    @classmethod
    def from_settings(cls, settings: Mapping[str, Any]) -> DatabaseOptions:
        """The options the DATABASE_* settings give (a crawl's Scrapy settings, or the
        module crawler/settings.py for the commands that do not crawl)."""

        def seconds(name: str) -> int:
            return int(float(settings[f"DATABASE_PG_{name}"]))

        return cls(
            sqlite_busy_timeout=float(settings["DATABASE_SQLITE_BUSY_TIMEOUT"]),
            pg_connect_timeout=seconds("CONNECT_TIMEOUT"),
            pg_lock_timeout=seconds("LOCK_TIMEOUT"),
            pg_statement_timeout=seconds("STATEMENT_TIMEOUT"),
            pg_idle_in_transaction_timeout=seconds("IDLE_IN_TRANSACTION_TIMEOUT"),
            pg_keepalive_idle=seconds("KEEPALIVE_IDLE"),
            pg_client_timeout=seconds("CLIENT_TIMEOUT"),
        )

    @property
    def client_timeout(self) -> int:
        """pg_client_timeout, or what 0 stands for."""
        return self.pg_client_timeout or self.pg_statement_timeout + self.pg_lock_timeout + 5


DEFAULT_OPTIONS = DatabaseOptions()


def postgres_connect_args(options: DatabaseOptions) -> dict[str, Any]:
    """libpq parameters that bound every wait of a PostgreSQL connection."""
    server = {
        "lock_timeout": options.pg_lock_timeout * 1000,
        "statement_timeout": options.pg_statement_timeout * 1000,
        "idle_in_transaction_session_timeout": options.pg_idle_in_transaction_timeout * 1000,
    }
    keepalive_idle = options.pg_keepalive_idle
    return {
        "connect_timeout": options.pg_connect_timeout,
        "keepalives": 1,
        "keepalives_idle": keepalive_idle,
        "keepalives_interval": max(1, keepalive_idle // 3),
        "keepalives_count": 3,
        # Unacknowledged data for this long (a peer gone mid-write) breaks the connection.
        "tcp_user_timeout": 2 * keepalive_idle * 1000,
        "options": " ".join(f"-c {name}={value}" for name, value in server.items()),
    }


_upgrade_lock = threading.Lock()
# PostgreSQL advisory lock key held while migrating (any constant unique to ecnews).
MIGRATION_LOCK_ID = 0x65636E657773


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
    cursor.close()


READ_ONLY = "ecnews_read_only"
"""Execution option of read transactions: on SQLite they BEGIN without the write lock."""


def _sqlite_begin(conn: Any) -> None:
    if conn.get_execution_options().get(READ_ONLY):
        conn.exec_driver_sql("BEGIN")
        return
    # Take the write lock at BEGIN, so two writers queue on busy_timeout instead of
    # failing half-way through a transaction with "database is locked".
    conn.exec_driver_sql("BEGIN IMMEDIATE")


def make_engine(url: str, options: DatabaseOptions = DEFAULT_OPTIONS) -> Engine:
    """An engine for `url`, its waits bounded by `options`; SQLite files get their folder
    created and WAL mode."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        # The driver's `timeout` is SQLite's busy timeout (sqlite3_busy_timeout).
        engine = create_engine(parsed, connect_args={"timeout": options.sqlite_busy_timeout})
        event.listen(engine, "connect", _sqlite_pragmas)
        # pysqlite's own transaction handling defers BEGIN; take control of it.
        event.listen(
            engine,
            "connect",
            lambda dbapi_conn, _rec: setattr(dbapi_conn, "isolation_level", None),
        )
        event.listen(engine, "begin", _sqlite_begin)
        return engine
    bounds = postgres_connect_args(options)
    connect_args = {k: v for k, v in bounds.items() if k not in parsed.query}
    return create_engine(
        parsed, pool_pre_ping=True, pool_size=5, max_overflow=5, connect_args=connect_args
    )


def alembic_config(url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


def upgrade(engine: Engine) -> None:
    """Bring the schema to Alembic's head (no-op when it is there already)."""
    with _upgrade_lock, engine.connect() as connection:
        # A batch migration copies a table and drops the old one: on SQLite, with foreign
        # keys on, dropping `articles` would cascade to every row that refers to it. The
        # pragma takes effect only outside a transaction: on the driver's connection.
        raw = connection.connection.driver_connection if engine.dialect.name == "sqlite" else None
        if raw is not None:
            raw.execute("PRAGMA foreign_keys=OFF")
        try:
            with connection.begin():
                _upgrade(connection)
        finally:
            if raw is not None:
                raw.execute("PRAGMA foreign_keys=ON")


def _upgrade(connection: Connection) -> None:
    engine = connection.engine
    if connection.dialect.name == "postgresql":
        # Several workers may start on a fresh database at once: one migrates, the
        # others wait for it, then find the schema at head.
        connection.exec_driver_sql(f"SELECT pg_advisory_xact_lock({MIGRATION_LOCK_ID})")
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

    def __init__(
        self, url: str, *, migrate: bool = True, options: DatabaseOptions = DEFAULT_OPTIONS
    ) -> None:
        self.url = url
        self.options = options
        self.engine = make_engine(url, options)
        if migrate:
            upgrade(self.engine)
        self.sessions: sessionmaker[Session] = sessionmaker(self.engine, expire_on_commit=False)
        self.reads: sessionmaker[Session] = sessionmaker(
            self.engine.execution_options(**{READ_ONLY: True}), expire_on_commit=False
        )
        """Sessions for reading only: they never wait for, or hold, SQLite's write lock."""

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    def dispose(self) -> None:
        self.engine.dispose()


@cache
def get_database(url: str, options: DatabaseOptions = DEFAULT_OPTIONS) -> Database:
    """The process-wide Database for `url` (spider and pipelines share it)."""
    return Database(url, options=options)


# -- Reading only: every reading command of `ecnews`, through open_readonly ----------------


class ReadError(Exception):
    """The database cannot be read as it is; the message says what to do."""


class ReadOnlyDatabase:
    """An engine that cannot write: a SQLite file opened `mode=ro` (and `immutable=1` in a
    folder we cannot write), a PostgreSQL session with `default_transaction_read_only`.
    Never creates a file, never migrates, never takes a write lock or changes the journal
    mode, so a reader neither waits for a crawl nor makes one wait."""

    def __init__(self, url: str, engine: Engine) -> None:
        self.url = url
        self.engine = engine
        self.sessions: sessionmaker[Session] = sessionmaker(engine)

    def dispose(self) -> None:
        self.engine.dispose()


def sqlite_file(url: str) -> Path | None:
    """The file of a SQLite URL; None for PostgreSQL (and for an in-memory database)."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite" or parsed.database in (None, "", ":memory:"):
        return None
    return Path(parsed.database or "")


def sqlite_immutable(path: Path) -> bool:
    """Whether to read this SQLite file as immutable: its folder is not writable by us, so
    SQLite could not create the shared-memory file a WAL reader needs. No crawl of ours
    can be running there either: it must write that folder (journal, lock file). A WAL
    file with data in it is read the ordinary way (immutable would skip its pages)."""
    path = path.resolve()
    wal = path.with_name(f"{path.name}-wal")
    pending = wal.is_file() and wal.stat().st_size > 0
    return not pending and not os.access(path.parent, os.W_OK)


def sqlite_readonly_uri(path: Path) -> URL:
    """The URL that opens `path` so SQLite refuses every write and never creates a file:
    a URI filename with `mode=ro`, and `immutable=1` where sqlite_immutable says so."""
    immutable = {"immutable": "1"} if sqlite_immutable(path) else {}
    return URL.create(
        "sqlite+pysqlite",
        database=f"file:{quote(str(path.resolve()))}",
        query={"mode": "ro", **immutable, "uri": "true"},
    )


def _readonly_engine(url: str, options: DatabaseOptions) -> Engine:
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite":
        connect_args = postgres_connect_args(options)
        connect_args["options"] += " -c default_transaction_read_only=on"
        return create_engine(parsed, connect_args=connect_args)
    path = sqlite_file(url)
    if path is None or not path.is_file():
        raise ReadError(f"no database at {path.resolve() if path else url}")
    readonly = sqlite_readonly_uri(path)
    # pysqlite's default (legacy) transaction handling never BEGINs before a SELECT: the
    # reads run in autocommit, each statement on a consistent snapshot, with no lock kept.
    # The driver's `timeout` is SQLite's busy timeout (sqlite3_busy_timeout).
    engine = create_engine(readonly, connect_args={"timeout": options.sqlite_busy_timeout})
    event.listen(engine, "connect", _readonly_pragmas)
    return engine


def _readonly_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA query_only=ON")
    cursor.close()


def open_readonly(url: str, options: DatabaseOptions = DEFAULT_OPTIONS) -> ReadOnlyDatabase:
    """The database at `url` for reading, its schema checked against the code's.

    Raises ReadError: no database there, not a database, unreachable, or a schema behind
    (or ahead of) this code.
    """
    engine = _readonly_engine(url, options)
    script = ScriptDirectory.from_config(alembic_config(url))
    try:
        with engine.connect() as connection:
            current = MigrationContext.configure(connection).get_current_revision()
    except DatabaseError as error:
        engine.dispose()
        path = sqlite_file(url)
        if path is not None and "not a database" in str(error.orig):
            raise ReadError(f"{path} is not a SQLite database") from error
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
