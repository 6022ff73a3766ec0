"""What earlier runs stored, as the spider needs it to walk listings incrementally: which
links are known, which are still unresolved, the validators for conditional requests,
and whether the last walk of a listing ended properly.

The spider is handed one of these (``NewsSpider.from_crawler``) and only asks; every
write travels as an item through the pipelines (``WalkStartedItem``, ``ListingItem``,
``WalkCompleteItem``, ``ForgetLinksItem``). Reads run in read transactions (they never
take SQLite's write lock from the writer process).

Each listing page is judged before its ListingItem is yielded, so "known" always means
known to an earlier run.

Every read runs under the client-side deadline (``storage/deadline.py``): a database that
stops answering fails the read instead of hanging the reactor. The first failed read
closes the crawl (``database_unavailable``, exit 1) and every later one fails at once, so
a dead database costs one deadline, not one per listing page.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Self

from sqlalchemy.exc import SQLAlchemyError

from pipelines.rules import parse_day
from storage.db import DatabaseOptions, get_database
from storage.deadline import client_deadline
from storage.repository import Repository

if TYPE_CHECKING:
    from collections.abc import Iterator

    from scrapy.crawler import Crawler
    from sqlalchemy.orm import Session

    from storage.db import Database

logger = logging.getLogger(__name__)

MODES = ("incremental", "full")
DATABASE_UNAVAILABLE = "database_unavailable"
"""The finish reason of a crawl closed because it could not read what earlier runs stored."""


class MemoryUnavailable(Exception):
    """What earlier runs stored cannot be read: the crawl is closing."""


@dataclass(slots=True)
class PagePlan:
    """What to do with one listing page's links."""

    fetch: list[str]
    """The links to request, in listing order."""
    validators: dict[str, tuple[str | None, str | None]] = field(default_factory=dict)
    """Full mode: (ETag, Last-Modified) per link already stored, for a conditional GET."""
    stop: bool = False
    """Incremental mode: everything on the page is stored, and nothing an earlier run
    listed is still unresolved: the walk ends here."""


class ListingMemory:
    def __init__(
        self,
        database_url: str,
        mode: str,
        options: DatabaseOptions,
        crawler: Crawler | None = None,
    ) -> None:
        if mode not in MODES:
            raise ValueError(f"mode must be one of {', '.join(MODES)}, not {mode!r}")
        self.database_url = database_url
        self.options = options
        self.mode = mode
        self.crawler = crawler
        self.unavailable: str | None = None
        """Why a read failed; set once, and every later read fails at once."""
        self._closing: asyncio.Future[None] | None = None
        self._pending: dict[str, set[str]] = {}
        """Per category: links listed by earlier runs and still unresolved."""

    @classmethod
    def from_crawler(cls, crawler: Crawler, mode: str) -> Self:
        settings = crawler.settings
        return cls(settings["DATABASE_URL"], mode, DatabaseOptions.from_settings(settings), crawler)

    @property
    def database(self) -> Database:
        return get_database(self.database_url, self.options)

    @contextlib.contextmanager
    def _reading(self, what: str) -> Iterator[Session]:
        if self.unavailable is not None:
            raise MemoryUnavailable(self.unavailable)
        database = self.database
        try:
            with client_deadline(database)(what), database.reads() as session:
                yield session
        except SQLAlchemyError as error:
            self.unavailable = f"cannot read the database ({type(error).__name__})"
            logger.error("Closing the crawl: %s while reading %s", self.unavailable, what)
            self._close_crawl()
            raise MemoryUnavailable(self.unavailable) from error

    def _close_crawl(self) -> None:
        if self.crawler is None:
            return
        engine = self.crawler.engine
        if engine is not None and engine.spider is not None:
            self._closing = asyncio.ensure_future(
                engine.close_spider_async(reason=DATABASE_UNAVAILABLE)
            )

    def walk_resumable(self, slug: str) -> bool:
        """Whether the previous walk of `slug` ended properly (so this one may stop early)."""
        with self._reading(f"the walk state of {slug}") as session:
            return Repository(session).walk_resumable(slug)

    def plan(self, slug: str, links: list[tuple[str, str | None]], *, resumable: bool) -> PagePlan:
        """Judge one listing page's (URL, listing date as shown) links."""
        urls = [url for url, _ in links]
        with self._reading(f"the known links of {slug}") as session:
            repository = Repository(session)
            if self.mode == "full":
                return PagePlan(urls, validators=repository.validators(urls))
            known = repository.known_listing_urls(slug, [(u, parse_day(d)) for u, d in links])
            if slug not in self._pending:
                self._pending[slug] = repository.pending_listing_urls(slug)
        pending = self._pending[slug]
        pending.difference_update(urls)
        fetch = [url for url in urls if url not in known]
        stop = resumable and bool(urls) and not fetch and not pending
        return PagePlan(fetch, stop=stop)

    def walk_ended(self, slug: str) -> list[str]:
        """The walk reached the listing's end: the unresolved links it never met again are
        no longer listed (returned, to be forgotten)."""
        return sorted(self._pending.pop(slug, set()))
