"""`ecnews db upgrade|check`: bring the schema to the latest migration; check that the
search index holds one row per article."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Any

from crawler.commands import CommandError
from crawler.commands.reading import reading
from crawler.exitcodes import EXIT_FAILED, EXIT_OK, EXIT_USAGE
from storage.db import Database, database_url, redacted
from storage.preflight import unreachable, url_problem
from storage.search import index_counts

if TYPE_CHECKING:
    import argparse


def add_parser(subparsers: argparse._SubParsersAction[Any]) -> None:
    db = subparsers.add_parser("db", help="database schema: upgrade it, or check the index")
    db.add_argument(
        "action",
        choices=("upgrade", "check"),
        help="upgrade: to the latest migration; check: one search index row per article",
    )


def run(args: argparse.Namespace) -> int:
    return _check() if args.action == "check" else _upgrade()


def _upgrade() -> int:
    url = database_url()
    if problem := url_problem(url):
        raise CommandError(problem, EXIT_USAGE)
    if problem := unreachable(url):
        raise CommandError(problem)
    Database(url).dispose()
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
