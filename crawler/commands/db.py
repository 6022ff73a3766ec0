"""`ecnews db upgrade|check|backup`: bring the schema to the latest migration; check that
the search index holds one row per article; copy a SQLite database with its backup API."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy.exc import DatabaseError

from crawler.commands import CommandError
from crawler.commands.reading import reachable_url, reading
from crawler.exitcodes import EXIT_FAILED, EXIT_OK, EXIT_USAGE
from crawler.settings import database_url
from storage.backup import BackupError, backup_sqlite
from storage.db import Database, brief, redacted, sqlite_file
from storage.preflight import url_problem
from storage.search import index_counts

if TYPE_CHECKING:
    import argparse


def add_parser(subparsers: argparse._SubParsersAction[Any]) -> None:
    db = subparsers.add_parser(
        "db", help="database upkeep: upgrade the schema, check the index, back up SQLite"
    )
    db.add_argument(
        "action",
        choices=("upgrade", "check", "backup"),
        help="upgrade: to the latest migration; check: one search index row per article; "
        "backup PATH: a consistent one-file copy of a SQLite database",
    )
    db.add_argument("path", nargs="?", help="backup: the new file to write")


def run(args: argparse.Namespace) -> int:
    if args.action == "backup":
        return _backup(args.path)
    if args.path is not None:
        raise CommandError(f"db {args.action} takes no PATH", EXIT_USAGE)
    return _check() if args.action == "check" else _upgrade()


def _backup(target: str | None) -> int:
    url = database_url()
    if problem := url_problem(url):
        raise CommandError(problem, EXIT_USAGE)
    source = sqlite_file(url)
    if source is None:
        raise CommandError("backup copies SQLite databases; for PostgreSQL use pg_dump", EXIT_USAGE)
    if not target:
        raise CommandError("db backup needs the PATH of the copy to write", EXIT_USAGE)
    if not source.is_file():
        raise CommandError(f"no database at {source.resolve()}")
    if Path(target).exists():
        raise CommandError(f"{target} exists; a backup never overwrites a file", EXIT_USAGE)
    try:
        size = backup_sqlite(source, Path(target))
    except BackupError as error:
        raise CommandError(str(error)) from error
    print(f"backed up {source} to {target} ({size} bytes)", file=sys.stderr)
    return EXIT_OK


def _upgrade() -> int:
    url, options = reachable_url()
    try:
        Database(url, options=options).dispose()
    except DatabaseError as error:  # a file that is not a database, a disk that is full
        raise CommandError(f"cannot upgrade {redacted(url)}: {brief(error)}") from error
    print(f"schema up to date: {redacted(url)}", file=sys.stderr)
    return EXIT_OK


def _check() -> int:
    with reading() as session:
        articles, rows, missing = index_counts(session)
    print(f"articles {articles}, search index rows {rows}, articles not indexed {missing}")
    if articles != rows or missing:
        print("ecnews db: search index out of step with the articles", file=sys.stderr)
        return EXIT_FAILED
    return EXIT_OK
