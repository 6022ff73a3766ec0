"""Checks of a DATABASE_URL made before a command starts: does it name a database we
can use (a usage error, exit 2), and does that database answer (exit 1)? Each problem
is one sentence for the user, never an exception."""

from __future__ import annotations

import os
import re
import sqlite3
from pathlib import Path

from sqlalchemy import create_engine, text
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError, NoSuchModuleError, SQLAlchemyError

from storage.db import brief, redacted

URL_FORMS = "sqlite:///path/to/ecnews.db or postgresql+psycopg://user@host:5432/dbname"
# The part of a libpq message after its "connection to server at … failed:" preamble.
_LIBPQ_REASON = re.compile(r"failed:\s*(?!.*failed:)(.*)", re.DOTALL)
# Drivers that are not ours though SQLAlchemy knows them; a hint for the usual slips.
_HINTS = {"postgres": "postgresql+psycopg://", "psql": "postgresql+psycopg://"}


def url_problem(url: str) -> str | None:
    """Why `url` cannot be a DATABASE_URL (unparseable, unknown driver, driver not
    installed, a backend other than SQLite or PostgreSQL), or None."""
    try:
        parsed = make_url(url)
    except ArgumentError:
        return f"DATABASE_URL {url!r} is not a database URL; use {URL_FORMS}"
    if problem := _driver_problem(parsed):
        return problem
    if parsed.get_backend_name() == "postgresql" and not parsed.database:
        return f"DATABASE_URL {redacted(url)} names no database; use {URL_FORMS}"
    return None


def _driver_problem(parsed: URL) -> str | None:
    driver = parsed.drivername
    if hint := _HINTS.get(driver.split("+")[0]):
        return f"DATABASE_URL: unknown driver {driver!r}; write {hint}… instead ({URL_FORMS})"
    try:
        dialect = parsed.get_dialect()
        if dialect.name not in {"sqlite", "postgresql"}:
            return f"DATABASE_URL: {dialect.name} is not supported; use {URL_FORMS}"
        dialect.import_dbapi()
    except NoSuchModuleError:
        return f"DATABASE_URL: unknown driver {driver!r}; use {URL_FORMS}"
    except ImportError as error:
        return f"DATABASE_URL: driver {driver!r} is not installed ({error}); use {URL_FORMS}"
    return None


def unreachable(url: str, connect_timeout: float) -> str | None:
    """Why the PostgreSQL server of `url` cannot be reached or logged into within
    `connect_timeout` seconds, or None. SQLite needs no server: the crawl creates the file."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        return None
    engine = create_engine(parsed, connect_args={"connect_timeout": connect_timeout})
    try:
        with engine.connect() as connection:
            connection.execute(text("SELECT 1"))
    except SQLAlchemyError as error:
        where = f"{parsed.host or 'localhost'}:{parsed.port or 5432}"
        message = brief(error)
        match = _LIBPQ_REASON.search(message)
        reason = (match.group(1) if match else message).strip().removeprefix("FATAL:").strip()
        return f"database unreachable at {where}: {reason}"
    finally:
        engine.dispose()
    return None


def unwritable(url: str, busy_timeout: float) -> str | None:
    """Why an existing SQLite database cannot be written now, or None: another process
    holds its write lock past `busy_timeout` seconds, or the file is read-only.
    Said before the crawl starts, instead of a crawl that cannot store anything."""
    parsed = make_url(url)
    path = parsed.database
    if parsed.get_backend_name() != "sqlite" or not path or not Path(path).exists():
        return None  # PostgreSQL, memory, or a file the crawl creates
    if not (os.access(path, os.W_OK) and os.access(Path(path).parent, os.W_OK)):
        # The file, or its folder (the journal).
        return _write_problem(path, "readonly", busy_timeout)
    try:
        connection = sqlite3.connect(path, timeout=busy_timeout)
    except sqlite3.Error as error:
        return f"cannot open the database {path}: {error}"
    try:
        connection.isolation_level = None
        # Takes the write lock (and creates the journal) without changing anything.
        connection.execute("BEGIN IMMEDIATE")
        connection.execute("ROLLBACK")
    except sqlite3.OperationalError as error:
        return _write_problem(path, str(error), busy_timeout)
    finally:
        connection.close()
    return None


def _write_problem(path: str, message: str, busy_timeout: float) -> str:
    if "locked" in message or "busy" in message:
        return (
            f"database locked by another process: {path} (still locked after "
            f"{busy_timeout:g} s, ECNEWS_SQLITE_BUSY_TIMEOUT)"
        )
    if "readonly" in message or "read-only" in message:
        return f"database is read-only: {path} (the crawl must write it and its journal)"
    return f"cannot write the database {path}: {message}"
