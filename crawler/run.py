"""`ecnews crawl`: the spider in-process, under a lock, judged into an exit code."""

from __future__ import annotations

import fcntl
import json
import logging
import os
import shutil
import sqlite3
import sys
from logging.handlers import RotatingFileHandler
from pathlib import Path
from typing import TYPE_CHECKING, Any, Self

from scrapy import signals
from scrapy.crawler import CrawlerProcess
from scrapy.utils.project import get_project_settings
from sqlalchemy.engine import make_url

from crawler import distributed
from crawler import stats_keys as keys
from crawler.console import CrawlConsole
from crawler.exitcodes import EXIT_FAILED, EXIT_INTERRUPTED, EXIT_LOCKED, EXIT_OK, EXIT_USAGE
from crawler.hardstop import HardStop
from crawler.monitors import UNREACHABLE
from crawler.preflight import site_unreachable, site_url_problem
from crawler.runs import record_verdict
from crawler.spiders.news import NewsSpider
from crawler.unrecorded import remember
from storage.db import DatabaseOptions, get_database
from storage.preflight import unreachable, unwritable, url_problem

if TYPE_CHECKING:
    import argparse

    from scrapy.settings import Settings

logger = logging.getLogger(__name__)

# The crawl lock of a database that is not a SQLite file, when ECNEWS_LOCK_FILE is unset.
DEFAULT_LOCK_FILE = "data/ecnews-crawl.lock"
# Seconds the pre-flight TCP connection to the site may take (at most DOWNLOAD_TIMEOUT).
SITE_PROBE_TIMEOUT = 10.0
RUN_ARGS_FILE = "ecnews-run.json"


class LockHeld(Exception):
    """Another crawl holds the lock."""


class CrawlLock:
    """An exclusive, non-blocking flock: the kernel frees it when the holder dies."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._fd: int | None = None

    def __enter__(self) -> Self:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError as error:
            holder = os.pread(fd, 64, 0).decode(errors="replace").strip()
            os.close(fd)
            raise LockHeld(holder or "unknown process") from error
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        self._fd = fd
        return self

    def __exit__(self, *_exc: object) -> None:
        if self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None


def crawl_settings(args: argparse.Namespace) -> Settings:
    os.environ.setdefault("SCRAPY_SETTINGS_MODULE", "crawler.settings")
    settings = get_project_settings()
    for pair in args.settings:
        name, sep, value = pair.partition("=")
        if not sep:
            raise ValueError(f"-s takes NAME=VALUE, not {pair!r}")
        settings.set(name, value, priority="cmdline")
    return settings


def _log_to_file(path: str | None) -> None:
    if not path:
        return
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    handler = RotatingFileHandler(path, maxBytes=10 * 1024 * 1024, backupCount=5, encoding="utf-8")
    handler.setFormatter(logging.Formatter("%(asctime)s [%(name)s] %(levelname)s: %(message)s"))
    logging.getLogger().addHandler(handler)


def _usage_error(args: argparse.Namespace, settings: Settings, jobdir: Path) -> str | None:
    known = settings.getdict("NEWS_CATEGORIES")
    wanted = [c.strip() for c in (args.categories or "").split(",") if c.strip()]
    unknown = [c for c in wanted if c not in known]
    if unknown:
        return f"unknown categories {unknown}; known: {', '.join(known)}"
    site = _site_url(args, settings, jobdir)
    if not site:
        return "no site: pass --base-url or set NEWS_SITE_URL"
    if problem := site_url_problem(site):
        return problem
    if problem := url_problem(settings.get("DATABASE_URL")):
        return problem
    if (args.distributed or args.seed) and not settings.get("REDIS_URL"):
        return "--distributed needs REDIS_URL (environment or -s)"
    return None


def _site_url(args: argparse.Namespace, settings: Settings, jobdir: Path) -> str:
    """The site this run will crawl: --base-url, else a resumed run's, else NEWS_SITE_URL."""
    saved = _saved_args(jobdir) if args.resume else {}
    return str(args.base_url or saved.get("base_url") or settings.get("NEWS_SITE_URL") or "")


def _saved_args(jobdir: Path) -> dict[str, Any]:
    try:
        saved = json.loads((jobdir / RUN_ARGS_FILE).read_text("utf-8"))
    except (OSError, ValueError):
        return {}
    return saved if isinstance(saved, dict) else {}


def _site_unreachable(args: argparse.Namespace, settings: Settings, jobdir: Path) -> str | None:
    """A site that takes no connection at all: say so now, not after a whole crawl."""
    timeout = min(settings.getfloat("DOWNLOAD_TIMEOUT"), SITE_PROBE_TIMEOUT)
    if problem := site_unreachable(_site_url(args, settings, jobdir), timeout):
        return f"{UNREACHABLE}{problem}"
    return None


def default_lock_file(database_url: str) -> Path:
    """Next to a SQLite database (one lock per database, wherever the crawl is started
    from); for PostgreSQL, DEFAULT_LOCK_FILE under the working folder."""
    parsed = make_url(database_url)
    if parsed.get_backend_name() == "sqlite" and parsed.database not in (None, "", ":memory:"):
        return Path(f"{parsed.database}.lock")
    return Path(DEFAULT_LOCK_FILE)


def lock_file(database_url: str, configured: str | None = None) -> Path:
    """The crawl lock of a database: `configured` (--lock-file, else ECNEWS_LOCK_FILE) if
    set, else default_lock_file. Crawl, reextract and archive prune share it."""
    return Path(configured) if configured else default_lock_file(database_url)


def crawl(args: argparse.Namespace) -> int:
    try:
        settings = crawl_settings(args)
        jobdir = Path(args.jobdir or settings["ECNEWS_JOBDIR"])
        error = _usage_error(args, settings, jobdir)
    except ValueError as problem:
        error, jobdir = str(problem), Path()
    if error:
        return _fail(error, EXIT_USAGE)
    options = DatabaseOptions.from_settings(settings)
    if error := unreachable(settings["DATABASE_URL"], options.pg_connect_timeout):
        return _fail(error, EXIT_FAILED)
    if error := unwritable(settings["DATABASE_URL"], options.sqlite_busy_timeout):
        if spool := settings.get("PERSIST_SPOOL_DIR"):  # its crawl_runs row, for later
            remember(spool, settings["DATABASE_URL"], mode=args.mode or "incremental", reason=error)
        return _fail(error, EXIT_FAILED)
    if settings.get("REDIS_URL"):
        error = _site_unreachable(args, settings, jobdir)
        return _fail(error, EXIT_FAILED) if error else _crawl_distributed(args, settings)
    lock_path = lock_file(settings["DATABASE_URL"], args.lock_file or settings["ECNEWS_LOCK_FILE"])
    try:
        with CrawlLock(lock_path):
            # Probed under the lock: a run that is locked out touches nothing.
            error = _site_unreachable(args, settings, jobdir)
            return _fail(error, EXIT_FAILED) if error else _crawl_locked(args, settings, jobdir)
    except LockHeld as held:
        return _fail(
            f"another crawl is running (pid {held}, lock {lock_path}); exiting", EXIT_LOCKED
        )


def _fail(message: str, code: int) -> int:
    """A problem the user can act on: one line on stderr, no traceback."""
    print(f"ecnews crawl: {message}", file=sys.stderr)
    return code


def _spider_args(args: argparse.Namespace, jobdir: Path) -> dict[str, Any]:
    """The spider's arguments; a resumed run takes the killed run's unless given again."""
    saved_file = jobdir / RUN_ARGS_FILE
    saved = _saved_args(jobdir) if args.resume else {}
    given = {"mode": args.mode, "categories": args.categories, "base_url": args.base_url}
    spider_args = {**saved, **{k: v for k, v in given.items() if v}}
    jobdir.mkdir(parents=True, exist_ok=True)
    saved_file.write_text(json.dumps(spider_args), "utf-8")
    return spider_args


def _crawl_locked(args: argparse.Namespace, settings: Settings, jobdir: Path) -> int:
    if args.resume and not (jobdir / RUN_ARGS_FILE).exists():
        logger.warning("Nothing to resume in %s: starting a new run", jobdir)
    elif not args.resume and jobdir.exists():
        # A fresh run must not inherit a killed run's queue; --resume is the way back.
        shutil.rmtree(jobdir)
    # Every run keeps its queue on disk, so a killed run can be resumed.
    settings.set("JOBDIR", str(jobdir), priority="cmdline")
    _log_to_file(args.log_file)
    code = _run_spider(settings, _spider_args(args, jobdir))
    if code == EXIT_OK or (code == EXIT_USAGE and not args.resume):
        # Finished, or never started: nothing to resume.
        shutil.rmtree(jobdir, ignore_errors=True)
    return code


def _crawl_distributed(args: argparse.Namespace, settings: Settings) -> int:
    """A worker on the shared Redis frontier; with --seed, start a round instead.

    No local lock and no JOBDIR: the frontier coordinates the workers and keeps the queue.
    """
    redis_url = settings["REDIS_URL"]
    spider_args: dict[str, Any] = {
        k: v for k, v in {"categories": args.categories, "base_url": args.base_url}.items() if v
    }
    server = distributed.client(redis_url)
    if args.seed:
        mode = args.mode or "incremental"
        spider = NewsSpider.from_crawler(
            CrawlerProcess(settings).create_crawler(NewsSpider), mode=mode, **spider_args
        )
        round_, queued = distributed.seed(redis_url, spider, mode)
        print(f"round {round_} ({mode}): {queued} start requests queued", file=sys.stderr)
        return EXIT_OK
    saved_mode = server.get(distributed.mode_key(NewsSpider.name))
    spider_args["mode"] = args.mode or (
        saved_mode.decode() if isinstance(saved_mode, bytes) else "incremental"
    )
    _log_to_file(args.log_file)
    return _run_spider(settings, spider_args)


def _run_spider(settings: Settings, spider_args: dict[str, Any]) -> int:
    """Run the spider in-process; turn its monitors' verdict into the exit code."""
    process = CrawlerProcess(settings)
    console = CrawlConsole(settings.get("LOG_LEVEL"), verdict_follows=True)
    console.install()
    crawler = process.create_crawler(NewsSpider)
    # Scrapy installs its terminal handler anew once the crawler's settings are applied.
    crawler.signals.connect(console.install, signal=signals.engine_started)
    # Scrapy's signal handlers are in place once the reactor runs: ours go in front.
    hard_stop = HardStop(settings.getfloat("DOWNLOAD_TIMEOUT"))
    crawler.signals.connect(hard_stop.install, signal=signals.engine_started)
    try:
        process.crawl(crawler, **spider_args)
    except ValueError as error:
        print(f"ecnews crawl: {error}", file=sys.stderr)
        return EXIT_USAGE
    process.start()

    stats = crawler.stats.get_stats() if crawler.stats else {}
    reason = stats.get("finish_reason", "unknown")
    if reason == "shutdown":
        print("ecnews crawl: interrupted; run again with --resume to continue", file=sys.stderr)
        return EXIT_INTERRUPTED
    problems: list[str] = stats.get(keys.VERDICT, ["the monitors did not run (see the log)"])
    problems = record_verdict(crawler, reason, problems)
    if not problems:
        _checkpoint(settings["DATABASE_URL"], DatabaseOptions.from_settings(settings))
    if problems:
        for problem in problems:
            _, _, reason_text = problem.partition(UNREACHABLE)
            if reason_text:  # the only verdict then: the other monitors stayed quiet
                print(f"ecnews crawl: {UNREACHABLE}{reason_text}", file=sys.stderr)
            else:
                logger.error("Crawl failed: %s", problem)
        return EXIT_FAILED
    return EXIT_OK


def _checkpoint(database_url: str, options: DatabaseOptions) -> None:
    """Move a SQLite database's write-ahead log into its main file, so the file alone (a
    backup by `cp`) holds the crawl's data. A reader still open may keep part of the
    log there: the next crawl's checkpoint takes it."""
    database = get_database(database_url, options)
    if database.dialect != "sqlite":
        return
    connection = database.engine.raw_connection()
    try:
        busy, _, _ = connection.cursor().execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
    except sqlite3.Error as error:
        logger.warning("Could not checkpoint the database's write-ahead log: %s", error)
        return
    finally:
        connection.close()
    if busy:
        logger.info("A reader kept part of the write-ahead log; the next crawl moves it")
