"""Hands clean items to storage as typed records, in batches, to the writer process.

Each item becomes a record (``storage/records.py``); records are collected into batches
(``PERSIST_BATCH_SIZE``, or whatever arrived within ``PERSIST_BATCH_SECONDS``) and written
by a child process (``storage/writer.py``), one transaction per batch, so the database
work runs on the other core. An item is acknowledged to the crawl (counted as scraped)
only once its batch has committed: Scrapy waits on it, which is the back-pressure, and a
crash loses no acknowledged item.

What is not written is never lost:

- the database unavailable past the writer's retries, or refusing a record's content:
  the record is spooled (``storage/spool.py``), or set aside as rejected, counted in
  ``pipeline/persist/failed``, and the run fails (exit 1);
- the writer process dead, or stalled past ``PERSIST_STALL_TIMEOUT``: every pending record
  is spooled, later ones too, and the crawl is closed (``writer_failed``, exit 1).

The next run writes the spool before it crawls (``pipeline/persist/replayed``).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from typing import TYPE_CHECKING, Any, Self

from scrapy import signals

from pipelines import stats_keys as keys
from pipelines.items import (
    ArticleItem,
    ForgetLinksItem,
    ListingItem,
    PageStatusItem,
    WalkCompleteItem,
    WalkStartedItem,
)
from pipelines.rules import parse_day
from pipelines.suspect import SuspectPageDropped
from storage.batch import Outcome
from storage.db import DatabaseOptions, get_database
from storage.records import (
    ArticleRecord,
    ForgetLinksRecord,
    ListingRecord,
    PageStatusRecord,
    Record,
    SuspectRecord,
    WalkRecord,
    from_json,
    record_url,
    to_json,
)
from storage.spool import Replayed, Spool
from storage.writer import WriteFailed, WriterGone, WriterOptions, WriterProcess

if TYPE_CHECKING:
    from scrapy.crawler import Crawler
    from scrapy.statscollectors import StatsCollector

    from storage.writer import BatchResult, Result

logger = logging.getLogger(__name__)

WRITER_FAILED = "writer_failed"
"""The finish reason of a crawl closed because its writer process died or stalled."""


def now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def to_record(item: Any, at: dt.datetime) -> Record | None:  # noqa: PLR0911  # one per kind
    """The record for a Scrapy item, or None for items that are not stored."""
    if isinstance(item, ArticleItem):
        # ValidatePipeline ran before: both are set.
        assert item.title is not None
        assert item.body is not None
        return ArticleRecord(
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
            listing_title=item.listing_title,
            etag=item.etag,
            last_modified=item.last_modified,
            revision_reason=item.revision_reason,
            layout_version=item.layout_version,
            at=at,
            review=item.review_reason,
        )
    if isinstance(item, ListingItem):
        links = tuple((url, parse_day(raw)) for url, raw in item.links)
        return ListingRecord(item.category_slug, item.category_name, links, at)
    if isinstance(item, PageStatusItem):
        return PageStatusRecord(item.url, item.status, at)
    if isinstance(item, WalkStartedItem):
        return WalkRecord(item.category_slug, item.category_name, "started", at)
    if isinstance(item, WalkCompleteItem):
        return WalkRecord(item.category_slug, None, "completed", at)
    if isinstance(item, ForgetLinksItem):
        return ForgetLinksRecord(item.category_slug, tuple(item.urls), at)
    return None


class PersistPipeline:
    def __init__(
        self,
        crawler: Crawler,
        database_url: str,
        stats: StatsCollector,
        *,
        options: WriterOptions,
        spool_dir: str | None = None,
        batch_size: int,
        batch_seconds: float,
        stall_timeout: float,
    ) -> None:
        self.crawler = crawler
        self.database_url = database_url
        self.stats = stats
        self.options = options
        self.batch_size = max(1, batch_size)
        self.batch_seconds = batch_seconds
        self.stall_timeout = stall_timeout
        self.spool = Spool(spool_dir, database_url) if spool_dir else None
        self.writer: WriterProcess | None = None
        self._pending: list[tuple[Record, asyncio.Future[Result]]] = []
        self._timer: asyncio.TimerHandle | None = None
        self._batches: set[asyncio.Future[Any]] = set()
        self._closing: asyncio.Future[None] | None = None

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Self:
        pipeline = cls._build(crawler)
        crawler.signals.connect(pipeline.item_dropped, signal=signals.item_dropped)
        return pipeline

    @classmethod
    def _build(cls, crawler: Crawler) -> Self:
        assert crawler.stats is not None
        settings = crawler.settings
        return cls(
            crawler,
            settings["DATABASE_URL"],
            crawler.stats,
            options=WriterOptions(
                attempts=max(1, settings.getint("PERSIST_ATTEMPTS")),
                backoff=settings.getfloat("PERSIST_BACKOFF"),
                held_apply_after=dt.timedelta(
                    hours=settings.getfloat("PERSIST_HELD_APPLY_AFTER_HOURS")
                ),
                database=DatabaseOptions.from_settings(settings),
            ),
            spool_dir=settings.get("PERSIST_SPOOL_DIR") or None,
            batch_size=settings.getint("PERSIST_BATCH_SIZE"),
            batch_seconds=settings.getfloat("PERSIST_BATCH_SECONDS"),
            stall_timeout=settings.getfloat("PERSIST_STALL_TIMEOUT"),
        )

    def open_spider(self) -> None:
        # The schema at head before the writer starts.
        get_database(self.database_url, self.options.database)
        self.writer = WriterProcess(
            self.database_url, self.options, stall_timeout=self.stall_timeout
        )
        self.writer.start()
        self.replay_spool()

    async def close_spider(self) -> None:
        await asyncio.sleep(0)  # items already handed to us join the last batch
        while self._pending or self._batches:
            self._flush()
            await asyncio.gather(*self._batches, return_exceptions=True)
        if self.writer is not None:
            await asyncio.get_running_loop().run_in_executor(
                None, self.writer.stop, self.stall_timeout
            )
        spooled = int(self.stats.get_value(keys.PERSIST_SPOOLED, 0) or 0)
        if spooled and self.spool is not None:
            logger.error(
                "%d writes could not reach the database; kept in %s for the next run",
                spooled,
                self.spool.path,
            )

    async def process_item(self, item: Any) -> Any:
        record = to_record(item, now())
        if record is None:
            return item
        loop = asyncio.get_running_loop()
        written: asyncio.Future[Result] = loop.create_future()
        self._pending.append((record, written))
        # A listing page's next page waits for its links (crawler/listing_gate.py): no timer.
        if len(self._pending) >= self.batch_size or isinstance(record, ListingRecord):
            self._flush()
        elif self._timer is None:
            self._timer = loop.call_later(self.batch_seconds, self._flush)
        result = await written
        if isinstance(result, Outcome):
            self.stats.inc_value(f"{keys.PERSIST}{result.value}")
            if result is Outcome.HELD:
                logger.warning(
                    "%s: the site now serves a much poorer version (see held_changes);"
                    " the stored article is kept",
                    record_url(record),
                )
        return item

    def item_dropped(self, item: Any, exception: BaseException, **_: Any) -> None:
        """A suspect page's refusal is written (counted per page and content)."""
        if not isinstance(exception, SuspectPageDropped) or self.writer is None:
            return
        record = SuspectRecord(exception.url, exception.content_hash, exception.reason, now())
        written: asyncio.Future[Result] = asyncio.get_event_loop().create_future()
        self._pending.append((record, written))
        self._flush()

    # -- batches ----------------------------------------------------------------------

    def _flush(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        batch, self._pending = self._pending, []
        if not batch:
            return
        assert self.writer is not None, "open_spider was not called"
        self.stats.inc_value(keys.PERSIST_BATCHES)
        done = asyncio.wrap_future(self.writer.submit([record for record, _ in batch]))
        self._batches.add(done)

        def settle(finished: asyncio.Future[BatchResult]) -> None:
            self._batches.discard(finished)
            error = finished.exception()
            if isinstance(error, WriterGone):
                self._writer_gone(str(error))
                results: list[Result] = [WriteFailed("unavailable", str(error))] * len(batch)
            elif error is not None:
                raise error
            else:
                outcome = finished.result()
                results = outcome.results
                if outcome.retries:
                    self.stats.inc_value(keys.PERSIST_RETRIED, outcome.retries)
                if outcome.split:
                    self.stats.inc_value(keys.PERSIST_BATCH_RETRIED)
            for (record, written), result in zip(batch, results, strict=True):
                if isinstance(result, WriteFailed):
                    self._not_written(record, result)
                if not written.done():
                    written.set_result(result)

        done.add_done_callback(settle)

    def _writer_gone(self, why: str) -> None:
        if self.stats.get_value(keys.PERSIST_WRITER_FAILED):
            return
        self.stats.set_value(keys.PERSIST_WRITER_FAILED, why)
        logger.error("Closing the crawl: %s", why)
        try:
            engine = self.crawler.engine
        except RuntimeError:  # not crawling (a tool or a test drives the pipeline)
            return
        if engine is not None and engine.spider is not None:
            self._closing = asyncio.ensure_future(engine.close_spider_async(reason=WRITER_FAILED))

    def _not_written(self, record: Record, failure: WriteFailed) -> None:
        self.stats.inc_value(keys.PERSIST_FAILED)
        if failure.kind == "refused":
            self.stats.inc_value(keys.PERSIST_REJECTED)
            logger.error("The database refused %s: %s", record_url(record), failure.reason)
            if self.spool is not None:
                self.spool.reject(to_json(record), failure.reason)
            return
        if self.spool is None:
            logger.error("Could not write %s (%s); no spool", record_url(record), failure.reason)
            return
        self.spool.append(to_json(record))
        self.stats.inc_value(keys.PERSIST_SPOOLED)
        logger.error(
            "Could not write %s (%s); spooled to %s for the next run",
            record_url(record),
            failure.reason,
            self.spool.path,
        )

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
            self.stats.inc_value(keys.PERSIST_FAILED, result.kept)
            self.stats.set_value(keys.PERSIST_SPOOL_PENDING, result.kept)
            logger.error(
                "%d spooled entries still cannot be written; kept in %s",
                result.kept,
                self.spool.path,
            )
        if result.unreadable:
            self.stats.inc_value(keys.PERSIST_SPOOL_UNREADABLE, result.unreadable)

    def _replay_one(self, entry: dict[str, Any]) -> Replayed:
        assert self.writer is not None
        try:
            record = from_json(entry)
        except (KeyError, TypeError, ValueError) as error:  # not an entry this version wrote
            self.stats.inc_value(keys.PERSIST_REJECTED)
            if self.spool is not None:
                self.spool.reject(entry, f"unreadable entry: {error!r}")
            return Replayed.DONE
        try:
            done = self.writer.submit([record], replay=True).result(self.stall_timeout + 5)
            [result] = done.results
            if done.retries:
                self.stats.inc_value(keys.PERSIST_RETRIED, done.retries)
        except (WriterGone, TimeoutError) as error:
            logger.warning("Spool replay stopped: %s", error)
            return Replayed.STOP
        if isinstance(result, WriteFailed):
            if result.kind == "refused":
                self.stats.inc_value(keys.PERSIST_FAILED)
                self.stats.inc_value(keys.PERSIST_REJECTED)
                if self.spool is not None:
                    self.spool.reject(entry, result.reason)
                return Replayed.DONE
            logger.warning("Spool replay stopped: %s", result.reason)
            return Replayed.STOP
        self.stats.inc_value(
            keys.PERSIST_REPLAY_STALE if result is Outcome.STALE else keys.PERSIST_REPLAYED
        )
        return Replayed.DONE
