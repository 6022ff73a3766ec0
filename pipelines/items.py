"""What the spider hands to the pipelines: the only thing that crosses from the crawl to
storage (``pipelines/persist.py`` turns each into a storage record).

The spider extracts raw values only (``*_raw``, ``content``, ``info_parts``); the pipelines
fill the clean fields beside them, so both stay visible when debugging an item:

| clean field | from | by |
|---|---|---|
| ``title`` | ``title_raw``, else ``listing_title``, else ``listing_text`` | ``pipelines/text.py`` |
| ``paragraphs``, ``body`` | ``content`` (the parsed content containers) | ``pipelines/text.py``, ``pipelines/attribution.py`` |
| ``source``, ``source_title``, ``author`` | ``info_parts`` and the body's last lines | ``pipelines/attribution.py`` |
| ``published_at``, ``date_precision`` | ``published_raw``, else ``listing_date_raw`` | ``pipelines/dates.py`` |
"""

from __future__ import annotations

import datetime as dt  # noqa: TC003  # dataclass fields are resolved at runtime by itemadapter
from dataclasses import dataclass, field
from typing import Any


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
    """Raw: the listing link's `title` attribute, the full headline."""
    listing_text: str | None = None
    """Raw: the listing link's text, possibly cut short with "…"."""
    listing_date_raw: str | None = None
    """Raw: the listing's date for this link (`2025-08-22`)."""
    title_raw: str | None = None
    """Raw: the article page's <h1> text."""
    published_raw: str | None = None
    """Raw: the date/time text of the info line (`发布时间：2025-08-22 10:30`)."""
    info_parts: list[str] = field(default_factory=list)
    """Raw: text of each element of the info line: source, author, date…"""
    content: list[Any] = field(default_factory=list)
    """Raw: the content container of each page, as the page's own parse holds it (an lxml
    element): the text pipeline walks it, nothing serialises and re-parses it. Only an
    article whose further pages are still to fetch carries the pages read so far as HTML
    strings, since its item travels in a (stored) request."""
    content_chrome: list[str] = field(default_factory=list)
    """Raw: page furniture found inside a content container (`h1`, `nav`, `.article-info`…):
    a container that grew to hold the page (pipelines/suspect.py)."""
    page_tails: list[str] = field(default_factory=list)
    """Raw: the last characters of each page's text: a page cut short ends mid-character
    or before </html> (pipelines/suspect.py)."""
    etag: str | None = None
    """Raw: the ETag the site sent (for the next run's conditional request)."""
    last_modified: str | None = None
    """Raw: the Last-Modified the site sent."""
    revision_reason: str | None = None
    """Why a changed article is revised: None for a crawl, ``reextract`` for a replay of
    the archive (crawler/archive/replay.py)."""
    review_reason: str | None = None
    """Set by pipelines/suspect.py: a page refused run after run, stored anyway for review."""
    layout_version: str | None = None
    """The site layout that extracted it (crawler/layout/); "generic" for a generic
    extractor's reading where no layout was proven."""

    # Filled by the pipelines.
    title: str | None = None
    """Clean headline (spec: white space folded, invisible characters dropped)."""
    paragraphs: list[str] = field(default_factory=list)
    """Clean body paragraphs, attribution and trailer lines removed."""
    body: str | None = None
    """Clean: the paragraphs joined by "\\n"."""
    source: str | None = None
    """Clean: the outlet of `来源：X`, None when the page names none."""
    source_title: str | None = None
    """Clean: the original article's title when the attribution gives one."""
    author: str | None = None
    published_at: dt.datetime | None = None
    """Clean: an aware moment (Asia/Shanghai as the page meant it)."""
    date_precision: str | None = None
    """Clean: `day`, `minute` or `second`: how much of the moment the page gave."""
    published_from: str | None = None
    """Where published_at came from: "page" (its info line) or "listing" (the fallback)."""


@dataclass(slots=True)
class ListingItem:
    """A category listing page links these articles (URL, listing date as shown): they are
    in that category. One item per page, written in one go."""

    category_slug: str
    category_name: str
    links: list[tuple[str, str | None]] = field(default_factory=list)
    next_page: Any = None
    """The request for the listing's next page (a scrapy Request), made only once these
    links are stored (crawler/listing_gate.py): a walk never ends ahead of its pages."""


@dataclass(slots=True)
class PageStatusItem:
    """What a fetched page said without giving an article: 304 (unchanged) or 404 (gone)."""

    url: str
    status: int


@dataclass(slots=True)
class WalkStartedItem:
    """A crawl began walking a category listing from page 1."""

    category_slug: str
    category_name: str


@dataclass(slots=True)
class WalkCompleteItem:
    """The walk of a category listing ended properly. An item, so it is written after the
    listing pages the walk yielded before it."""

    category_slug: str


@dataclass(slots=True)
class ForgetLinksItem:
    """Links earlier runs saw in this listing, still unresolved and no longer listed."""

    category_slug: str
    urls: list[str] = field(default_factory=list)


@dataclass(slots=True)
class LayoutAdoptedItem:
    """The crawl learned and proved a new site layout: stored with its evidence."""

    version: str
    description: dict[str, Any]
    evidence: dict[str, Any]
    message: str
    """The run's one WARNING, written by whoever stores it first (pipelines/layout.py)."""
