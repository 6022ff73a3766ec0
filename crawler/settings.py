"""Every setting of the crawl, documented, each with its one default. Override with
`-s NAME=value`, or the environment variables of ENVIRONMENT (the one place they are read,
when this module loads: see the end). Importable without starting Scrapy: the other
commands take their database URL and timeouts from here too (`database_url`,
`database_options`).

A default storage needs on its own (the writer process, read commands, tests) lives in
storage, which cannot import the crawler; this module re-exports it as the setting."""

from __future__ import annotations

import datetime as _dt
import os
from typing import TYPE_CHECKING, Any

from storage import batch as _batch
from storage import db as _db

if TYPE_CHECKING:
    from collections.abc import Mapping


BOT_NAME = "ecnews"
SPIDER_MODULES = ["crawler.spiders"]
NEWSPIDER_MODULE = "crawler.spiders"

# -- The site ----------------------------------------------------------------------------
# Root URL of the news site; `-a base_url=…` on the command line wins over it.
NEWS_SITE_URL = ""
# slug -> name of every category listing the spider walks (`-a categories=rdjj,zcfg` limits).
NEWS_CATEGORIES = {
    "rdjj": "热点聚焦",
    "sjbg": "数据报告",
    "zcfg": "政策法规",
    "jxal": "教学案例",
}
# Safety stop for a listing that never ends (a broken pagelist): the run fails if hit.
NEWS_MAX_LISTING_PAGES = 1000
# CSS selectors of the article body container, in order of preference (comma-separated):
# the first selector that matches gives the container (its first match).
NEWS_CONTENT_SELECTOR = "div.article-content, #content"
# A body with fewer characters (white space aside) is a notice, not an article: the page
# is not stored (pipelines/suspect.py).
NEWS_MIN_BODY_CHARS = 40
# Safety stop for a multi-page article.
NEWS_MAX_ARTICLE_PAGES = 50
# Stored articles fetched to relearn and prove the site's layout after a redesign
# (crawler/layout/): at least 5 of them must be reproduced exactly (docs/layout.md).
NEWS_LAYOUT_SAMPLE = 8

# -- Storage -----------------------------------------------------------------------------
# SQLAlchemy URL: SQLite by default, `postgresql+psycopg://user@host/db` in production.
# A password belongs here, from the environment only: it is never logged.
DATABASE_URL = "sqlite:///data/ecnews.db"
# Seconds a SQLite write waits for another process's lock; still locked at the start of a
# crawl: "database locked by another process" and exit 1.
DATABASE_SQLITE_BUSY_TIMEOUT = _db.DEFAULT_OPTIONS.sqlite_busy_timeout
# Every wait of a PostgreSQL connection, in seconds (storage.db.DatabaseOptions says why
# each): opening it (libpq connect_timeout), a row or table lock another session holds
# (lock_timeout), any statement (statement_timeout), a session idle inside a transaction
# (the server ends it), TCP keepalives after this many idle seconds; a URL's own query
# parameters (`?connect_timeout=5`) win.
DATABASE_PG_CONNECT_TIMEOUT = _db.DEFAULT_OPTIONS.pg_connect_timeout
DATABASE_PG_LOCK_TIMEOUT = _db.DEFAULT_OPTIONS.pg_lock_timeout
DATABASE_PG_STATEMENT_TIMEOUT = _db.DEFAULT_OPTIONS.pg_statement_timeout
DATABASE_PG_IDLE_IN_TRANSACTION_TIMEOUT = _db.DEFAULT_OPTIONS.pg_idle_in_transaction_timeout
DATABASE_PG_KEEPALIVE_IDLE = _db.DEFAULT_OPTIONS.pg_keepalive_idle
# A write transaction still waiting this long breaks its connection from our side, and is
# retried (0: statement + lock timeout + 5).
DATABASE_PG_CLIENT_TIMEOUT = _db.DEFAULT_OPTIONS.pg_client_timeout
# Items are written by a writer process (storage/writer.py), so the database work runs on
# the other core: in batches of PERSIST_BATCH_SIZE records (or whatever arrived within
# PERSIST_BATCH_SECONDS), one transaction and a few set-based statements per batch. An
# item counts as scraped only once its batch has committed (Scrapy waits on it).
PERSIST_BATCH_SIZE = 100
PERSIST_BATCH_SECONDS = 0.2
# A batch failing on contention or a lost connection (SQLite busy, PostgreSQL restarting)
# is tried PERSIST_ATTEMPTS times, waiting PERSIST_BACKOFF * 2^(n-1) s between tries.
PERSIST_ATTEMPTS = 5
PERSIST_BACKOFF = 0.2
# No batch committed for this long while writes are pending: the writer is killed, what
# it held is spooled and the crawl closes (exit 1). Above the worst legitimate batch:
# PERSIST_ATTEMPTS tries bounded by the database timeouts above.
PERSIST_STALL_TIMEOUT = 120.0
# A re-fetched article much poorer than the stored one (body cut by more than half, its
# date or source lost) is held, not applied, until the site has served that same version
# for this many hours (storage/revisions.py; held versions are listed in held_changes).
PERSIST_HELD_APPLY_AFTER_HOURS = _batch.HELD_APPLY_AFTER / _dt.timedelta(hours=1)
# Writes that still fail are kept here (JSON lines, one file per database) and written
# at the start of the next run; the run that could not write them exits 1.
PERSIST_SPOOL_DIR = "data/spool"

# -- Politeness --------------------------------------------------------------------------
# Contact URL put in the User-Agent so the site's admins can reach us.
NEWS_CONTACT_URL = "https://example.org/ecnews"
USER_AGENT = ""  # made from NEWS_CONTACT_URL at the end, once the environment is applied
ROBOTSTXT_OBEY = True
CONCURRENT_REQUESTS = 16
CONCURRENT_REQUESTS_PER_DOMAIN = 8
DOWNLOAD_DELAY = 0
DOWNLOAD_TIMEOUT = 30
# AutoThrottle adapts the delay to the site's latency: a slow site gets fewer requests.
AUTOTHROTTLE_ENABLED = True
AUTOTHROTTLE_START_DELAY = 0.5
AUTOTHROTTLE_MAX_DELAY = 30
AUTOTHROTTLE_TARGET_CONCURRENCY = 4.0
# Pages larger than this are refused (logged); a news article is a few tens of KB.
DOWNLOAD_MAXSIZE = 10 * 1024 * 1024
DOWNLOAD_WARNSIZE = 2 * 1024 * 1024

# A response shorter than its Content-Length (a dropped connection) is an error, retried,
# never parsed as a page (Scrapy's default, stated: a truncated page must not be stored).
DOWNLOAD_FAIL_ON_DATALOSS = True

# -- Staying on the site, reading pages right (crawler/middlewares.py) --------------------
DOWNLOADER_MIDDLEWARES = {
    # Every request must be on NEWS_SITE_URL's host and port: links, redirects, retries.
    "crawler.middlewares.SiteOnlyMiddleware": 45,
    # robots.txt first: every request waits for it, those it forbids are refused
    # (news/refused/robots_forbidden); forbidden listings fail the run.
    "scrapy.downloadermiddlewares.robotstxt.RobotsTxtMiddleware": None,
    "crawler.middlewares.SiteRobotsTxtMiddleware": 100,
    # Redirects off the site or in a loop are not followed (news/refused/<reason>).
    "scrapy.downloadermiddlewares.redirect.MetaRefreshMiddleware": None,
    "crawler.middlewares.SiteMetaRefreshMiddleware": 580,
    "scrapy.downloadermiddlewares.redirect.RedirectMiddleware": None,
    "crawler.middlewares.SiteRedirectMiddleware": 600,
    # Lying charsets, binary files served as HTML, pages over DOWNLOAD_MAXSIZE; after
    # decompression (590), before anything parses the page.
    "crawler.middlewares.ResponseCheckMiddleware": 585,
    # Retries with backoff and Retry-After.
    "scrapy.downloadermiddlewares.retry.RetryMiddleware": None,
    "crawler.middlewares.BackoffRetryMiddleware": 550,
    # Every response, as the server sent it, into the WARC archive: the highest order, so
    # it sees the response before decompression and every other middleware.
    "crawler.archive.middleware.ArchiveMiddleware": 990,
}

# -- The archive (crawler/archive/, docs/archive.md) --------------------------------------
# Every response is kept in WARC 1.1 files, for `ecnews reextract` and disaster recovery.
ARCHIVE_ENABLED = True
ARCHIVE_DIR = "data/archive"
# A WARC file is closed, and the next one begun, once it passes this size.
ARCHIVE_MAX_BYTES = 256 * 1024 * 1024
# Responses waiting for the archive's writer process (handed over 32 at a time, or every
# 0.5 s); a full queue holds responses back.
ARCHIVE_QUEUE_SIZE = 256
# A response held back this long (the disk takes no record): the crawl closes, exit 1.
ARCHIVE_STALL_TIMEOUT = 60.0
# Seconds between fsyncs of the open WARC and index files (and at every file's close).
ARCHIVE_FSYNC_SECONDS = 5.0
# `ecnews reextract` only: replay the captures made at or before this ISO moment ("": all).
ARCHIVE_REPLAY_UNTIL = ""

# -- Retries -----------------------------------------------------------------------------
RETRY_ENABLED = True
# Retries after the first attempt (connection resets, timeouts, truncated bodies, and
# the status codes below); a page still failing is recorded as failed for the run and
# requested again by the next run.
RETRY_TIMES = 3
RETRY_HTTP_CODES = [500, 502, 503, 504, 522, 524, 408, 429]
# Retry n waits RETRY_BACKOFF_BASE * 2^(n-1) seconds (plus up to 25 % jitter), at most
# RETRY_BACKOFF_MAX, without blocking other downloads.
RETRY_BACKOFF_BASE = 0.5
RETRY_BACKOFF_MAX = 30.0
# A 429/503 with Retry-After is retried no sooner than asked. Longer than this: not
# retried in this run (the page counts as failed, and the next run asks again).
RETRY_AFTER_MAX = 60.0

# -- Throughput (measured by `make bench`, see benchmarks/README.md) ----------------------
# Scrapy hands each response's output to CONCURRENT_ITEMS asyncio workers, and 2.19 starts
# all of them for every response, a hundred tasks where the news spider yields one item
# (an article page) or ~20 requests and 2 items (a listing page): 10 keeps the items of a
# page in flight together at a tenth of the scheduling cost.
CONCURRENT_ITEMS = 10
# Scrapy's check for a `return value` in a generator callback parses the callback's source
# (inspect.getsource + ast) whenever its cache misses, and it misses for every request read
# back from the JOBDIR (a fresh bound method): ~110 µs a page. tests/test_jobqueue.py makes
# the same check once per callback instead.
WARN_ON_GENERATOR_RETURN_VALUE = False
# Responses whose output is still being processed, in body bytes. An item waits for its
# batch to commit, and its page's whole parsed tree (10-40x the HTML) lives until then:
# 1 MB (~150 article pages) keeps the writer fed and bounds the pages in flight whatever
# the crawl's size (peak memory still grows with it: see GC_THRESHOLD).
SCRAPER_SLOT_MAX_ACTIVE_SIZE = 1_000_000

# -- Pipelines: clean text, attribute sources, parse dates, validate, persist ------------
ITEM_PIPELINES = {
    # A layout learned and proven in this run is stored before articles read with it.
    "pipelines.layout.LayoutPipeline": 50,
    "pipelines.text.TextPipeline": 100,
    "pipelines.attribution.AttributionPipeline": 200,
    "pipelines.dates.DatesPipeline": 300,
    # Pages that are not the article their listing promised are dropped (counted).
    "pipelines.suspect.SuspectPagePipeline": 420,
    "pipelines.validate.ValidatePipeline": 400,
    # Each article against the JSON schema of a clean article (NEWS_ITEM_SCHEMA).
    "pipelines.check.SchemaCheckPipeline": 450,
    "pipelines.persist.PersistPipeline": 900,
}

# -- Misc --------------------------------------------------------------------------------
# Both would let anyone on this machine run code in the crawl: off unless turned on here.
TELNETCONSOLE_ENABLED = False
REMOTE_CONTROL_ENABLED = False  # Scrapy 2.19's HTTP endpoint (scrapy.extensions.remote_control)
FEED_EXPORT_ENCODING = "utf-8"
LOG_LEVEL = "INFO"
# Where every run keeps its request queue for `--resume` (Scrapy's JOBDIR); `--jobdir` wins.
ECNEWS_JOBDIR = "data/job"
# The lock that keeps two crawls of one database from overlapping (`--lock-file` wins);
# empty: `<database>.lock` next to a SQLite database, else data/ecnews-crawl.lock under the
# working folder (crawler/run.py lock_file).
ECNEWS_LOCK_FILE = ""
# In memory only, even with a JOBDIR: see crawler/dupefilter.py.
DUPEFILTER_CLASS = "crawler.dupefilter.RunScopedDupeFilter"
# Scrapy's scheduler, except that a queue that fails (JOBDIR disk full or read-only)
# closes the run with that reason instead of failing on every heartbeat forever.
SCHEDULER = "crawler.scheduler.GuardedScheduler"
# Scrapy's LIFO disk queue without its per-request search of the spider for the
# callback's name (crawler/jobqueue.py): the same JOBDIR files, ~40 µs less a request.
SCHEDULER_DISK_QUEUE = "crawler.jobqueue.RequestDiskQueue"

# -- Scale-out (crawler/distributed.py) ---------------------------------------------------
# A Redis URL switches the crawl to the shared scrapy-redis frontier; empty: one machine.
REDIS_URL = ""
# A distributed worker exits once the round stayed over this long: the shared queue empty
# and no worker with work in flight (crawler/distributed.py).
ECNEWS_IDLE_CLOSE_SECONDS = 10.0

# -- Run bookkeeping and monitors --------------------------------------------------------
EXTENSIONS = {
    "crawler.runs.CrawlRunRecorder": 500,
    "crawler.monitors.Monitors": 510,  # Spidermon, quiet on SIGTERM/SIGINT
    "crawler.progress.TerminalProgress": 530,
    "crawler.gcfreeze.GcFreeze": 540,
    # A listing's next page is requested once the page before it is stored.
    "crawler.listing_gate.ListingGate": 550,
}
# Cyclic GC thresholds once the crawl has started (crawler/gcfreeze.py; empty: Python's,
# and no gc.freeze()): a first generation of 50,000 objects instead of 700 cuts the
# collector's runs ~70-fold, for speed; memory is not flat with it: peak RSS grew 1.80x
# from 1,000 to 10,000 articles, against 1.09x with 700,10,10 at ~10 % less speed
# (docs/performance.md).
GC_THRESHOLD = [50_000, 20, 20]
# Seconds between progress-line updates when stderr is a terminal (0: never).
PROGRESS_INTERVAL = 1.0
SPIDERMON_ENABLED = True
SPIDERMON_SPIDER_CLOSE_MONITORS = ("crawler.monitors.SpiderCloseMonitorSuite",)
SPIDERMON_EXPECTED_FINISH_REASONS = ["finished"]
# The JSON schema of a clean article (empty: pipelines/schemas/article.json); an item that
# fails it is dropped and fails the run through Spidermon's ItemValidationMonitor.
NEWS_ITEM_SCHEMA = ""
SPIDERMON_MAX_ITEM_VALIDATION_ERRORS = 0
# field -> [minimum share of articles with it filled, articles needed before judging]. A field
# that suddenly goes empty means a selector broke (a likely site redesign): the run fails.
NEWS_FILL_RATE_RULES = {
    "title": [0.9, 1],
    "body": [0.9, 1],
    "published_at": [0.5, 10],  # from the article page, not the listing's fallback date
    "source": [0.3, 10],
}
# Article pages allowed to fail after all retries before the run counts as failed.
NEWS_MAX_FAILED_PAGES = 0
# Share of the article pages that came back that may be empty, without the content
# container, or suspect (not like an article of this site; not stored) before the run
# counts as failed; judged from NEWS_MIN_SUSPECT_PAGES such pages (one stray empty page is
# fetched again by the next run, and says nothing about the site).
NEWS_MAX_SUSPECT_RATIO = 0.1
# The run that meets a page the suspect rules refused this many times (counting this run),
# with the same content each time, stores it and flags it for review (suspect_pages).
NEWS_SUSPECT_ACCEPT_AFTER_RUNS = 3
NEWS_MIN_SUSPECT_PAGES = 2
# Share of responses that may be 5xx/429 (retried or not) before the run counts as failed.
NEWS_MAX_ERROR_RESPONSE_RATIO = 0.2

# -- The environment ---------------------------------------------------------------------
# Environment variable -> the setting it sets, converted to the type of the setting's
# default; an empty variable counts as unset. `-s NAME=value` wins over both.
ENVIRONMENT = {
    "NEWS_SITE_URL": "NEWS_SITE_URL",
    "NEWS_MAX_LISTING_PAGES": "NEWS_MAX_LISTING_PAGES",
    "NEWS_MAX_FAILED_PAGES": "NEWS_MAX_FAILED_PAGES",
    "NEWS_CONTACT_URL": "NEWS_CONTACT_URL",
    "DATABASE_URL": "DATABASE_URL",
    "ECNEWS_SQLITE_BUSY_TIMEOUT": "DATABASE_SQLITE_BUSY_TIMEOUT",
    "ECNEWS_PG_CONNECT_TIMEOUT": "DATABASE_PG_CONNECT_TIMEOUT",
    "ECNEWS_PG_LOCK_TIMEOUT": "DATABASE_PG_LOCK_TIMEOUT",
    "ECNEWS_PG_STATEMENT_TIMEOUT": "DATABASE_PG_STATEMENT_TIMEOUT",
    "ECNEWS_PG_IDLE_IN_TRANSACTION_TIMEOUT": "DATABASE_PG_IDLE_IN_TRANSACTION_TIMEOUT",
    "ECNEWS_PG_KEEPALIVE_IDLE": "DATABASE_PG_KEEPALIVE_IDLE",
    "ECNEWS_PG_CLIENT_TIMEOUT": "DATABASE_PG_CLIENT_TIMEOUT",
    "ECNEWS_PERSIST_BATCH_SIZE": "PERSIST_BATCH_SIZE",
    "ECNEWS_PERSIST_STALL_TIMEOUT": "PERSIST_STALL_TIMEOUT",
    "ECNEWS_SPOOL_DIR": "PERSIST_SPOOL_DIR",
    "REDIS_URL": "REDIS_URL",
    "ECNEWS_IDLE_CLOSE_SECONDS": "ECNEWS_IDLE_CLOSE_SECONDS",
    "LOG_LEVEL": "LOG_LEVEL",
    "ECNEWS_JOBDIR": "ECNEWS_JOBDIR",
    "ECNEWS_LOCK_FILE": "ECNEWS_LOCK_FILE",
    "NEWS_LAYOUT_SAMPLE": "NEWS_LAYOUT_SAMPLE",
    "ECNEWS_ARCHIVE_ENABLED": "ARCHIVE_ENABLED",
    "ECNEWS_ARCHIVE_DIR": "ARCHIVE_DIR",
    "ECNEWS_ARCHIVE_MAX_BYTES": "ARCHIVE_MAX_BYTES",
}


def from_environment(environ: Mapping[str, str], defaults: Mapping[str, Any]) -> dict[str, Any]:
    """The settings `environ` sets through ENVIRONMENT, typed like their `defaults`
    (a whole number of seconds may be written `2.0`)."""
    found: dict[str, Any] = {}
    for variable, name in ENVIRONMENT.items():
        if value := environ.get(variable):
            kind = type(defaults[name])
            if kind is bool:
                found[name] = value.strip().lower() not in {"0", "false", "no", "off"}
            else:
                found[name] = int(float(value)) if kind is int else kind(value)
    return found


globals().update(from_environment(os.environ, globals()))
USER_AGENT = f"ecnews/0.1 (+{NEWS_CONTACT_URL})"


# -- For the commands that do not crawl (export, search, db, …) ----------------------------


def database_url(url: str | None = None) -> str:
    """The database a command works on: `url` if given, else DATABASE_URL."""
    return url or DATABASE_URL


def database_options() -> _db.DatabaseOptions:
    """The DATABASE_* timeouts of this module, for storage."""
    return _db.DatabaseOptions.from_settings(globals())
