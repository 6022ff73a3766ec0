"""Hands clean items to storage in batches, one transaction per batch, on a writer thread;
retried on contention; what cannot be written is spooled to disk and written at the start
of the next run.

Batches (PERSIST_BATCH_SIZE items, or whatever arrived within PERSIST_BATCH_SECONDS) cut
the per-transaction cost, and the writer thread keeps database round trips off the
reactor. An item is acknowledged to the crawl (counted as scraped) only once the
transaction holding it has committed, so a crash loses no acknowledged item. A batch that
fails is rolled back and its items written one transaction each, so one bad item does not
sink the others.

Every item becomes an *entry* (a JSON-able dict: what to write, and when it was seen)
before it is written, so that what a failed write leaves in the spool is exactly what
would have been written. Errors are told apart:

- contention or an unavailable database (SQLite busy, a PostgreSQL restart, a lost
  connection): retried with backoff, then spooled (`pipeline/persist/spooled`);
- the database refusing the content itself (`DataError`: a value it cannot hold): never
  retried, set aside in the spool's rejected file for a human (`pipeline/persist/rejected`);

either way `pipeline/persist/failed` counts it, and the run fails (exit 1). The next run
replays the spool before it crawls (`pipeline/persist/replayed`).
"""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
import logging
import time
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any, Self

from sqlalchemy import select
from sqlalchemy.exc import DataError, DBAPIError, IntegrityError, InterfaceError, OperationalError

from pipelines.items import ArticleItem, ListingItem, PageStatusItem, WalkCompleteItem
from pipelines.rules.dates import parse_day
from storage.db import get_database
from storage.models import ArticleUrl, Page
from storage.repository import ArticleRecord, ConcurrentWrite, Repository
from storage.spool import Replayed, Spool

if TYPE_CHECKING:
    from scrapy.crawler import Crawler
    from scrapy.statscollectors import StatsCollector

    from storage.db import Database

logger = logging.getLogger(__name__)

# Contention (another crawl writing, SQLite busy, a PostgreSQL serialization failure or
# restart) is retried with backoff; past that the entry is spooled and the run fails.
RETRYABLE = (ConcurrentWrite, IntegrityError, OperationalError, InterfaceError)
# The database cannot be reached or is locked: later writes would fail the same way.
UNAVAILABLE = (OperationalError, InterfaceError)
# The database refuses the content: retrying or replaying would not help.
REFUSED = (DataError,)

Entry = dict[str, Any]


def now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class PersistPipeline:
    def __init__(
        self,
        database_url: str,
        stats: StatsCollector,
        *,
        attempts: int = 5,
        backoff: float = 0.2,
        spool_dir: str | None = None,
        batch_size: int = 1,
        batch_seconds: float = 0.2,
    ) -> None:
        self.database_url = database_url
        self.batch_size = batch_size
        self.batch_seconds = batch_seconds
        self._pending: list[tuple[Entry, asyncio.Future[Any]]] = []
        self._timer: asyncio.TimerHandle | None = None
        self._writes: set[asyncio.Future[Any]] = set()
        self._writer: ThreadPoolExecutor | None = None
        self.stats = stats
        self.attempts = max(1, attempts)
        self.backoff = backoff
        self.spool = Spool(spool_dir, database_url) if spool_dir else None
        self.database: Database | None = None
        # Set when the database stayed unavailable through a whole retry budget: later
        # writes try once (and spool at once) until one succeeds again.
        self._unavailable = False

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Self:
        assert crawler.stats is not None
        settings = crawler.settings
        return cls(
            settings["DATABASE_URL"],
            crawler.stats,
            attempts=settings.getint("PERSIST_ATTEMPTS", 5),
            backoff=settings.getfloat("PERSIST_BACKOFF", 0.2),
            spool_dir=settings.get("PERSIST_SPOOL_DIR") or None,
            batch_size=settings.getint("PERSIST_BATCH_SIZE", 1),
            batch_seconds=settings.getfloat("PERSIST_BATCH_SECONDS", 0.2),
        )

    def open_spider(self) -> None:
        self.database = get_database(self.database_url)
        self.replay_spool()

    async def close_spider(self) -> None:
        self._flush()
        while self._writes:
            await asyncio.gather(*self._writes, return_exceptions=True)
        if self._writer is not None:
            self._writer.shutdown()
            self._writer = None
        spooled = int(self.stats.get_value("pipeline/persist/spooled", 0) or 0)
        if spooled and self.spool is not None:
            logger.error(
                "%d writes could not reach the database; kept in %s for the next run",
                spooled,
                self.spool.path,
            )

    def process_item(self, item: Any) -> Any:
        entry = to_entry(item, now())
        if entry is None:
            return item
        if self.batch_size <= 1:
            self._count(item, self._persist(entry))
            return item
        return self._batched(item, entry)

    def _count(self, item: Any, outcome: str | None) -> None:
        if outcome is not None and isinstance(item, ArticleItem):
            self.stats.inc_value(f"pipeline/persist/{outcome}")

    # -- batching ---------------------------------------------------------------------

    async def _batched(self, item: Any, entry: Entry) -> Any:
        loop = asyncio.get_running_loop()
        written: asyncio.Future[Any] = loop.create_future()
        self._pending.append((entry, written))
        if len(self._pending) >= self.batch_size:
            self._flush()
        elif self._timer is None:
            self._timer = loop.call_later(self.batch_seconds, self._flush)
        self._count(item, await written)
        return item

    def _flush(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        batch, self._pending = self._pending, []
        if not batch:
            return
        if self._writer is None:
            # One thread: batches are written in the order the items came.
            self._writer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="ecnews-persist")
        loop = asyncio.get_running_loop()
        write = loop.run_in_executor(self._writer, self._write_batch, [e for e, _ in batch])
        self._writes.add(write)

        def settle(done: asyncio.Future[list[Any]]) -> None:
            self._writes.discard(done)
            error = done.exception()
            results: list[Any] = [error] * len(batch) if error else done.result()
            for (_, written), result in zip(batch, results, strict=True):
                if isinstance(result, BaseException):
                    written.set_exception(result)
                else:
                    written.set_result(result)

        write.add_done_callback(settle)

    def _write_batch(self, entries: list[Entry]) -> list[Any]:
        """On the writer thread: the batch in one transaction, else each in its own."""
        assert self.database is not None, "open_spider was not called"
        if not self._unavailable:
            try:
                with self.database.sessions.begin() as session:
                    repository = Repository(session)
                    return [apply_entry(repository, entry) for entry in entries]
            except Exception:  # noqa: BLE001  # each entry is retried and judged alone below
                self.stats.inc_value("pipeline/persist/batch_retried")
        results: list[Any] = []
        for entry in entries:
            try:
                results.append(self._persist(entry))
            except Exception as error:  # noqa: BLE001  # raised in the item's own process_item
                results.append(error)
        return results

    # -- writing ----------------------------------------------------------------------

    def _persist(self, entry: Entry) -> str | None:
        """Write `entry`; on failure spool or reject it (counted). None when not written."""
        try:
            return self._write(entry)
        except REFUSED as error:
            self._reject(entry, error)
        except (ConcurrentWrite, DBAPIError) as error:
            self.stats.inc_value("pipeline/persist/failed")
            if self.spool is None:
                raise
            self.spool.append(entry)
            self.stats.inc_value("pipeline/persist/spooled")
            logger.error(
                "Could not write %s %s (%s); spooled to %s for the next run",
                entry["kind"],
                entry_url(entry),
                _brief(error),
                self.spool.path,
            )
        return None

    def _write(self, entry: Entry, *, replay: bool = False) -> str | None:
        assert self.database is not None, "open_spider was not called"
        attempts = 1 if self._unavailable else self.attempts
        for attempt in range(1, attempts + 1):
            try:
                with self.database.sessions.begin() as session:
                    result = apply_entry(Repository(session), entry, replay=replay)
            except RETRYABLE as error:
                if isinstance(error, DBAPIError) and error.connection_invalidated:
                    logger.warning("Database connection lost; reconnecting")
                if attempt == attempts:
                    if isinstance(error, UNAVAILABLE):
                        self._unavailable = True
                    raise
                self.stats.inc_value("pipeline/persist/retried")
                logger.info("Write contended (%s); retry %d", type(error).__name__, attempt)
                time.sleep(self.backoff * 2 ** (attempt - 1))
            else:
                self._unavailable = False
                return result
        raise AssertionError("unreachable")

    def _reject(self, entry: Entry, error: Exception) -> None:
        self.stats.inc_value("pipeline/persist/failed")
        self.stats.inc_value("pipeline/persist/rejected")
        logger.error(
            "The database refused %s %s: %s", entry.get("kind"), entry_url(entry), _brief(error)
        )
        if self.spool is not None:
            self.spool.reject(entry, _brief(error))

    # -- the spool --------------------------------------------------------------------

    def replay_spool(self) -> None:
        """Write what earlier runs spooled, oldest first, before this run writes anything."""
        if self.spool is None or not self.spool.path.exists():
            return
        result = self.spool.replay(self._replay_one)
        if result.done:
            logger.info("Wrote %d spooled entries from %s", result.done, self.spool.path)
        if result.kept:
            # Still not written: this run fails too, and the next one tries again.
            self.stats.inc_value("pipeline/persist/failed", result.kept)
            self.stats.set_value("pipeline/persist/spool_pending", result.kept)
            logger.error(
                "%d spooled entries still cannot be written; kept in %s",
                result.kept,
                self.spool.path,
            )
        if result.unreadable:
            self.stats.inc_value("pipeline/persist/spool_unreadable", result.unreadable)

    def _replay_one(self, entry: Entry) -> Replayed:
        try:
            outcome = self._write(entry, replay=True)
        except REFUSED as error:
            self._reject(entry, error)
            return Replayed.DONE
        except UNAVAILABLE as error:
            logger.warning("Spool replay stopped: %s", _brief(error))
            return Replayed.STOP
        except (ConcurrentWrite, DBAPIError) as error:
            logger.warning(
                "Spooled %s %s kept: %s", entry.get("kind"), entry_url(entry), _brief(error)
            )
            return Replayed.KEEP
        except (KeyError, TypeError, ValueError) as error:  # not an entry this version wrote
            self._reject(entry, error)
            return Replayed.DONE
        self.stats.inc_value(
            "pipeline/persist/replayed" if outcome != "stale" else "pipeline/persist/replay_stale"
        )
        return Replayed.DONE


# -- entries: what to write, as JSON-able dicts ---------------------------------------------


def to_entry(item: Any, at: dt.datetime) -> Entry | None:
    """The entry for a Scrapy item, or None for items that are not stored."""
    seen = at.isoformat()
    if isinstance(item, ArticleItem):
        # ValidatePipeline ran before: both are set.
        assert item.title is not None
        assert item.body is not None
        record = ArticleRecord(
            url=item.url,
            title=item.title,
            body=item.body,
            published_at=item.published_at,
            date_precision=item.date_precision,
            source=item.source,
            source_title=item.source_title,
            author=item.author,
            published_raw=item.published_raw,
            category_slug=item.category_slug,
            category_name=item.category_name,
        )
        fields = dataclasses.asdict(record)
        fields["published_at"] = record.published_at.isoformat() if record.published_at else None
        return {
            "kind": "article",
            "at": seen,
            "record": fields,
            "etag": item.etag,
            "last_modified": item.last_modified,
        }
    if isinstance(item, ListingItem):
        return {"kind": "listing", "at": seen, **dataclasses.asdict(item)}
    if isinstance(item, PageStatusItem):
        return {"kind": "status", "at": seen, **dataclasses.asdict(item)}
    if isinstance(item, WalkCompleteItem):
        return {"kind": "walk_complete", "at": seen, **dataclasses.asdict(item)}
    return None


def entry_url(entry: Entry) -> str:
    """What an entry is about, for logs: its URL, or a listing page's links."""
    record = entry.get("record")
    if isinstance(record, dict):
        return str(record.get("url"))
    links = entry.get("links")
    if isinstance(links, list):
        return f"{entry.get('category_slug')} listing page of {len(links)} links"
    return str(entry.get("url"))


def apply_entry(repo: Repository, entry: Entry, *, replay: bool = False) -> str | None:
    """Write one entry in the repository's transaction; the article outcome, or "stale"
    when a replayed entry is older than what the database holds."""
    at = dt.datetime.fromisoformat(entry["at"])
    kind = entry["kind"]
    if kind == "article":
        fields = dict(entry["record"])
        if fields["published_at"] is not None:
            fields["published_at"] = dt.datetime.fromisoformat(fields["published_at"])
        record = ArticleRecord(**fields)
        if replay and _seen_since(
            repo, select(ArticleUrl.last_seen_at), ArticleUrl.url, record.url, at
        ):
            return "stale"
        outcome = repo.store(record, at)
        repo.record_page(record.url, 200, entry["etag"], entry["last_modified"], at)
        return outcome.value
    if kind == "listing":
        links = [(url, parse_day(raw)) for url, raw in entry["links"]]
        repo.record_listings(entry["category_slug"], entry["category_name"], links, at)
        return None
    if kind == "walk_complete":
        repo.complete_walk(entry["category_slug"], at)
        return None
    if kind == "status":
        if replay and _seen_since(repo, select(Page.fetched_at), Page.url, entry["url"], at):
            return "stale"
        if entry["status"] == 304:
            repo.touch(entry["url"], at)
        else:
            repo.record_page(entry["url"], entry["status"], None, None, at)
        return None
    raise ValueError(f"unknown spool entry kind {kind!r}")


def _seen_since(repo: Repository, query: Any, column: Any, url: str, at: dt.datetime) -> bool:
    """Whether the database heard of `url` after `at` (a replayed entry is then stale)."""
    seen = repo.session.scalar(query.where(column == url))
    return seen is not None and seen > at


def _brief(error: BaseException) -> str:
    """The error's first line, without the SQL statement and parameters SQLAlchemy adds."""
    origin = getattr(error, "orig", None) or error
    text = str(origin).strip().splitlines()
    return f"{type(origin).__name__}: {text[0][:300] if text else ''}"
