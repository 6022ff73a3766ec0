"""Hands clean items to storage, one transaction per item, retried on contention."""

from __future__ import annotations

import datetime as dt
import logging
import time
from typing import TYPE_CHECKING, Any, Self

from sqlalchemy.exc import DBAPIError, IntegrityError, OperationalError

from crawler.items import ArticleItem, ListingItem, PageStatusItem
from pipelines._dates import parse_published
from storage.db import get_database
from storage.repository import ArticleRecord, ConcurrentWrite, Repository

if TYPE_CHECKING:
    from scrapy.crawler import Crawler
    from scrapy.statscollectors import StatsCollector

    from storage.db import Database

logger = logging.getLogger(__name__)

# Contention (another crawl writing, SQLite busy, a PostgreSQL serialization failure or
# restart) is retried with backoff; past that the error propagates and the run fails.
RETRYABLE = (ConcurrentWrite, IntegrityError, OperationalError)


def now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class PersistPipeline:
    def __init__(
        self, database_url: str, stats: StatsCollector, *, attempts: int = 5, backoff: float = 0.2
    ) -> None:
        self.database_url = database_url
        self.stats = stats
        self.attempts = attempts
        self.backoff = backoff
        self.database: Database | None = None

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Self:
        assert crawler.stats is not None
        settings = crawler.settings
        return cls(
            settings["DATABASE_URL"],
            crawler.stats,
            attempts=settings.getint("PERSIST_ATTEMPTS", 5),
            backoff=settings.getfloat("PERSIST_BACKOFF", 0.2),
        )

    def open_spider(self) -> None:
        self.database = get_database(self.database_url)

    def process_item(self, item: Any) -> Any:
        if isinstance(item, ArticleItem):
            outcome = self._write(lambda repo, at: self._store_article(repo, item, at))
            self.stats.inc_value(f"pipeline/persist/{outcome}")
        elif isinstance(item, ListingItem):
            self._write(lambda repo, at: self._store_listing(repo, item, at))
        elif isinstance(item, PageStatusItem):
            self._write(lambda repo, at: self._store_status(repo, item, at))
        return item

    def _write(self, work: Any) -> Any:
        assert self.database is not None, "open_spider was not called"
        for attempt in range(1, self.attempts + 1):
            try:
                with self.database.sessions.begin() as session:
                    return work(Repository(session), now())
            except RETRYABLE as error:
                if isinstance(error, DBAPIError) and error.connection_invalidated:
                    logger.warning("Database connection lost; reconnecting")
                if attempt == self.attempts:
                    self.stats.inc_value("pipeline/persist/failed")
                    raise
                self.stats.inc_value("pipeline/persist/retried")
                logger.info("Write contended (%s); retry %d", type(error).__name__, attempt)
                time.sleep(self.backoff * 2 ** (attempt - 1))
        raise AssertionError("unreachable")

    @staticmethod
    def _store_article(repo: Repository, item: ArticleItem, at: dt.datetime) -> str:
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
        outcome = repo.store(record, at)
        repo.record_page(item.url, 200, item.etag, item.last_modified, at)
        return outcome.value

    @staticmethod
    def _store_listing(repo: Repository, item: ListingItem, at: dt.datetime) -> None:
        parsed = parse_published(item.listing_date_raw)
        repo.record_listing(
            item.category_slug,
            item.category_name,
            item.url,
            parsed.moment.date() if parsed else None,
            at,
        )

    @staticmethod
    def _store_status(repo: Repository, item: PageStatusItem, at: dt.datetime) -> None:
        if item.status == 304:
            repo.touch(item.url, at)
        else:
            repo.record_page(item.url, item.status, None, None, at)
