"""`ecnews runs`: the recent crawl runs as a table, start times in the site's zone
(+08:00) or the one of `--tz`, each with its offset."""

from __future__ import annotations

import argparse
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import select

from crawler.commands.reading import positive, reading
from crawler.exitcodes import EXIT_OK
from pipelines.stats_keys import PERSIST_HELD, SUSPECT_STORED
from storage.models import CrawlRun
from storage.zone import SITE_TZ

HEADER = (
    "id",
    "started",
    "seconds",
    "mode",
    "status",
    "pages",
    "new",
    "upd",
    "same",
    "merged",
    "dropped",
    "errors",
    "held",
    "review",
    "reason",
)
REASON_WIDTH = 60


def add_parser(subparsers: argparse._SubParsersAction[Any]) -> None:
    runs = subparsers.add_parser("runs", help="list recent crawl runs")
    runs.add_argument("--limit", type=positive, default=20)
    runs.add_argument(
        "--tz", type=zone, default=SITE_TZ, help=f"time zone of the start times ({SITE_TZ.key})"
    )


def zone(name: str) -> ZoneInfo:
    """An argument type: an IANA time zone name (Asia/Shanghai, UTC, Europe/Berlin)."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise argparse.ArgumentTypeError(
            f"{name!r} is not a time zone: use a name such as Asia/Shanghai or UTC"
        ) from None


def run(args: argparse.Namespace) -> int:
    with reading() as session:
        runs = session.scalars(
            select(CrawlRun).order_by(CrawlRun.started_at.desc()).limit(args.limit)
        ).all()
    header = (HEADER[0], f"{HEADER[1]} ({args.tz.key})", *HEADER[2:])
    rows = [header, *(_row(run, args.tz) for run in runs)]
    widths = [max(len(row[i]) for row in rows) for i in range(len(HEADER))]
    for row in rows:
        print("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)))
    return EXIT_OK


def _row(run: CrawlRun, tz: ZoneInfo) -> tuple[str, ...]:
    seconds = (
        f"{(run.finished_at - run.started_at).total_seconds():.1f}" if run.finished_at else "-"
    )
    return (
        str(run.id),
        run.started_at.astimezone(tz).isoformat(sep=" ", timespec="seconds"),
        seconds,
        run.mode,
        run.status,
        str(run.pages),
        str(run.items_new),
        str(run.items_updated),
        str(run.items_unchanged),
        str(run.items_merged),
        str(run.items_dropped),
        str(run.errors),
        str(int((run.stats or {}).get(PERSIST_HELD, 0))),  # versions held (never worse)
        str(int((run.stats or {}).get(SUSPECT_STORED, 0))),  # refused, stored for review
        (run.reason or "")[:REASON_WIDTH],
    )
