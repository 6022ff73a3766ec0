"""`ecnews crawl`: the command for cron; the crawl itself is crawler/run.py."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import argparse


def add_parser(subparsers: argparse._SubParsersAction[Any]) -> None:
    crawl = subparsers.add_parser("crawl", help="run the crawl (the command for cron)")
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
    crawl.set_defaults(own_logging=True)  # Scrapy configures logging from the LOG_* settings


def run(args: argparse.Namespace) -> int:
    from crawler.run import crawl  # noqa: PLC0415  # Scrapy/Twisted only when crawling

    return crawl(args)
