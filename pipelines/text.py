"""Title and body text: clean the headline, split the content into paragraphs."""

from __future__ import annotations

from typing import Any

from pipelines.items import ArticleItem
from pipelines.rules import clean_title, element_paragraphs, html_paragraphs


class TextPipeline:
    def process_item(self, item: Any) -> Any:
        if not isinstance(item, ArticleItem):
            return item
        # The page's headline first; the listing text may be cut short with "…".
        item.title = (
            clean_title(item.title_raw)
            or clean_title(item.listing_title)
            or clean_title(item.listing_text)
        )
        item.paragraphs = [
            paragraph
            for node in item.content
            for paragraph in (
                html_paragraphs(node) if isinstance(node, str) else element_paragraphs(node)
            )
        ]
        return item
