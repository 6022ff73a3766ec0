"""What earlier runs stored about the site's layout, as the spider needs it: the active
layout, a sample of stored articles to prove a new one against, and the links each
listing is known to hold. Asked in read transactions, never written: an adopted layout
travels as an item (``LayoutAdoptedItem``) to ``pipelines/layout.py``."""

from __future__ import annotations

from typing import TYPE_CHECKING, Self

from crawler.layout.description import Layout
from storage import layouts
from storage.db import get_database

if TYPE_CHECKING:
    import datetime as dt

    from scrapy.crawler import Crawler

    from storage.layouts import StoredArticle


class LayoutMemory:
    def __init__(self, database_url: str, sample_size: int) -> None:
        self.database_url = database_url
        self.sample_size = sample_size

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Self:
        return cls(crawler.settings["DATABASE_URL"], crawler.settings.getint("NEWS_LAYOUT_SAMPLE"))

    def active(self) -> Layout | None:
        with get_database(self.database_url).reads() as session:
            row = layouts.active_layout(session)
            return Layout.from_json(row.description) if row is not None else None

    def stored(self, version: str) -> Layout | None:
        """The stored layout of this version (forgotten or not: it read what it read)."""
        with get_database(self.database_url).reads() as session:
            row = layouts.by_version(session, version)
            return Layout.from_json(row.description) if row is not None else None

    def sample(self) -> tuple[list[StoredArticle], int]:
        """Stored articles to prove a layout on, and how many are stored in all."""
        with get_database(self.database_url).reads() as session:
            return layouts.sample_articles(session, self.sample_size), layouts.stored_count(session)

    def forgotten(self) -> set[str]:
        """Versions an operator rolled back: never adopted again."""
        with get_database(self.database_url).reads() as session:
            return layouts.forgotten_versions(session)

    def known_links(self, slug: str) -> dict[str, dt.date | None]:
        with get_database(self.database_url).reads() as session:
            return layouts.known_links(session, slug)
