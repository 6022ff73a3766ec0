"""`ecnews serve`: a read-only web view of the SQLite database, with Datasette.

Datasette opens a database file given as `files=` with `mode=ro` on every connection
(and offers no write endpoint in 0.65), so a crawl may write while analysts read.
The search canned query calls `ecnews_match()` and `ecnews_snippet()`, registered on each
connection by the plugin below with the segmenter the index was built with.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

from crawler.commands.opening import NotReadable, open_existing, sqlite_path
from crawler.commands.serve_metadata import metadata
from crawler.exitcodes import EXIT_FAILED, EXIT_OK, EXIT_USAGE
from crawler.settings import database_url
from storage.search import fts5_match, snippet
from storage.segment import query_terms

if TYPE_CHECKING:
    import argparse
    import sqlite3


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


def run(args: argparse.Namespace) -> int:
    url = database_url()
    path = sqlite_path(url)
    if path is None:
        print(
            "the web view reads SQLite only; DATABASE_URL is not a SQLite database", file=sys.stderr
        )
        return EXIT_USAGE
    try:
        open_existing(url, needs_search=True).dispose()
    except NotReadable as error:
        print(error, file=sys.stderr)
        return EXIT_FAILED
    # Datasette and uvicorn only for this command: the crawl does not need them.
    import uvicorn  # noqa: PLC0415
    from datasette import hookimpl  # noqa: PLC0415
    from datasette.app import Datasette  # noqa: PLC0415
    from datasette.plugins import pm  # noqa: PLC0415

    if not pm.has_plugin("ecnews-search"):
        hookimpl(SearchFunctions.prepare_connection)
        pm.register(SearchFunctions, name="ecnews-search")
    datasette = Datasette(
        files=[str(path)],
        metadata=metadata(path.stem),
        settings={"default_page_size": 50, "sql_time_limit_ms": 3000},
    )
    print(f"serving {path} read-only on http://{args.host}:{args.port}/", file=sys.stderr)
    uvicorn.run(datasette.app(), host=args.host, port=args.port, log_level="warning")
    return EXIT_OK
