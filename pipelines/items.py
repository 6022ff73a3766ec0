"""What the spider hands to the pipelines.

The spider extracts raw strings only (`*_raw`, `content_html`, `info_parts`); the pipelines
fill the clean fields beside them, so both stay visible when debugging an item.
"""

from __future__ import annotations

import datetime as dt  # noqa: TC003  # dataclass fields are resolved at runtime by itemadapter
from dataclasses import dataclass, field


@dataclass(slots=True)
class ArticleItem:
    url: str
    """Canonical URL of the article (page 1, tracking parameters dropped)."""
    category_slug: str
    """The category whose listing led here (the others arrive as ListingItems)."""
    category_name: str
    page_urls: list[str] = field(default_factory=list)
    """Every page fetched for this article, in order (multi-page articles have several)."""
    listing_title: str | None = None
    """The listing link's `title` attribute: the headline when the page has no <h1>."""
    listing_text: str | None = None
    listing_date_raw: str | None = None
    title_raw: str | None = None
    """The article page's <h1> text, as extracted."""
    published_raw: str | None = None
    """The date/time text of the info line (`发布时间：2025-08-22 10:30`)."""
    info_parts: list[str] = field(default_factory=list)
    """Text of each element of the info line: source, author, date…"""
    content_html: list[str] = field(default_factory=list)
    """Outer HTML of the content container, one entry per page."""
    etag: str | None = None
    last_modified: str | None = None

    # Filled by the pipelines.
    title: str | None = None
    paragraphs: list[str] = field(default_factory=list)
    body: str | None = None
    source: str | None = None
    source_title: str | None = None
    author: str | None = None
    published_at: dt.datetime | None = None
    date_precision: str | None = None
    published_from: str | None = None
    """Where published_at came from: "page" (its info line) or "listing" (the fallback)."""


@dataclass(slots=True)
class ListingItem:
    """A category listing page links these articles (URL, listing date as shown): they are
    in that category. One item per page, written in one go."""

    category_slug: str
    category_name: str
    links: list[tuple[str, str | None]] = field(default_factory=list)


@dataclass(slots=True)
class PageStatusItem:
    """What a fetched page said without giving an article: 304 (unchanged) or 404 (gone)."""

    url: str
    status: int


@dataclass(slots=True)
class WalkCompleteItem:
    """The walk of a category listing ended properly (see Repository.begin_walk). An item,
    so it is written after the listing pages the walk yielded before it."""

    category_slug: str
