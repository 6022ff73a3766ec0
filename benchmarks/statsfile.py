"""A stats collector that also writes the crawl's final stats to a JSON file.

The benchmark runs each crawl in a child process at LOG_LEVEL=WARNING (Scrapy's stats dump
is INFO); ``-s STATS_CLASS=benchmarks.statsfile.JsonFileStatsCollector -s
BENCH_STATS_FILE=path`` gets the stats back without changing what the crawl does. The file
is written at close, after CoreStats has set ``elapsed_time_seconds``; with the moment
the last response arrived (``bench/last_response_at``, epoch seconds), which tells a
distributed worker's work from its wait for the round to end.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import resource
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from scrapy import signals
from scrapy.statscollectors import MemoryStatsCollector

if TYPE_CHECKING:
    from scrapy.crawler import Crawler


def peak_rss_kib() -> int:
    """This process's peak RSS in KiB. VmHWM belongs to the program image: getrusage's
    ru_maxrss would report the parent's RSS if that was larger when it forked us (Linux
    keeps the pre-exec high-water mark), hiding what the crawl itself used."""
    with contextlib.suppress(OSError):
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


class JsonFileStatsCollector(MemoryStatsCollector):
    def __init__(self, crawler: Crawler) -> None:
        super().__init__(crawler)
        self.path = crawler.settings.get("BENCH_STATS_FILE")
        self.last_response_at = 0.0
        crawler.signals.connect(self._response_received, signal=signals.response_received)

    def _response_received(self) -> None:
        self.last_response_at = time.time()

    def _persist_stats(self, stats: dict[str, Any]) -> None:
        super()._persist_stats(stats)
        if not self.path:
            return
        record = {
            key: value.isoformat() if isinstance(value, dt.datetime) else value
            for key, value in stats.items()
            if isinstance(value, int | float | str | dt.datetime)
        }
        record["bench/peak_rss_kib"] = peak_rss_kib()
        record["bench/last_response_at"] = self.last_response_at
        Path(self.path).write_text(json.dumps(record), "utf-8")
