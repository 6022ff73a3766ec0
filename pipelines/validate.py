"""Drop what cannot be a valid article record, with a logged, counted reason."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Self

from scrapy.exceptions import DropItem

from crawler.items import ArticleItem

if TYPE_CHECKING:
    from scrapy.crawler import Crawler
    from scrapy.statscollectors import StatsCollector


class ValidatePipeline:
    def __init__(self, stats: StatsCollector) -> None:
        self.stats = stats

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Self:
        assert crawler.stats is not None
        return cls(crawler.stats)

    def process_item(self, item: Any) -> Any:
        if not isinstance(item, ArticleItem):
            return item
        self._count_filled(item)
        if not item.title:
            self._drop("no_title", item)
        if not item.body:
            self._drop("no_body", item)
        return item

    def _count_filled(self, item: ArticleItem) -> None:
        """Fill rates, judged by crawler.monitors.FieldFillMonitor at the end of the run."""
        self.stats.inc_value("pipeline/articles")
        filled = {
            "title": bool(item.title),
            "body": bool(item.body),
            "published_at": item.published_from == "page",
            "source": bool(item.source or item.source_title),
            "author": bool(item.author),
        }
        for field, is_filled in filled.items():
            if is_filled:
                self.stats.inc_value(f"pipeline/filled/{field}")

    def _drop(self, reason: str, item: ArticleItem) -> None:
        self.stats.inc_value(f"pipeline/dropped/{reason}")
        self.stats.inc_value("pipeline/dropped")
        raise DropItem(f"{reason}: {item.url}")
