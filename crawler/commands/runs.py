"""`ecnews runs`: the recent crawl runs as a table."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sqlalchemy import select

from crawler.commands.reading import positive, reading
from crawler.exitcodes import EXIT_OK
from storage.models import CrawlRun

if TYPE_CHECKING:
    import argparse

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
    "reason",
)
REASON_WIDTH = 60


def add_parser(subparsers: argparse._SubParsersAction[Any]) -> None:
    runs = subparsers.add_parser("runs", help="list recent crawl runs")
    runs.add_argument("--limit", type=positive, default=20)


def run(args: argparse.Namespace) -> int:
    with reading() as session:
        runs = session.scalars(
            select(CrawlRun).order_by(CrawlRun.started_at.desc()).limit(args.limit)
        ).all()
    rows = [HEADER, *(_row(run) for run in runs)]
    widths = [max(len(row[i]) for row in rows) for i in range(len(HEADER))]
    for row in rows:
        print("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)))
    return EXIT_OK


def _row(run: CrawlRun) -> tuple[str, ...]:
    seconds = (
        f"{(run.finished_at - run.started_at).total_seconds():.1f}" if run.finished_at else "-"
    )
    return (
        str(run.id),
        run.started_at.astimezone().strftime("%Y-%m-%d %H:%M:%S"),
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
        (run.reason or "")[:REASON_WIDTH],
    )
