"""Keeps Python's cyclic garbage collector off the crawl's hot path.

Everything alive once the crawl has started (Scrapy, Twisted, SQLAlchemy, the settings,
compiled selectors) lives until the process ends, yet every collection of the oldest
generation walks it again. ``gc.freeze()`` moves it out of the collector's sight.
``GC_THRESHOLD`` may also set the collector's thresholds; empty (the default) keeps
Python's: raising the first one (50,000) let cyclic garbage pile up between collections,
a third more peak memory on a 5,000-article crawl, for no measurable speed.
"""

from __future__ import annotations

import gc
import logging
from typing import TYPE_CHECKING, Self

from scrapy import signals

if TYPE_CHECKING:
    from scrapy.crawler import Crawler

logger = logging.getLogger(__name__)


class GcFreeze:
    def __init__(self, threshold: tuple[int, ...]) -> None:
        self.threshold = threshold

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Self:
        threshold = tuple(int(n) for n in crawler.settings.getlist("GC_THRESHOLD"))
        extension = cls(threshold)
        crawler.signals.connect(extension.engine_started, signal=signals.engine_started)
        return extension

    def engine_started(self) -> None:
        gc.collect()
        gc.freeze()
        if self.threshold:
            gc.set_threshold(*self.threshold)
        logger.debug("gc: %d objects frozen, threshold %s", gc.get_freeze_count(), self.threshold)
