"""`ecnews search QUERY`: ranked articles containing every word of the query."""

from __future__ import annotations

import json
import sys
import unicodedata
from typing import TYPE_CHECKING

from crawler.commands.opening import NotReadable, open_existing
from crawler.exitcodes import EXIT_FAILED, EXIT_OK, EXIT_USAGE
from crawler.settings import database_url
from storage.search import search
from storage.segment import query_terms
from storage.zone import SITE_TZ

if TYPE_CHECKING:
    import argparse

    from storage.search import Hit

TITLE_WIDTH = 40


def run(args: argparse.Namespace) -> int:
    query = " ".join(args.query)
    if not query_terms(query):
        print(f"nothing to search for in {query!r}", file=sys.stderr)
        return EXIT_USAGE
    if args.limit < 1:
        print("--limit must be at least 1", file=sys.stderr)
        return EXIT_USAGE
    try:
        database = open_existing(database_url(), needs_search=True)
    except NotReadable as error:
        print(error, file=sys.stderr)
        return EXIT_FAILED
    try:
        with database.sessions() as session:
            hits = search(
                session, query, category=args.category, since=args.since, limit=args.limit
            )
    finally:
        database.dispose()
    if args.format == "jsonl":
        for hit in hits:
            print(json.dumps(_record(hit), ensure_ascii=False))
    else:
        _table(hits)
    print(f"{len(hits)} articles", file=sys.stderr)
    return EXIT_OK


def _record(hit: Hit) -> dict[str, str | None]:
    return {
        "title": hit.title,
        "published_at": hit.published_at.astimezone(SITE_TZ).isoformat()
        if hit.published_at
        else None,
        "source": hit.source,
        "url": hit.url,
        "snippet": hit.snippet,
    }


def _width(text: str) -> int:
    """Terminal columns: Han and full-width characters take two."""
    return sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in text)


def _cut(text: str, width: int) -> str:
    out, used = "", 0
    for char in text:
        if used + _width(char) > width - 1 and _width(text) > width:
            return out + "…"
        out += char
        used += _width(char)
    return out


def _table(hits: list[Hit]) -> None:
    for rank, hit in enumerate(hits, 1):
        title = _cut(hit.title, TITLE_WIDTH)
        title += " " * (TITLE_WIDTH - _width(title))
        print(f"{rank:>3}  {hit.local_date():10}  {title}  {hit.source or '-'}")
        print(f"     {hit.url}")
        print(f"     {hit.snippet}")
