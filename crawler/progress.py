"""A one-line progress display for crawls run by hand; silent when not on a terminal,
so cron mails nothing but real problems."""

from __future__ import annotations

import sys
import time
from typing import TYPE_CHECKING, Self, TextIO

from scrapy import signals
from scrapy.exceptions import NotConfigured
from twisted.internet import task

if TYPE_CHECKING:
    from scrapy import Spider
    from scrapy.crawler import Crawler
    from scrapy.statscollectors import StatsCollector


class TerminalProgress:
    def __init__(self, stats: StatsCollector, interval: float, out: TextIO) -> None:
        self.stats = stats
        self.interval = interval
        self.out = out
        self.started = time.monotonic()
        self.loop: task.LoopingCall | None = None

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Self:
        interval = crawler.settings.getfloat("PROGRESS_INTERVAL")
        if interval <= 0 or not sys.stderr.isatty():
            raise NotConfigured  # no message: Scrapy would log one at WARNING, in cron's mail
        assert crawler.stats is not None
        progress = cls(crawler.stats, interval, sys.stderr)
        crawler.signals.connect(progress.spider_opened, signal=signals.spider_opened)
        crawler.signals.connect(progress.spider_closed, signal=signals.spider_closed)
        return progress

    def line(self) -> str:
        def get(key: str) -> int:
            return int(self.stats.get_value(key, 0) or 0)

        pages = get("downloader/response_count")
        elapsed = max(time.monotonic() - self.started, 1e-6)
        return (
            f"pages {pages} ({pages / elapsed:.1f}/s) | articles new {get('pipeline/persist/new')}"
            f" updated {get('pipeline/persist/updated')}"
            f" unchanged {get('pipeline/persist/unchanged') + get('news/article/not_modified')}"
            f" dropped {get('item_dropped_count')} | failed {get('news/article/failed')}"
        )

    def show(self) -> None:
        self.out.write(f"\r\x1b[K{self.line()}")
        self.out.flush()

    def spider_opened(self, spider: Spider) -> None:
        self.started = time.monotonic()
        self.loop = task.LoopingCall(self.show)
        self.loop.start(self.interval, now=False)

    def spider_closed(self, spider: Spider) -> None:
        if self.loop is not None and self.loop.running:
            self.loop.stop()
        self.out.write(f"\r\x1b[K{self.line()}\n")
        self.out.flush()
