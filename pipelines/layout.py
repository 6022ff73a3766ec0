"""Stores a site layout the crawl learned and proved (``LayoutAdoptedItem``), with its
evidence, as the active one (storage/layouts.py)."""

from __future__ import annotations

import datetime as dt
import logging
from typing import TYPE_CHECKING, Any, Self

from pipelines.items import LayoutAdoptedItem
from storage import layouts
from storage.db import get_database

if TYPE_CHECKING:
    from scrapy.crawler import Crawler

logger = logging.getLogger(__name__)


class LayoutPipeline:
    def __init__(self, database_url: str) -> None:
        self.database_url = database_url

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Self:
        return cls(crawler.settings["DATABASE_URL"])

    def process_item(self, item: Any) -> Any:
        if not isinstance(item, LayoutAdoptedItem):
            return item
        with get_database(self.database_url).sessions.begin() as session:
            adopted = layouts.adopt(
                session, item.version, item.description, item.evidence, dt.datetime.now(dt.UTC)
            )
        if not adopted:
            logger.warning(
                "Layout %s was forgotten by an operator: not adopted again", item.version
            )
        return item
