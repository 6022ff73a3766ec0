"""What the crawl asks the database: reads only.

The crawl reads through this (``crawler/incremental.py``: which listing links are known,
which are unresolved, the validators for conditional requests, whether the last walk of
a listing ended); it writes only through records and the writer process
(``storage/writer.py`` → ``storage/batch.py``, where dedupe, merge and revisions happen).

Invariant: the repository never writes; it takes a Session and the caller frames it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from sqlalchemy import select

from storage.layouts import GENERIC
from storage.models import Article, ArticleUrl, Category, Listing, Page

if TYPE_CHECKING:
    import datetime as dt
    from collections.abc import Iterable, Sequence

    from sqlalchemy import Select
    from sqlalchemy.orm import Session


class Repository:
    """The incremental crawl's reads."""

    def __init__(self, session: Session) -> None:
        self.session = session

    # -- reads for the incremental crawl ------------------------------------------------

    def known_listing_urls(
        self, slug: str, links: Sequence[tuple[str, dt.date | None]]
    ) -> set[str]:
        """Those of `links` already listed in this category with the same date and resolved:
        stored as an article a layout read, or known to be gone (404). A generic
        extractor's reading is not resolved: it is fetched again until a layout reads it."""
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
        stored = set(self.session.scalars(_read_by_a_layout().where(ArticleUrl.url.in_(urls))))
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
        """Links this category listed that are neither stored (by a layout) nor known gone: a
        fetch that failed or was killed, or an article only a generic extractor could read. The incremental walk goes on until it has met them again."""
        stored = _read_by_a_layout()
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


def _read_by_a_layout() -> Select[str]:
    """The stored URLs whose article some layout read (not the generic extractor)."""
    return (
        select(ArticleUrl.url)
        .join(Article, Article.id == ArticleUrl.article_id)
        .where(Article.layout_version.is_(None) | (Article.layout_version != GENERIC))
    )
