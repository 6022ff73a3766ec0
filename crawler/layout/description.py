"""A site layout as data: where each raw field stands in the markup, as XPath expressions.

Everything specific to the site's markup lives in a `Layout`; the contract's rules (text
cleaning, attribution, dates, dedupe) stay code in ``pipelines/rules`` and apply to
whatever a layout selects. ``DEFAULT`` is the site's markup as the project was written
for it; others are induced from stored articles (``crawler/layout/induce.py``), proven
(``crawler/layout/prove.py``) and stored with their evidence (``storage/layouts.py``).

A field holding a tuple lists alternatives: the first one that matches wins.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field, fields
from typing import Any

from parsel.csstranslator import css2xpath

__all__ = ["DEFAULT", "Layout"]


@dataclass(frozen=True, slots=True)
class Layout:
    # -- listing pages (from the page's root) ------------------------------------------
    listing_item: str
    """Each item of the category's list."""
    item_link: tuple[str, ...]
    """The item's article link (an <a>), relative to the item."""
    item_date: str
    """The element whose own text is the item's date, relative to the item."""
    next_page: str
    """Hrefs among which the next listing page's is found (by its URL: list_<n+1>.html)."""
    # -- article pages ---------------------------------------------------------------
    scope: str
    """The article's block (its first match); the page's root when it has none. The
    headline and info line are looked for inside it."""
    headline: tuple[str, ...]
    """The headline <h1>, relative to the scope."""
    info: str
    """The info line (date, attribution), relative to the scope."""
    info_parts: str
    """The info line's parts, relative to it: each gives one raw attribution text."""
    info_date: str
    """The date inside the info line, relative to it (all matches, concatenated)."""
    content: tuple[str, ...]
    """The content container, from the page's root."""
    boxes: tuple[str, ...] = ()
    """The site's own boxes inside the content (ads, QR codes…), relative to the
    container: they give no text (the contract's class-word rule aside)."""
    page_links: str = "//a/@href"
    """Hrefs among which the article's further pages are found (by URL: <id>_<n>.html)."""
    furniture: tuple[tuple[str, str], ...] = field(default=())
    """(name, XPath relative to the container) of page furniture that never belongs in
    the content: a container that holds one grew to hold the page."""

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Layout:
        known = {f.name for f in fields(cls)}
        values = {key: value for key, value in data.items() if key in known}
        for key, value in values.items():
            if isinstance(value, list):
                values[key] = tuple(tuple(v) if isinstance(v, list) else v for v in value)
        return cls(**values)

    @property
    def version(self) -> str:
        """A short digest of the description: the same layout has the same version
        wherever and whenever it is learned."""
        text = json.dumps(self.to_json(), sort_keys=True, ensure_ascii=False)
        return hashlib.sha256(text.encode("utf-8")).hexdigest()[:12]


def _css(selector: str) -> str:
    return css2xpath(selector)


def _has_class(name: str) -> str:
    return f"contains(concat(' ', normalize-space(@class), ' '), ' {name} ')"


DEFAULT = Layout(
    listing_item=_css("ul.news-list > li"),
    item_link=(_css("h3 a"), _css("a")),
    item_date=_css(".date"),
    next_page=f'//div[{_has_class("pagelist")}]//a[contains(normalize-space(.), "下一页")]/@href',
    scope=_css("div.article"),
    headline=(_css("h1.article-title"), _css("h1")),
    info=_css("div.article-info"),
    info_parts="./*",
    info_date=_css(".time"),
    content=(_css("div.article-content"), _css("#content")),
    page_links=_css("div.article-pages a::attr(href)"),
    furniture=(
        ("h1", ".//h1"),
        ("nav", f".//nav | .//ul[{_has_class('nav')}]"),
        ("article-info", ".//*[contains(@class, 'article-info')]"),
        ("breadcrumb", ".//*[contains(@class, 'breadcrumb') or contains(@class, 'crumb')]"),
        ("pagelist", ".//*[contains(@class, 'pagelist')]"),
        ("footer", ".//footer | .//*[contains(@class, 'footer')]"),
    ),
)
"""The site's markup as described in tests/fixtures/site/README.md."""
