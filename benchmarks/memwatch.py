"""What a crawl's memory holds, sampled while it runs: an extension for diagnosis only.

    ecnews crawl … -s EXTENSIONS='{"benchmarks.memwatch.MemWatch": 999}' \\
                   -s BENCH_MEM_FILE=mem.json [-s BENCH_MEM_INTERVAL=2]

Every ``BENCH_MEM_INTERVAL`` seconds it records the process's RSS, the collector's
generation counts, and how many objects of each type the collector tracks (the types
that grow are the retainers). With ``PYTHONTRACEMALLOC=1`` in the environment it also
takes a tracemalloc snapshot after ``BENCH_MEM_FIRST`` responses and one at the close,
and writes the lines whose allocations grew most between the two. Nothing here changes
what the crawl does, except the time the samples take.
"""

from __future__ import annotations

import gc
import json
import time
import tracemalloc
from collections import Counter
from pathlib import Path
from typing import TYPE_CHECKING, Any, Self

from scrapy import signals
from scrapy.exceptions import NotConfigured
from twisted.internet import task

if TYPE_CHECKING:
    from scrapy.crawler import Crawler


# The objects a page leaves behind, if anything keeps them.
WATCHED = (
    "HtmlResponse",
    "TextResponse",
    "Selector",
    "HtmlElement",
    "Request",
    "ArticleItem",
    "ListingItem",
    "Headers",
    "Failure",
    "Deferred",
)


def rss_kib() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def type_counts() -> Counter[str]:
    return Counter(type(o).__qualname__ for o in gc.get_objects())


class MemWatch:
    def __init__(self, crawler: Crawler, path: Path, interval: float, first: int) -> None:
        self.crawler = crawler
        self.path = path
        self.interval = interval
        self.first = first
        self.samples: list[dict[str, Any]] = []
        self.baseline: tracemalloc.Snapshot | None = None
        self.responses = 0
        self.started = time.monotonic()
        self.loop = task.LoopingCall(self.sample)

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Self:
        path = crawler.settings.get("BENCH_MEM_FILE")
        if not path:
            raise NotConfigured("BENCH_MEM_FILE not set")
        watch = cls(
            crawler,
            Path(path),
            crawler.settings.getfloat("BENCH_MEM_INTERVAL", 2.0),
            crawler.settings.getint("BENCH_MEM_FIRST", 1000),
        )
        crawler.signals.connect(watch.opened, signal=signals.spider_opened)
        crawler.signals.connect(watch.closed, signal=signals.spider_closed)
        crawler.signals.connect(watch.response, signal=signals.response_received)
        return watch

    def opened(self) -> None:
        self.loop.start(self.interval, now=False)

    def response(self, **_: Any) -> None:
        self.responses += 1
        if self.responses == self.first and tracemalloc.is_tracing():
            self.baseline = tracemalloc.take_snapshot()

    def sample(self) -> None:
        counts = type_counts()
        self.samples.append(
            {
                "t": round(time.monotonic() - self.started, 1),
                "responses": self.responses,
                "rss_kib": rss_kib(),
                "gc_count": gc.get_count(),
                "objects": sum(counts.values()),
                "top_types": counts.most_common(25),
                "watched": {name: counts[name] for name in WATCHED},
            }
        )

    def closed(self) -> None:
        if self.loop.running:
            self.loop.stop()
        self.sample()
        unreachable = gc.collect()
        self.sample()
        out: dict[str, Any] = {"samples": self.samples, "unreachable_at_close": unreachable}
        if self.baseline is not None:
            final = tracemalloc.take_snapshot()
            growers = final.compare_to(self.baseline, "traceback")[:20]
            out["tracemalloc_growers"] = [
                {
                    "kib": round(stat.size_diff / 1024, 1),
                    "count": stat.count_diff,
                    "where": [f"{frame.filename}:{frame.lineno}" for frame in stat.traceback][-6:],
                }
                for stat in growers
            ]
        self.path.write_text(json.dumps(out, indent=1), "utf-8")
