"""`ecnews db check`: the search index holds one row per article."""

from __future__ import annotations

import sys

from crawler.commands.opening import NotReadable, open_existing
from crawler.exitcodes import EXIT_FAILED, EXIT_OK
from crawler.settings import database_url
from storage.search import index_counts


def run() -> int:
    try:
        database = open_existing(database_url(), needs_search=True)
    except NotReadable as error:
        print(error, file=sys.stderr)
        return EXIT_FAILED
    try:
        with database.sessions() as session:
            articles, rows, missing = index_counts(session)
    finally:
        database.dispose()
    print(f"articles {articles}, search index rows {rows}, articles not indexed {missing}")
    if articles != rows or missing:
        print("search index out of step with the articles", file=sys.stderr)
        return EXIT_FAILED
    return EXIT_OK
