"""Proof before adoption: a layout is adopted only when it reproduces every field of every
sampled stored article exactly, and every stored link of the listing pages it read.

A sampled article whose page gives another title or body while every other field agrees
was edited on the site since it was stored: it is no proof either way, and it is not
counted. Any other disagreement refutes the layout.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from crawler.layout.reading import FIELDS, ReadArticle, parse, read_article
from crawler.urls import canonical_url
from pipelines.rules import parse_day

if TYPE_CHECKING:
    import datetime as dt

    from crawler.layout.compiled import CompiledLayout
    from storage.layouts import StoredArticle

MIN_ARTICLES = 5
MIN_CATEGORIES = 2
_EDITABLE = frozenset(("title", "body"))


@dataclass(slots=True)
class ArticleExample:
    stored: StoredArticle
    pages: list[str]
    """The HTML of the article's pages as the site serves them now, first page first."""


@dataclass(slots=True)
class ListingExample:
    url: str
    slug: str
    html: str
    known: dict[str, dt.date | None]
    """The stored links of this category, with the date each was listed under."""


@dataclass(slots=True)
class Proof:
    reproduced: list[str] = field(default_factory=list)
    edited: list[str] = field(default_factory=list)
    listings: list[str] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)
    """Why the layout is refuted (empty when it is not)."""
    required: int = 0

    @property
    def proven(self) -> bool:
        return not self.failures and len(self.reproduced) >= self.required

    def reason(self) -> str:
        if self.failures:
            return "; ".join(self.failures[:3])
        return (
            f"only {len(self.reproduced)} of the {self.required} stored articles needed reproduced"
        )

    def evidence(self, at: dt.datetime) -> dict[str, Any]:
        return {
            "proven_at": at.isoformat(),
            "articles": self.reproduced,
            "fields": list(FIELDS),
            "edited_since_stored": self.edited,
            "listings": self.listings,
        }


def required_articles(stored: int) -> int:
    """At least 5 articles (from at least 2 categories: the sample is drawn across them by
    storage.layouts.sample_articles), or all where fewer are stored."""
    return min(MIN_ARTICLES, stored)


def prove(
    layout: CompiledLayout,
    articles: list[ArticleExample],
    listings: list[ListingExample],
    required: int,
    *,
    cold: bool = False,
) -> Proof:
    """`cold`: nothing is stored, the examples are what the listings say of each article
    (its full title and its day): the headline must be that title, the date that day,
    and the content container must give a body."""
    proof = Proof(required=required)
    for example in articles:
        read = read_article(layout, example.pages, example.stored.listing_date)
        if cold:
            wrong = _cold_disagreements(read, example.stored)
        else:
            wrong = [n for n in FIELDS if getattr(read, n) != getattr(example.stored, n)]
        if not wrong:
            proof.reproduced.append(example.stored.url)
        elif not cold and set(wrong) <= _EDITABLE and read.title is not None and read.found_content:
            proof.edited.append(example.stored.url)
        else:
            proof.failures.append(f"{example.stored.url}: {', '.join(wrong)} not reproduced")
    categories = {e.stored.category_slug for e in articles if e.stored.url in proof.reproduced}
    wanted = {e.stored.category_slug for e in articles}
    if len(wanted) >= MIN_CATEGORIES and len(categories) < MIN_CATEGORIES:
        proof.failures.append(f"reproduced articles of {len(categories)} category only")
    for listing in listings:
        if failure := listing_failure(layout, listing):
            proof.failures.append(failure)
        else:
            proof.listings.append(listing.url)
    return proof


def _cold_disagreements(read: ReadArticle, listed: StoredArticle) -> list[str]:
    wrong = []
    if read.title != listed.title:
        wrong.append("title")
    day = read.published_at.date() if read.published_at else None
    if listed.listing_date is not None and day != listed.listing_date:
        wrong.append("published_at")
    if not read.found_content or not read.body:
        wrong.append("body")
    return wrong


def listing_failure(layout: CompiledLayout, listing: ListingExample) -> str | None:
    root = parse(listing.html)
    found: dict[str, str | None] = {}
    for entry in layout.listing_entries(root):
        try:
            found[canonical_url(entry.href, listing.url)] = entry.date_raw
        except ValueError:
            continue
    on_page = set()
    for href in root.xpath("//a/@href"):
        try:
            url = canonical_url(str(href), listing.url)
        except ValueError:
            continue
        if url in listing.known:
            on_page.add(url)
    if not found:
        return f"listing {listing.url}: no items"
    if not on_page & found.keys():
        return f"listing {listing.url}: none of its stored links came out"
    for url in on_page & found.keys():
        day = listing.known[url]
        if day is not None and parse_day(found[url]) != day:
            return f"listing {listing.url}: the date of {url} not reproduced"
    return None
