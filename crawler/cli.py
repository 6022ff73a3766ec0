"""The `ecnews` command: crawl, export, runs, db."""

from __future__ import annotations

import argparse
import datetime as dt
import logging
import os
import sys
from typing import TYPE_CHECKING

from sqlalchemy import select

from crawler.commands import check as check_command
from crawler.commands import feed as feed_command
from crawler.commands import layout as layout_command
from crawler.commands import search as search_command
from crawler.commands import serve as serve_command
from crawler.exitcodes import EXIT_FAILED, EXIT_INTERRUPTED, EXIT_OK, EXIT_USAGE
from crawler.settings import NEWS_CATEGORIES
from storage.db import (
    Database,
    ReadError,
    ReadOnlyDatabase,
    database_url,
    open_readonly,
    redacted,
)
from storage.export import export_records, write_csv, write_jsonl
from storage.models import Category, CrawlRun
from storage.preflight import unreachable, url_problem

if TYPE_CHECKING:
    from collections.abc import Sequence

logger = logging.getLogger(__name__)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="ecnews", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)

    crawl = commands.add_parser("crawl", help="run the crawl (the command for cron)")
    crawl.add_argument(
        "--mode",
        choices=("incremental", "full"),
        help="default: incremental (or, with --resume, the killed run's)",
    )
    crawl.add_argument("--categories", help="comma-separated slugs, e.g. rdjj,zcfg")
    crawl.add_argument("--base-url", help="site root (default: NEWS_SITE_URL)")
    crawl.add_argument("--log-file", help="also log to this file (rotated)")
    crawl.add_argument(
        "--lock-file",
        help="default: ECNEWS_LOCK_FILE, else <database>.lock next to a SQLite database,"
        " else data/ecnews-crawl.lock",
    )
    crawl.add_argument(
        "--resume", action="store_true", help="pick up a run that was killed (uses JOBDIR)"
    )
    crawl.add_argument(
        "--distributed",
        action="store_true",
        help="work on the shared Redis frontier (REDIS_URL); also implied by REDIS_URL",
    )
    crawl.add_argument(
        "--seed", action="store_true", help="with --distributed: start a new round and exit"
    )
    crawl.add_argument("--jobdir", help="default: ECNEWS_JOBDIR or data/job")
    crawl.add_argument(
        "-s",
        dest="settings",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="override a Scrapy setting",
    )

    export = commands.add_parser("export", help="write every article, per the data contract")
    export.add_argument("--format", choices=("jsonl", "csv", "atom"), default="jsonl")
    export.add_argument("--since", type=dt.date.fromisoformat, help="published on/after DATE")
    export.add_argument("--category", help="only articles listed in this category slug")
    export.add_argument("--output", "-o", help="file to write (default: standard output)")
    export.add_argument("--limit", type=int, default=50, help="atom: newest N articles")

    runs = commands.add_parser("runs", help="list recent crawl runs")
    runs.add_argument("--limit", type=int, default=20)

    db = commands.add_parser("db", help="database schema")
    db.add_argument("action", choices=("upgrade", "check"))

    search = commands.add_parser("search", help="find articles by Chinese words, Latin, digits")
    search.add_argument("query", nargs="+", help="words; every one must match")
    search.add_argument("--category", help="only articles listed in this category slug")
    search.add_argument("--since", type=dt.date.fromisoformat, help="published on/after DATE")
    search.add_argument("--limit", type=int, default=20)
    search.add_argument("--format", choices=("table", "jsonl"), default="table")

    serve = commands.add_parser("serve", help="read-only web view of the SQLite database")
    serve.add_argument("--port", type=int, default=8001)
    serve.add_argument("--host", default="127.0.0.1")
    layout_command.add_parser(commands)
    return parser


_READERS = {"search": search_command.run, "serve": serve_command.run, "layout": layout_command.run}


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        return _dispatch(args)
    except UserError as error:
        print(f"ecnews {args.command}: {error}", file=sys.stderr)
        return error.code
    except KeyboardInterrupt:
        print(f"ecnews {args.command}: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except Exception as error:
        if os.environ.get("LOG_LEVEL", "").upper() == "DEBUG":
            raise
        if isinstance(error, OSError) and error.filename:
            # A folder that cannot be created, a file that cannot be written: the user's.
            problem = f"cannot use {error.filename}: {error.strerror}"
        else:
            # Ours to fix, not the user's: one line here, the traceback with LOG_LEVEL=DEBUG.
            problem = (
                f"unexpected error: {type(error).__name__}: {error}"
                " (LOG_LEVEL=DEBUG shows the traceback)"
            )
        print(f"ecnews {args.command}: {problem}", file=sys.stderr)
        return EXIT_FAILED


def _dispatch(args: argparse.Namespace) -> int:
    if args.command == "crawl":
        from crawler.run import crawl  # noqa: PLC0415  # Scrapy/Twisted only when crawling

        return crawl(args)  # Scrapy configures logging from the LOG_* settings
    logging.basicConfig(level=os.environ.get("LOG_LEVEL", "INFO"), format="%(message)s")
    if problem := url_problem(database_url()):
        raise UserError(problem, EXIT_USAGE)
    # `serve` reads SQLite only, and says so before anything else.
    if args.command != "serve" and (problem := unreachable(database_url())):
        raise UserError(problem, EXIT_FAILED)
    if args.command == "export":
        return _export(args)
    if args.command == "runs":
        return _runs(args)
    if args.command in _READERS:
        return _READERS[args.command](args)
    if args.command == "db" and args.action == "check":
        return check_command.run()
    Database(database_url())
    print(f"schema up to date: {redacted(database_url())}", file=sys.stderr)
    return EXIT_OK


def _export(args: argparse.Namespace) -> int:
    if args.format == "atom":
        return feed_command.run(args)
    database = _read(database_url())
    writer = write_csv if args.format == "csv" else write_jsonl
    with database.sessions() as session:
        if args.category is not None:
            # The configured listings, and any the database holds from an older setting.
            known = sorted({*NEWS_CATEGORIES, *session.scalars(select(Category.slug))})
            if args.category not in known:
                raise UserError(
                    f"unknown category {args.category!r}; known: {', '.join(known)}", EXIT_USAGE
                )
        records = export_records(session, since=args.since, category=args.category)
        if args.output:
            try:
                out = open(args.output, "w", encoding="utf-8", newline="")  # noqa: PTH123, SIM115
            except OSError as error:
                raise UserError(f"cannot write {args.output}: {error.strerror}") from error
            with out:
                count = writer(records, out)
        else:
            count = writer(records, sys.stdout)
    print(f"exported {count} articles", file=sys.stderr)
    return EXIT_OK


def _read(url: str) -> ReadOnlyDatabase:
    """The database, read-only: reading never creates, writes or migrates anything."""
    try:
        return open_readonly(url)
    except ReadError as error:
        raise UserError(str(error)) from error


class UserError(Exception):
    """A problem the user can act on: one line on stderr, then this exit code."""

    def __init__(self, message: str, code: int = EXIT_FAILED) -> None:
        super().__init__(message)
        self.code = code


def _runs(args: argparse.Namespace) -> int:
    database = _read(database_url())
    with database.sessions() as session:
        runs = session.scalars(
            select(CrawlRun).order_by(CrawlRun.started_at.desc()).limit(args.limit)
        ).all()
    header = (
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
    rows = [header]
    for run in runs:
        seconds = (
            f"{(run.finished_at - run.started_at).total_seconds():.1f}" if run.finished_at else "-"
        )
        rows.append(
            (
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
                (run.reason or "")[:60],
            )
        )
    widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
    for row in rows:
        print("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)))
    return EXIT_OK


if __name__ == "__main__":
    raise SystemExit(main())
