"""A crawl whose downloads are answered from the archive: the news spider and every
pipeline run as in a crawl, and no request reaches the site.

``ArchiveDownloadHandler`` takes the place of Scrapy's HTTP handler: every request is
answered with the newest archived capture of its URL (a 304 or a passing failure is
skipped for the page the site last sent; with ARCHIVE_REPLAY_UNTIL, the newest captured
by then). The response goes through the downloader middlewares as a fetched one does
(decompression included), so the spider sees what the crawl saw.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Self

from scrapy import signals
from scrapy.core.downloader.handlers.base import BaseDownloadHandler
from scrapy.exceptions import DontCloseSpider
from scrapy.http import Headers
from scrapy.responsetypes import responsetypes

from crawler.archive.store import IndexEntry, index_entries, latest, read_response
from crawler.incremental import ListingMemory, PagePlan
from crawler.spiders.news import NewsSpider
from storage.db import DatabaseOptions

if TYPE_CHECKING:
    from collections.abc import Iterator

    from scrapy import Request
    from scrapy.crawler import Crawler
    from scrapy.http import Response

    from pipelines.items import ArticleItem

logger = logging.getLogger(__name__)

REEXTRACT = "reextract"
"""The reason of the revisions a replay writes."""
PAGES_READ = "archive/replay/pages"
UNLISTED = "archive/replay/unlisted"
LAST_COPY = "archive_last_copy"
"""Request meta: answer with the URL's newest 2xx capture (a page the site deleted)."""
NOT_ARCHIVED = "archive/replay/not_archived"


@dataclass(frozen=True, slots=True)
class Listed:
    """What the database kept of the listing that linked a stored article."""

    slug: str
    name: str
    title: str | None
    day: str | None
    """The listing's date for it, ISO (the listings' own format)."""


class NotArchived(Exception):
    """The archive holds no capture of this URL."""


class ArchiveDownloadHandler(BaseDownloadHandler):
    def __init__(self, crawler: Crawler) -> None:
        super().__init__(crawler)
        settings = crawler.settings
        self.folder = Path(settings.get("ARCHIVE_DIR"))
        until = settings.get("ARCHIVE_REPLAY_UNTIL")
        self.until = dt.datetime.fromisoformat(until) if until else None
        self._latest: dict[str, IndexEntry] | None = None
        self._latest_ok: dict[str, IndexEntry] = {}

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Self:
        return cls(crawler)

    @property
    def captures(self) -> dict[str, IndexEntry]:
        if self._latest is None:
            entries = list(index_entries(self.folder))
            self._latest = latest(entries, until=self.until)
            self._latest_ok = latest(entries, until=self.until, ok=True)
        return self._latest

    async def download_request(self, request: Request) -> Response:
        entry = self.captures.get(request.url)
        if request.meta.get(LAST_COPY):
            entry = self._latest_ok.get(request.url, entry)
        stats = self.crawler.stats
        assert stats is not None
        if entry is None:
            stats.inc_value(NOT_ARCHIVED)
            raise NotArchived(f"not in the archive: {request.url}")
        stored = read_response(self.folder, entry)
        stats.inc_value(PAGES_READ)
        headers = Headers()
        for name, value in stored.headers:
            headers.appendlist(name, value)
        cls = responsetypes.from_args(headers=headers, url=stored.url, body=stored.body)
        return cls(
            url=stored.url,
            status=stored.status,
            headers=headers,
            body=stored.body,
            request=request,
            protocol=stored.protocol,
        )


class _Only(ListingMemory):
    """Full-mode planning limited to some article URLs (``--url``, ``--since``)."""

    def __init__(self, database_url: str, options: DatabaseOptions, only: frozenset[str]) -> None:
        super().__init__(database_url, "full", options)
        self.only = only

    def plan(self, slug: str, links: list[tuple[str, str | None]], *, resumable: bool) -> PagePlan:
        planned = super().plan(slug, links, resumable=resumable)
        planned.fetch = [url for url in planned.fetch if url in self.only]
        return planned


class ReplaySpider(NewsSpider):
    """The news spider in full mode; its article revisions say `reextract`."""

    @classmethod
    def from_crawler(cls, crawler: Crawler, *args: Any, **kwargs: Any) -> Self:
        only: frozenset[str] | None = kwargs.pop("only", None)
        reason: str = kwargs.pop("reason", REEXTRACT)
        unlisted: dict[str, Listed] = kwargs.pop("unlisted", {})
        spider = super().from_crawler(crawler, *args, mode="full", **kwargs)
        spider.reason = reason
        spider.unlisted = unlisted
        spider.requested = set()
        if only is not None:
            options = DatabaseOptions.from_settings(crawler.settings)
            spider.memory = _Only(crawler.settings["DATABASE_URL"], options, only)
        crawler.signals.connect(spider.replay_unlisted, signal=signals.spider_idle)
        return spider

    reason: str
    """The reason of the revisions it causes: ``reextract``, or ``crawl`` for a rebuild."""
    unlisted: dict[str, Listed]
    """Stored articles to replay even if no listing links them any more."""
    requested: set[str]

    def _article_request(
        self,
        url: str,
        slug: str,
        name: str,
        listing: dict[str, Any],
        validators: tuple[str | None, str | None] | None,
    ) -> Request:
        self.requested.add(url)
        return super()._article_request(url, slug, name, listing, validators)

    def replay_unlisted(self) -> None:
        """Once the listings are walked: the stored articles they no longer link, each from
        its last copy, with the listing data the database kept for it."""
        rest = {url: listed for url, listed in self.unlisted.items() if url not in self.requested}
        self.unlisted = {}
        if not rest:
            return
        self.crawler.stats.inc_value(UNLISTED, len(rest))
        for url, listed in rest.items():
            request = self._article_request(
                url,
                listed.slug,
                listed.name,
                {
                    "listing_title": listed.title,
                    "listing_text": listed.title,
                    "listing_date_raw": listed.day,
                },
                None,
            )
            request.meta[LAST_COPY] = True
            self.crawler.engine.crawl(request)
        raise DontCloseSpider

    def parse_article(
        self, response: Response, item: ArticleItem, noise: bool = False
    ) -> Iterator[Any]:
        item.revision_reason = self.reason
        yield from super().parse_article(response, item, noise)


def replay_settings(folder: str) -> dict[str, Any]:
    """The settings that turn a crawl into a replay of the archive in `folder`
    (ARCHIVE_REPLAY_UNTIL is each replay's own: crawler/archive/runner.py)."""
    handler = "crawler.archive.replay.ArchiveDownloadHandler"
    return {
        "ARCHIVE_ENABLED": False,  # what is replayed is already archived
        "ARCHIVE_DIR": folder,
        "DOWNLOAD_HANDLERS": {"http": handler, "https": handler},
        # The archive answers at once: no politeness to keep, no delay to adapt.
        "AUTOTHROTTLE_ENABLED": False,
        "DOWNLOAD_DELAY": 0,
        "CONCURRENT_REQUESTS": 64,
        "CONCURRENT_REQUESTS_PER_DOMAIN": 64,
        "RETRY_ENABLED": False,
    }
