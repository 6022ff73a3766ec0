"""What the crawl asks the database, and single writes for tests and tools.

The crawl reads through this (``crawler/incremental.py``: which listing links are known,
which are unresolved, the validators for conditional requests, whether the last walk of
a listing ended); it writes only through records and the writer process
(``storage/writer.py`` → ``storage/batch.py``). The write methods here are the same
batch writer with a batch of one, for tests and tools.

The repository takes a Session and never commits: the caller frames each transaction.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

from sqlalchemy import select

from storage.batch import BatchWriter, ConcurrentWrite, Outcome, content_hash, dedupe_key
from storage.models import ArticleUrl, Category, Listing, Page
from storage.records import (
    ArticleRecord,
    ForgetLinksRecord,
    ListingRecord,
    PageStatusRecord,
    WalkRecord,
)

if TYPE_CHECKING:
    from collections.abc import Iterable, Sequence

    from sqlalchemy.orm import Session

__all__ = [
    "ArticleRecord",
    "ConcurrentWrite",
    "Outcome",
    "Repository",
    "content_hash",
    "dedupe_key",
]


class Repository:
    def __init__(self, session: Session) -> None:
        self.session = session

    # -- reads for the incremental crawl ------------------------------------------------

    def known_listing_urls(
        self, slug: str, links: Sequence[tuple[str, dt.date | None]]
    ) -> set[str]:
        """Those of `links` already listed in this category with the same date and resolved:
        stored as an article, or known to be gone (404)."""
        if not links:
            return set()
        urls = [url for url, _ in links]
        listed = {
            (url, day)
            for url, day in self.session.execute(
                select(Listing.url, Listing.listing_date)
                .join(Category, Category.id == Listing.category_id)
                .where(Category.slug == slug, Listing.url.in_(urls))
            )
        }
        stored = set(self.session.scalars(select(ArticleUrl.url).where(ArticleUrl.url.in_(urls))))
        gone = set(
            self.session.scalars(select(Page.url).where(Page.url.in_(urls), Page.status == 404))
        )
        return {url for url, day in links if (url, day) in listed and url in stored | gone}

    def walk_resumable(self, slug: str) -> bool:
        """Whether the previous walk of this listing ended properly (a plain read: the
        walk's start is written as a record)."""
        row = self.session.execute(
            select(Category.walk_started_at, Category.walk_completed_at).where(
                Category.slug == slug
            )
        ).first()
        if row is None:
            return False
        started, completed = row
        return completed is not None and (started is None or completed >= started)

    def pending_listing_urls(self, slug: str) -> set[str]:
        """Links this category listed that are neither stored nor known gone: a fetch that
        failed or was killed. The incremental walk goes on until it has met them again."""
        stored = select(ArticleUrl.url)
        gone = select(Page.url).where(Page.status == 404)
        return set(
            self.session.scalars(
                select(Listing.url)
                .join(Category, Category.id == Listing.category_id)
                .where(Category.slug == slug, Listing.url.not_in(stored), Listing.url.not_in(gone))
            )
        )

    def validators(self, urls: Iterable[str]) -> dict[str, tuple[str | None, str | None]]:
        """(ETag, Last-Modified) the site last sent for each stored page among `urls`."""
        rows = self.session.execute(
            select(Page.url, Page.etag, Page.last_modified).where(
                Page.url.in_(list(urls)), Page.status == 200
            )
        )
        return {url: (etag, modified) for url, etag, modified in rows}

    # -- single writes (a batch of one) ---------------------------------------------------

    def store(self, record: ArticleRecord, now: dt.datetime) -> Outcome:
        """Store one article per the spec's dedupe rules; return what happened."""
        outcome = BatchWriter(self.session).write([record], now)[0]
        assert outcome is not None
        return outcome

    def record_listings(
        self,
        slug: str,
        name: str | None,
        links: Sequence[tuple[str, dt.date | None]],
        now: dt.datetime,
    ) -> None:
        BatchWriter(self.session).write([ListingRecord(slug, name, tuple(links), now)], now)

    def begin_walk(self, slug: str, name: str | None, now: dt.datetime) -> bool:
        """A crawl starts walking this listing; True when the previous walk ended properly."""
        resumable = self.walk_resumable(slug)
        BatchWriter(self.session).write([WalkRecord(slug, name, "started", now)], now)
        return resumable

    def complete_walk(self, slug: str, now: dt.datetime) -> None:
        BatchWriter(self.session).write([WalkRecord(slug, None, "completed", now)], now)

    def forget_listing_urls(self, slug: str, urls: Iterable[str]) -> None:
        now = dt.datetime.now(dt.UTC)
        BatchWriter(self.session).write([ForgetLinksRecord(slug, tuple(urls), now)], now)

    def record_page(self, url: str, status: int, now: dt.datetime) -> None:
        """A page that answered `status` (404, 410: gone) and holds no article."""
        if status == 200:
            raise ValueError("a 200 page is written with its article (store)")
        BatchWriter(self.session).write([PageStatusRecord(url, status, now)], now)

    def touch(self, url: str, now: dt.datetime) -> bool:
        """The page at `url` did not change (304): only its last-seen time moves."""
        found = self.session.scalar(select(ArticleUrl.id).where(ArticleUrl.url == url))
        BatchWriter(self.session).write([PageStatusRecord(url, 304, now)], now)
        return found is not None
