"""Pages read through a layout and the contract's rules: the fields a stored article
holds, as the crawl would store them. The proof compares these with what is stored."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from parsel import Selector

from pipelines.rules import attribute, clean_title, element_paragraphs, parse_published

if TYPE_CHECKING:
    import datetime as dt

    from crawler.layout.compiled import CompiledLayout

FIELDS = ("title", "body", "published_at", "date_precision", "source", "source_title", "author")


@dataclass(frozen=True, slots=True)
class ReadArticle:
    title: str | None
    body: str
    published_at: dt.datetime | None
    date_precision: str | None
    source: str | None
    source_title: str | None
    author: str | None
    found_content: bool


def parse(html: str) -> Any:
    """A page's root as the spider's responses hold it (parsel's lxml tree)."""
    return Selector(text=html).root


def read_article(
    layout: CompiledLayout, pages: list[str], listing_date: dt.date | None
) -> ReadArticle:
    """An article's fields from the HTML of its pages, first page first."""
    first = layout.article_parts(parse(pages[0]))
    paragraphs: list[str] = []
    found = True
    for index, html in enumerate(pages):
        parts = first if index == 0 else layout.article_parts(parse(html))
        if parts.content is None:
            found = False
        else:
            paragraphs.extend(element_paragraphs(parts.content))
    attributed = attribute(paragraphs, first.info_parts or [])
    parsed = parse_published(first.published_raw) or parse_published(
        listing_date.isoformat() if listing_date else None
    )
    return ReadArticle(
        title=clean_title(first.title_raw),
        body="\n".join(attributed.paragraphs),
        published_at=parsed.moment if parsed else None,
        date_precision=parsed.precision if parsed else None,
        source=attributed.source,
        source_title=attributed.source_title,
        author=attributed.author,
        found_content=found,
    )
