"""`ecnews archive stats` and `ecnews archive prune --keep-latest N` (docs/archive.md)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from crawler.archive.prune import prune
from crawler.archive.store import index_entries
from crawler.exitcodes import EXIT_LOCKED, EXIT_OK, EXIT_USAGE
from crawler.settings import ARCHIVE_DIR, ECNEWS_LOCK_FILE, database_url

if TYPE_CHECKING:
    import argparse


def add_parser(subparsers: Any) -> None:
    parser = subparsers.add_parser("archive", help="the WARC archive: stats, prune")
    actions = parser.add_subparsers(dest="action", required=True)
    actions.add_parser("stats", help="files, records, bytes, oldest and newest capture")
    pruning = actions.add_parser("prune", help="keep the latest N captures per URL")
    pruning.add_argument(
        "--keep-latest", type=int, metavar="N", help="captures kept per URL (default: all)"
    )


def run(args: argparse.Namespace) -> int:
    where = Path(ARCHIVE_DIR)
    if not where.is_dir():
        print(f"ecnews archive: no archive under {where} (ECNEWS_ARCHIVE_DIR)", file=sys.stderr)
        return EXIT_USAGE
    if args.action == "stats":
        return _stats(where)
    return _prune(where, args.keep_latest)


def _stats(where: Path) -> int:
    files = sorted(where.glob("*.warc.gz"))
    entries = list(index_entries(where))
    revisits = sum(1 for entry in entries if entry.revisit is not None)
    size = sum(file.stat().st_size for file in files)
    times = [entry.fetched_at for entry in entries]
    print(f"folder:   {where}")
    print(f"files:    {len(files)}")
    print(f"records:  {len(entries)} responses ({revisits} revisits), each with its request")
    print(f"bytes:    {size}")
    print(f"oldest:   {min(times).isoformat() if times else '-'}")
    print(f"newest:   {max(times).isoformat() if times else '-'}")
    return EXIT_OK


def _prune(where: Path, keep_latest: int | None) -> int:
    if keep_latest is None:
        print("nothing pruned: every capture is kept (--keep-latest N to prune)")
        return EXIT_OK
    if keep_latest < 1:
        print("ecnews archive: --keep-latest must be at least 1", file=sys.stderr)
        return EXIT_USAGE
    # Under the crawl lock: a crawl or a reextract never sees a file rewritten under it.
    from crawler.run import CrawlLock, LockHeld, lock_file  # noqa: PLC0415

    lock = lock_file(database_url(), ECNEWS_LOCK_FILE)
    try:
        with CrawlLock(lock):
            result = prune(where, keep_latest)
    except LockHeld as held:
        print(f"ecnews archive: a crawl is running (pid {held}); exiting", file=sys.stderr)
        return EXIT_LOCKED
    print(
        f"removed {result.removed} captures, kept {result.kept}; "
        f"{result.bytes_before} -> {result.bytes_after} bytes"
    )
    return EXIT_OK
