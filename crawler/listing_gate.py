"""Requests a listing's next page only once the page before it is stored.

The spider hands the next page's request over inside the page's ListingItem; this sends
it to the scheduler when that item has been through the pipelines (written and
committed, or spooled). So when a walk ends (WalkCompleteItem), every page before it is
in the database, even with writes batched in a writer process and pages spread over
several workers: a worker killed with a page's links unwritten leaves the walk unfinished
(the next run walks it whole), never finished with links missing.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any, Self

from scrapy import signals

from pipelines.items import ListingItem

if TYPE_CHECKING:
    from scrapy.crawler import Crawler

logger = logging.getLogger(__name__)


class ListingGate:
    def __init__(self, crawler: Crawler) -> None:
        self.crawler = crawler

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Self:
        gate = cls(crawler)
        for signal in (signals.item_scraped, signals.item_dropped, signals.item_error):
            crawler.signals.connect(gate.release, signal=signal)
        return gate

    def release(self, item: Any, **_: Any) -> None:
        if not isinstance(item, ListingItem) or item.next_page is None:
            return
        request, item.next_page = item.next_page, None
        try:
            self.crawler.engine.crawl(request)
        except RuntimeError:  # the crawl is closed: the next run walks the listing again
            logger.info("Not walking on to %s: the crawl is closing", request.url)
