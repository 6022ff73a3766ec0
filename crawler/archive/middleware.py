"""Hands every response the crawl receives to the archive writer, as the server sent it.

Registered with the highest order of the downloader middlewares, so its process_response
runs first: before HttpCompressionMiddleware decompresses the body, before any redirect,
retry or check sees it. Every response is kept: pages, listings, robots.txt, 304s, 404s,
the 503 a retry follows.

The reactor never waits on the disk: the capture is put in the writer's bounded queue,
in batches (``HANDOFF_CAPTURES``), and what is left over goes every HANDOFF_SECONDS.
When the queue is full (a disk slower than the crawl) the response waits, up to
ARCHIVE_STALL_TIMEOUT, for room; past it the crawl closes with ``archive_stalled``. A
writer that fails (a full disk) closes the crawl with ``archive_failed``: one line, exit 1.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any, Self

from scrapy import signals
from scrapy.exceptions import NotConfigured
from scrapy.utils.asyncio import create_looping_call

from crawler import stats_keys as keys
from crawler.archive.capture import Capture
from crawler.archive.writer import ArchiveWriter

if TYPE_CHECKING:
    from collections.abc import Coroutine

    from scrapy.crawler import Crawler
    from scrapy.http import Headers, Request, Response
    from scrapy.statscollectors import StatsCollector

logger = logging.getLogger(__name__)

ARCHIVE_FAILED = "archive_failed"
ARCHIVE_STALLED = "archive_stalled"
_ROOM_POLL_SECONDS = 0.05
HANDOFF_SECONDS = 0.5
"""How long a capture may wait for its batch to fill, and how often the writer's health is
read (a failed disk closes the crawl within this)."""


class ArchiveMiddleware:
    def __init__(
        self, crawler: Crawler, writer: ArchiveWriter, stats: StatsCollector, stall_timeout: float
    ) -> None:
        self.crawler = crawler
        self.writer = writer
        self.stats = stats
        self.stall_timeout = stall_timeout
        self._closing = False
        self._handoff = create_looping_call(self._hand_off)

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Self:
        settings = crawler.settings
        if not settings.getbool("ARCHIVE_ENABLED"):
            raise NotConfigured  # off: no "Disabled" warning in every replay
        assert crawler.stats is not None
        writer = ArchiveWriter(
            Path(settings.get("ARCHIVE_DIR")),
            max_bytes=settings.getint("ARCHIVE_MAX_BYTES"),
            queue_size=settings.getint("ARCHIVE_QUEUE_SIZE"),
            fsync_seconds=settings.getfloat("ARCHIVE_FSYNC_SECONDS"),
        )
        middleware = cls(crawler, writer, crawler.stats, settings.getfloat("ARCHIVE_STALL_TIMEOUT"))
        crawler.signals.connect(middleware.spider_opened, signal=signals.spider_opened)
        crawler.signals.connect(middleware.spider_closed, signal=signals.spider_closed)
        return middleware

    def spider_opened(self) -> None:
        self.writer.start()
        self._handoff.start(HANDOFF_SECONDS, now=False)

    def _hand_off(self) -> None:
        if self.writer.failed is not None:
            self._close(ARCHIVE_FAILED, self.writer.failed)
        else:
            self.writer.flush()  # a full queue: the next tick, or the next put, tries again

    async def spider_closed(self) -> None:
        if self._handoff.running:
            self._handoff.stop()
        loop = asyncio.get_running_loop()
        done = await loop.run_in_executor(None, self.writer.close, self.stall_timeout)
        self.stats.set_value("archive/records", self.writer.records)
        self.stats.set_value("archive/revisits", self.writer.revisits)
        self.stats.set_value("archive/bytes", self.writer.bytes)
        problem = self.writer.failed
        if not done:
            problem = f"the last records were not written within {self.stall_timeout:.0f} s"
            logger.error("Archive: %s (disk stalled)", problem)
        if problem is None:
            return
        self.stats.set_value("archive/failed", problem)
        self.stats.set_value("archive/lost", self.writer.lost)
        if not self._closing:
            # It failed after the last response: the crawl finished, the run must not pass.
            verdict = self.stats.get_value(keys.VERDICT) or []
            self.stats.set_value(keys.VERDICT, [*verdict, f"Archive: {problem}"])

    def process_response(
        self, request: Request, response: Response
    ) -> Response | Coroutine[Any, Any, Response]:
        if self._closing:
            return response  # the writer failed: the crawl is closing on it
        capture = Capture(
            url=response.url,
            method=request.method,
            request_headers=_pairs(request.headers),
            status=response.status,
            protocol=response.protocol or "HTTP/1.1",
            response_headers=_pairs(response.headers),
            body=response.body,
            fetched_at=dt.datetime.now(dt.UTC),
        )
        if self.writer.put(capture):
            return response
        return self._wait_for_room(capture, response)

    async def _wait_for_room(self, capture: Capture, response: Response) -> Response:
        self.stats.inc_value("archive/queue_full")
        deadline = time.monotonic() + self.stall_timeout
        while not self.writer.put(capture):
            if self.writer.failed is not None:
                self._close(ARCHIVE_FAILED, self.writer.failed)
                return response
            if time.monotonic() >= deadline:
                self._close(
                    ARCHIVE_STALLED,
                    f"the archive disk took more than {self.stall_timeout:.0f} s to take a record",
                )
                return response
            await asyncio.sleep(_ROOM_POLL_SECONDS)
        return response

    def _close(self, reason: str, why: str) -> None:
        if self._closing:
            return
        self._closing = True
        self.stats.set_value("archive/failed", why)
        logger.error("Closing the crawl: %s", why)
        engine = self.crawler.engine
        if engine is not None and engine.spider is not None:
            asyncio.ensure_future(engine.close_spider_async(reason=reason))  # noqa: RUF006  # the engine keeps it until closed


def _pairs(headers: Headers) -> list[tuple[str, str]]:
    return [
        (name.decode("latin-1"), value.decode("latin-1"))
        for name, values in headers.items()
        for value in values
        if isinstance(name, bytes) and isinstance(value, bytes)
    ]
