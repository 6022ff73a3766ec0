"""Runs replays of the archive one after another in one reactor, each judged by the
crawl's own monitors and recorded in crawl_runs like a crawl."""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from scrapy import signals
from scrapy.crawler import CrawlerProcess
from scrapy.utils.defer import deferred_from_coro, maybe_deferred_to_future
from scrapy.utils.reactor import install_reactor

from crawler import stats_keys as keys
from crawler.archive.replay import PAGES_READ, ReplaySpider, replay_settings
from crawler.runs import record_verdict
from pipelines.items import ArticleItem
from pipelines.persist import to_record
from storage.records import ArticleRecord

if TYPE_CHECKING:
    from scrapy.crawler import Crawler
    from scrapy.settings import Settings

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Replay:
    """One pass over the archive: captures made at or before `until` (None: all)."""

    until: dt.datetime | None
    spider_kwargs: dict[str, Any]


@dataclass(slots=True)
class Outcome:
    problems: list[str] = field(default_factory=list)
    stats: list[dict[str, Any]] = field(default_factory=list)
    records: list[ArticleRecord] = field(default_factory=list)
    """Dry run: the articles as they would be stored."""

    def total(self, key: str) -> int:
        return sum(int(stats.get(key, 0) or 0) for stats in self.stats)


def run(settings: Settings, folder: str, replays: list[Replay], *, dry_run: bool) -> Outcome:
    for name, value in replay_settings(folder).items():
        settings.set(name, value, priority="cmdline")
    if dry_run:
        # Nothing is written: items stop after the last check, no crawl_runs row.
        pipelines = {
            **settings.getdict("ITEM_PIPELINES"),
            "pipelines.persist.PersistPipeline": None,
        }
        extensions = {**settings.getdict("EXTENSIONS"), "crawler.runs.CrawlRunRecorder": None}
        settings.set("ITEM_PIPELINES", pipelines, priority="cmdline")
        settings.set("EXTENSIONS", extensions, priority="cmdline")
    # The replays run one after another in one reactor: the one the settings ask for,
    # installed before anything imports Twisted's default.
    install_reactor(settings["TWISTED_REACTOR"])
    from twisted.internet import reactor  # noqa: PLC0415

    process = CrawlerProcess(settings)

    outcome = Outcome()

    def collect(item: Any) -> None:
        if isinstance(item, ArticleItem):
            record = to_record(item, dt.datetime.now(dt.UTC))
            if isinstance(record, ArticleRecord):
                outcome.records.append(record)

    async def run_all() -> None:
        try:
            for replay in replays:
                crawler = process.create_crawler(ReplaySpider)
                until = replay.until.isoformat() if replay.until else ""
                # Above the process's own settings, which crawl() applies to it again.
                crawler.settings.set("ARCHIVE_REPLAY_UNTIL", until, priority="cmdline")
                if dry_run:
                    crawler.signals.connect(collect, signal=signals.item_scraped, weak=False)
                await maybe_deferred_to_future(process.crawl(crawler, **replay.spider_kwargs))
                _judge(crawler, outcome)
                if outcome.problems:
                    break
        finally:
            running.callLater(0, running.stop)

    running: Any = reactor  # the installed reactor: Twisted's module object is untyped here
    running.callWhenRunning(lambda: deferred_from_coro(run_all()))
    process.start(stop_after_crawl=False)
    return outcome


def _judge(crawler: Crawler, outcome: Outcome) -> None:
    stats = crawler.stats.get_stats() if crawler.stats else {}
    outcome.stats.append(stats)
    reason = stats.get("finish_reason", "unknown")
    problems: list[str] = list(stats.get(keys.VERDICT, ["the monitors did not run (see the log)"]))
    if reason == "shutdown":
        problems = ["interrupted"]
    outcome.problems.extend(record_verdict(crawler, reason, problems))


__all__ = ["PAGES_READ", "Outcome", "Replay", "run"]
