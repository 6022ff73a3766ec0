"""A layout compiled once into XPath objects, and the raw values it reads off a page.

The spider and the proof (``crawler/layout/prove.py``) read pages through these same
functions, so what was proven is what the crawl extracts.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from lxml import etree

if TYPE_CHECKING:
    from crawler.layout.description import Layout

__all__ = ["ArticleParts", "CompiledLayout", "ListingEntry", "compile_layout", "visible_text"]

_VISIBLE_TEXT = etree.XPath(
    ".//text()[not(ancestor::script) and not(ancestor::style)]", smart_strings=False
)
_OWN_TEXT = etree.XPath("text()", smart_strings=False)
_LISTING_NUMBER = re.compile(r"/list_(\d+)\.html$")


def visible_text(*elements: Any) -> str:
    """The reader-visible text of these lxml elements, concatenated."""
    return "".join(text for element in elements for text in _VISIBLE_TEXT(element))


def own_text(element: Any) -> str:
    """The element's own text nodes (CSS `::text`), concatenated."""
    return "".join(_OWN_TEXT(element))


def listing_number(path: str) -> int:
    """The listing page a URL path names: list_<n>.html is n, the folder itself is 1."""
    found = _LISTING_NUMBER.search(path)
    return int(found.group(1)) if found else 1


@dataclass(frozen=True, slots=True)
class ListingEntry:
    href: str
    title: str | None
    """The link's `title` attribute: the full headline."""
    text: str
    date_raw: str | None


@dataclass(slots=True)
class ArticleParts:
    """What one article page gives, raw."""

    title_raw: str | None = None
    info_parts: list[str] | None = None
    published_raw: str | None = None
    content: Any = None
    """The content container (an lxml element, its boxes emptied), or None."""
    furniture: list[str] | None = None


def _x(expression: str) -> etree.XPath:
    return etree.XPath(expression, smart_strings=False)


class CompiledLayout:
    def __init__(self, layout: Layout) -> None:
        self.layout = layout
        self.version = layout.version
        self._item = _x(layout.listing_item)
        self._item_link = [_x(x) for x in layout.item_link]
        self._item_date = _x(layout.item_date)
        self._next_page = _x(layout.next_page)
        self._scope = _x(layout.scope) if layout.scope else None
        self._headline = [_x(x) for x in layout.headline]
        self._info = _x(layout.info)
        self._info_parts = _x(layout.info_parts)
        self._info_date = _x(layout.info_date)
        self._content = [_x(x) for x in layout.content]
        self._boxes = [_x(x) for x in layout.boxes]
        self._page_links = _x(layout.page_links)
        self._furniture = [(name, _x(x)) for name, x in layout.furniture]

    # -- listings ---------------------------------------------------------------------

    def listing_entries(self, root: Any) -> list[ListingEntry]:
        entries = []
        for item in self._item(root):
            anchors: list[Any] = next(
                (found for xpath in self._item_link if (found := xpath(item))), []
            )
            anchor = anchors[0] if anchors else None
            href = anchor.get("href") if anchor is not None else None
            if anchor is None or not href:
                continue
            date = self._item_date(item)
            entries.append(
                ListingEntry(
                    href=href,
                    title=anchor.get("title"),
                    text=visible_text(anchor),
                    date_raw=own_text(date[0]) if date else None,
                )
            )
        return entries

    def next_page_hrefs(self, root: Any) -> list[str]:
        return [str(href) for href in self._next_page(root)]

    # -- articles ---------------------------------------------------------------------

    def article_parts(self, root: Any) -> ArticleParts:
        parts = ArticleParts()
        scopes = self._scope(root) if self._scope is not None else None
        scope = scopes[0] if scopes else root
        headings = next((found for xpath in self._headline if (found := xpath(scope))), None)
        parts.title_raw = visible_text(headings[0]) if headings else None
        info = self._info(scope)
        if info:
            parts.info_parts = [visible_text(part) for part in self._info_parts(info[0])]
            parts.published_raw = visible_text(*self._info_date(info[0])) or None
        content = next((found for xpath in self._content if (found := xpath(root))), None)
        if content:
            node = content[0]
            for xpath in self._boxes:
                for box in xpath(node):
                    _empty(box)
            parts.content = node
            parts.furniture = [name for name, xpath in self._furniture if xpath(node)]
        return parts

    def page_hrefs(self, root: Any) -> list[str]:
        return [str(href) for href in self._page_links(root)]


def _empty(box: Any) -> None:
    """A box becomes an empty <hr>: no text, and still a break between paragraphs."""
    tail = box.tail
    box.clear()
    box.tag = "hr"
    box.tail = tail


@functools.lru_cache(maxsize=16)
def compile_layout(layout: Layout) -> CompiledLayout:
    """Compiled once per layout (per process): never per page."""
    return CompiledLayout(layout)
