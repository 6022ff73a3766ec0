"""Stores a site layout the crawl learned and proved (``LayoutAdoptedItem``), with its
evidence, as the active one (storage/layouts.py), and says so once.

Several scrapy-redis workers that meet a redesign at once each learn it from the same
examples, so the same layout (one version): the first to store it writes the run's
WARNING and records the change; the others find it already active and say so at INFO.
"""

from __future__ import annotations

import datetime as dt
import logging
from typing import TYPE_CHECKING, Any, Self

from pipelines import stats_keys as keys
from pipelines.items import LayoutAdoptedItem
from storage import layouts
from storage.db import get_database
from storage.layouts import Adoption

if TYPE_CHECKING:
    from scrapy.crawler import Crawler
    from scrapy.statscollectors import StatsCollector

logger = logging.getLogger(__name__)


class LayoutPipeline:
    def __init__(self, database_url: str, stats: StatsCollector) -> None:
        self.database_url = database_url
        self.stats = stats

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Self:
        assert crawler.stats is not None
        return cls(crawler.settings["DATABASE_URL"], crawler.stats)

    def process_item(self, item: Any) -> Any:
        if not isinstance(item, LayoutAdoptedItem):
            return item
        with get_database(self.database_url).sessions.begin() as session:
            adoption = layouts.adopt(
                session, item.version, item.description, item.evidence, dt.datetime.now(dt.UTC)
            )
        if adoption is Adoption.ADOPTED:
            logger.warning("%s", item.message)
            self.stats.set_value(keys.LAYOUT_CHANGED, item.message)
        elif adoption is Adoption.ALREADY:
            logger.info("Layout %s was learned by another worker too and is active", item.version)
        else:
            logger.warning(
                "Layout %s was forgotten by an operator: not adopted again", item.version
            )
        return item
