"""`ecnews search QUERY`: ranked articles containing every word of the query."""

from __future__ import annotations

import json
import sys
import unicodedata
from typing import TYPE_CHECKING

from crawler.commands import CommandError
from crawler.commands.reading import check_category, day, positive, reading
from crawler.exitcodes import EXIT_OK, EXIT_USAGE
from storage.search import search
from storage.segment import QueryTooLong, parse_query
from storage.zone import SITE_TZ

if TYPE_CHECKING:
    import argparse
    from typing import Any

    from storage.search import Hit

TITLE_WIDTH = 40


def add_parser(subparsers: argparse._SubParsersAction[Any]) -> None:
    search = subparsers.add_parser("search", help="find articles by Chinese words, Latin, digits")
    search.add_argument("query", nargs="+", help="words; every one must match")
    search.add_argument("--category", help="only articles listed in this category slug")
    search.add_argument(
        "--since", type=day, help="published on/after DATE: 2025-08-01, today, yesterday, 7d"
    )
    search.add_argument("--limit", type=positive, default=20)
    search.add_argument("--format", choices=("table", "jsonl"), default="table")


def run(args: argparse.Namespace) -> int:
    query = " ".join(args.query)
    try:
        wanted = parse_query(query)
    except QueryTooLong as error:
        raise CommandError(f"{error}: shorten it", EXIT_USAGE) from error
    if not wanted.needles:
        raise CommandError(f"nothing to search for in {query!r}", EXIT_USAGE)
    with reading() as session:
        check_category(session, args.category)
        hits = search(session, query, category=args.category, since=args.since, limit=args.limit)
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
