"""`ecnews serve`: a read-only web view of the SQLite database, with Datasette.

Datasette opens a database file given as `files=` with `mode=ro` on every connection
(and offers no write endpoint in 0.65), so a crawl may write while analysts read.
The search canned query calls `ecnews_match()` and `ecnews_snippet()`, registered on each
connection by the plugin below with the segmenter the index was built with.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

from crawler.commands import CommandError
from crawler.commands.reading import open_database
from crawler.commands.serve_metadata import metadata
from crawler.exitcodes import EXIT_OK, EXIT_USAGE
from crawler.settings import database_url
from storage.db import sqlite_file, sqlite_immutable
from storage.search import fts5_match, snippet
from storage.segment import query_terms

if TYPE_CHECKING:
    import argparse
    import sqlite3
    from typing import Any


def _snippet(body: str | None, query: str | None) -> str:
    return snippet(body or "", [term.text for term in query_terms(query or "")])


def _match(query: str | None) -> str:
    return fts5_match(query or "")


class SearchFunctions:
    """A Datasette plugin: the search SQL functions on every connection."""

    @staticmethod
    def prepare_connection(conn: sqlite3.Connection) -> None:
        conn.create_function("ecnews_match", 1, _match, deterministic=True)
        conn.create_function("ecnews_snippet", 2, _snippet, deterministic=True)


def add_parser(subparsers: argparse._SubParsersAction[Any]) -> None:
    serve = subparsers.add_parser("serve", help="read-only web view of the SQLite database")
    serve.add_argument("--port", type=int, default=8001)
    serve.add_argument("--host", default="127.0.0.1")


def run(args: argparse.Namespace) -> int:
    url = database_url()
    path = sqlite_file(url)
    if path is None:
        raise CommandError(
            "the web view reads SQLite only; DATABASE_URL is not a SQLite database", EXIT_USAGE
        )
    open_database(url).dispose()  # the same checks as every reader: exists, at head
    immutable = sqlite_immutable(path)  # as storage.db.open_readonly decides
    # Datasette and uvicorn only for this command: the crawl does not need them.
    import uvicorn  # noqa: PLC0415
    from datasette import hookimpl  # noqa: PLC0415
    from datasette.app import Datasette  # noqa: PLC0415
    from datasette.plugins import pm  # noqa: PLC0415

    if not pm.has_plugin("ecnews-search"):
        hookimpl(SearchFunctions.prepare_connection)
        pm.register(SearchFunctions, name="ecnews-search")
    datasette = Datasette(
        files=[] if immutable else [str(path)],
        immutables=[str(path)] if immutable else [],
        metadata=metadata(path.stem),
        settings={"default_page_size": 50, "sql_time_limit_ms": 3000},
    )
    print(f"serving {path} read-only on http://{args.host}:{args.port}/", file=sys.stderr)
    uvicorn.run(datasette.app(), host=args.host, port=args.port, log_level="warning")
    return EXIT_OK
