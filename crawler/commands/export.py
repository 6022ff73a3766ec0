"""`ecnews export`: every article per the data contract (jsonl, csv, parquet), or the
newest as an Atom feed."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from crawler.commands import CommandError
from crawler.commands.reading import binary_output, check_category, day, output, positive, reading
from crawler.exitcodes import EXIT_OK, EXIT_USAGE
from storage.export import (
    FIELDS,
    WITH_LOCAL_DATE,
    export_records,
    with_local_date,
    write_csv,
    write_jsonl,
)
from storage.feed import atom_feed

if TYPE_CHECKING:
    import argparse

ATOM_LIMIT = 50
"""Entries in the Atom feed unless --limit says otherwise."""
FORMATS = ("jsonl", "csv", "parquet", "atom")


def add_parser(subparsers: argparse._SubParsersAction[Any]) -> None:
    export = subparsers.add_parser("export", help="write every article, per the data contract")
    export.add_argument("--format", choices=FORMATS, default="jsonl")
    export.add_argument(
        "--since", type=day, help="published on/after DATE: 2025-08-01, today, yesterday, 7d"
    )
    export.add_argument("--category", help="only articles listed in this category slug")
    export.add_argument("--output", "-o", help="file to write (default: standard output)")
    export.add_argument(
        "--limit",
        type=positive,
        help=f"the newest N articles (default: all; atom: {ATOM_LIMIT})",
    )
    export.add_argument(
        "--feed-url",
        help="atom: where the feed is published, its rel=self link (default: the -o file)",
    )
    export.add_argument(
        "--local-date",
        action="store_true",
        help="jsonl, csv: add published_date, the local day (parquet always has it)",
    )


def run(args: argparse.Namespace) -> int:
    if args.format == "atom":
        return _atom(args)
    with reading() as session:
        check_category(session, args.category)
        records = export_records(
            session, since=args.since, category=args.category, limit=args.limit
        )
        if args.format == "parquet":
            from storage.parquet import write_parquet  # noqa: PLC0415  # pyarrow only here

            with binary_output(args.output) as binary:
                count = write_parquet(records, binary)
        else:
            if args.local_date:
                records = with_local_date(records)
            with output(args.output) as out:
                if args.format == "csv":
                    count = write_csv(records, out, WITH_LOCAL_DATE if args.local_date else FIELDS)
                else:
                    count = write_jsonl(records, out)
    print(f"exported {count} articles", file=sys.stderr)
    return EXIT_OK


def _atom(args: argparse.Namespace) -> int:
    if args.since is not None:
        raise CommandError(
            "--since does not apply to the atom feed (it holds the newest --limit)", EXIT_USAGE
        )
    with reading() as session:
        check_category(session, args.category)
        xml = atom_feed(
            session,
            category=args.category,
            limit=args.limit or ATOM_LIMIT,
            self_url=args.feed_url
            or (Path(args.output).resolve().as_uri() if args.output else None),
        )
    with binary_output(args.output) as out:
        out.write(xml)
    return EXIT_OK
