"""A one-line progress display for crawls run by hand; silent when not on a terminal,
so cron mails nothing but real problems. Log records printed meanwhile go above it: the
progress line is cleared before a record is written and drawn again below it."""

from __future__ import annotations

import logging
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


CLEAR = "\r\x1b[K"  # back to column 0, erase the line


class _LogAboveProgress:
    """The stream of the terminal's log handlers while the progress line is up."""

    def __init__(self, progress: TerminalProgress) -> None:
        self.progress = progress

    def write(self, text: str) -> int:
        out = self.progress.out
        out.write(CLEAR + text if self.progress.shown else text)
        if self.progress.shown and text.endswith("\n"):
            out.write(self.progress.shown)
        return len(text)

    def flush(self) -> None:
        self.progress.out.flush()


class TerminalProgress:
    def __init__(self, stats: StatsCollector, interval: float, out: TextIO) -> None:
        self.stats = stats
        self.interval = interval
        self.out = out
        self.started = time.monotonic()
        self.loop: task.LoopingCall | None = None
        self.shown = ""  # the progress line on screen now, if any
        self._handlers: list[logging.StreamHandler[TextIO]] = []

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
        self.shown = self.line()
        self.out.write(CLEAR + self.shown)
        self.out.flush()

    def spider_opened(self, spider: Spider) -> None:
        self.started = time.monotonic()
        # Scrapy's terminal handler (installed by now) writes through us from here on.
        for handler in logging.getLogger().handlers:
            if type(handler) is logging.StreamHandler and handler.stream is self.out:
                handler.setStream(_LogAboveProgress(self))
                self._handlers.append(handler)
        self.loop = task.LoopingCall(self.show)
        self.loop.start(self.interval, now=False)

    def spider_closed(self, spider: Spider) -> None:
        if self.loop is not None and self.loop.running:
            self.loop.stop()
        for handler in self._handlers:
            handler.setStream(self.out)
        self._handlers.clear()
        self.shown = ""
        self.out.write(f"{CLEAR}{self.line()}\n")
        self.out.flush()
