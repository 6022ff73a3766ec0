"""`ecnews export --format atom`: the newest articles as an Atom 1.0 feed."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING

from crawler.commands.opening import NotReadable, open_existing
from crawler.exitcodes import EXIT_FAILED, EXIT_OK, EXIT_USAGE
from crawler.settings import database_url
from storage.feed import atom_feed

if TYPE_CHECKING:
    import argparse


def run(args: argparse.Namespace) -> int:
    if args.limit < 1:
        print("--limit must be at least 1", file=sys.stderr)
        return EXIT_USAGE
    if args.since is not None:
        print(
            "--since does not apply to the atom feed (it holds the newest --limit)", file=sys.stderr
        )
        return EXIT_USAGE
    try:
        database = open_existing(database_url())
    except NotReadable as error:
        print(error, file=sys.stderr)
        return EXIT_FAILED
    try:
        with database.sessions() as session:
            xml = atom_feed(session, category=args.category, limit=args.limit)
    finally:
        database.dispose()
    if args.output:
        Path(args.output).write_bytes(xml)
    else:
        sys.stdout.buffer.write(xml)
        sys.stdout.flush()
    return EXIT_OK
