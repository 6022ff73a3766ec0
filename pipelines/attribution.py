"""Source, source_title and author; the attribution and trailer lines leave the body."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Self

from crawler.items import ArticleItem
from pipelines._attribution import attribute

if TYPE_CHECKING:
    from scrapy.crawler import Crawler
    from scrapy.statscollectors import StatsCollector


class AttributionPipeline:
    def __init__(self, stats: StatsCollector) -> None:
        self.stats = stats

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Self:
        assert crawler.stats is not None
        return cls(crawler.stats)

    def process_item(self, item: Any) -> Any:
        if not isinstance(item, ArticleItem):
            return item
        attributed = attribute(item.paragraphs, item.info_parts)
        item.paragraphs = attributed.paragraphs
        item.body = "\n".join(attributed.paragraphs)
        item.source = attributed.source
        item.source_title = attributed.source_title
        item.author = attributed.author
        if item.source is None and item.source_title is None:
            self.stats.inc_value("pipeline/attribution/none")
        return item
