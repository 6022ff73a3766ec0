"""The site's layout as data: described, compiled once, detected broken, induced from
stored articles and proven before anything is stored with it (docs/layout.md)."""

from crawler.layout.compiled import (
    ArticleParts,
    CompiledLayout,
    ListingEntry,
    compile_layout,
    listing_number,
    own_text,
    visible_text,
)
from crawler.layout.description import DEFAULT, Layout

__all__ = [
    "DEFAULT",
    "ArticleParts",
    "CompiledLayout",
    "Layout",
    "ListingEntry",
    "compile_layout",
    "listing_number",
    "own_text",
    "visible_text",
]
