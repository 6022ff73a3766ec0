"""Spidermon monitors that judge a finished crawl, and the action that records the verdict.

`scrapy crawl` keeps exit code 0 whatever Spidermon finds; `ecnews crawl` reads the
verdict this module leaves in the stats (`ecnews/monitors/failed`) and exits 1.
"""

from __future__ import annotations

import warnings
from typing import Any, ClassVar

from scrapy.exceptions import ScrapyDeprecationWarning
from spidermon import Monitor, MonitorSuite, monitors
from spidermon.contrib.scrapy.monitors import FinishReasonMonitor, ItemValidationMonitor
from spidermon.core.actions import Action

from crawler import stats_keys as keys
from pipelines import stats_keys as item_keys

# Spidermon logs its report through Spider.log(), which Scrapy deprecates with a warning on
# every run: noise in cron's mail, and nothing we can change here.
warnings.filterwarnings(
    "ignore", message=r"Spider\.log\(\) is deprecated", category=ScrapyDeprecationWarning
)


class _CrawlMonitor(Monitor):  # type: ignore[misc]  # spidermon is untyped
    @property
    def stats(self) -> dict[str, Any]:
        return self.data.stats  # type: ignore[no-any-return]

    @property
    def settings(self) -> Any:
        return self.data.crawler.settings

    def stat(self, key: str) -> int:
        return int(self.stats.get(key, 0) or 0)


@monitors.name("Listings")
class ListingMonitor(_CrawlMonitor):
    """On one machine only: a distributed worker may rightly read no listing at all."""

    def setUp(self) -> None:
        if self.settings.get("REDIS_URL"):
            self.skipTest("distributed worker")

    @monitors.name("listing pages were read")
    def test_listing_pages(self) -> None:
        self.assertGreater(self.stat(keys.LISTING_PAGES), 0, "no category listing was read")

    @monitors.name("listings hold article links")
    def test_listing_links(self) -> None:
        self.assertGreater(
            self.stat(keys.LISTING_LINKS), 0, "listings hold no article links (redesign?)"
        )

    @monitors.name("a full crawl finds articles")
    def test_full_crawl_articles(self) -> None:
        if getattr(self.data.spider, "mode", "") != "full" or not self.stat(keys.LISTING_LINKS):
            return
        seen = self.stat(item_keys.ARTICLES) + self.stat(keys.ARTICLE_NOT_MODIFIED)
        self.assertGreater(seen, 0, "a full crawl read no article")


@monitors.name("Fields")
class FieldFillMonitor(_CrawlMonitor):
    """A field that suddenly goes empty means a selector broke: the site was redesigned."""

    @monitors.name("fields are filled")
    def test_fill_rates(self) -> None:
        articles = self.stat(item_keys.ARTICLES)
        low = []
        for field, (minimum, sample) in self.settings.getdict("NEWS_FILL_RATE_RULES").items():
            if articles < int(sample):
                continue
            rate = self.stat(f"{item_keys.FILLED}{field}") / articles
            if rate < float(minimum):
                low.append(f"{field} {rate:.0%} < {float(minimum):.0%}")
        self.assertFalse(low, f"field fill rate too low over {articles} articles: {', '.join(low)}")


@monitors.name("Errors")
class ErrorMonitor(_CrawlMonitor):
    @monitors.name("no spider exceptions")
    def test_spider_exceptions(self) -> None:
        raised = {k: v for k, v in self.stats.items() if k.startswith("spider_exceptions/")}
        self.assertFalse(raised, f"the spider raised: {raised}")

    @monitors.name("every item was written")
    def test_persist_failures(self) -> None:
        self.assertEqual(
            self.stat(item_keys.PERSIST_FAILED), 0, "items could not be written to the database"
        )

    @monitors.name("pages that failed after retries")
    def test_failed_pages(self) -> None:
        failed = self.stat(keys.ARTICLE_FAILED)
        allowed = self.settings.getint("NEWS_MAX_FAILED_PAGES")
        self.assertLessEqual(
            failed, allowed, f"{failed} article pages failed after retries (allowed {allowed})"
        )

    @monitors.name("listing pages that failed after retries")
    def test_failed_listings(self) -> None:
        failed = self.stat(keys.LISTING_FAILED)
        self.assertEqual(
            failed, 0, f"{failed} listing pages failed after retries (the next run walks them)"
        )

    @monitors.name("error responses")
    def test_error_responses(self) -> None:
        total = self.stat("downloader/response_count")
        errors = sum(
            int(count)
            for key, count in self.stats.items()
            if key.startswith("downloader/response_status_count/")
            and (key.endswith("/429") or key.rsplit("/", 1)[-1].startswith("5"))
        )
        ratio = errors / total if total else 0.0
        limit = self.settings.getfloat("NEWS_MAX_ERROR_RESPONSE_RATIO")
        self.assertLessEqual(
            ratio, limit, f"{errors} of {total} responses were errors ({ratio:.0%} > {limit:.0%})"
        )


class RecordVerdict(Action):  # type: ignore[misc]  # spidermon is untyped
    """Leaves the failed monitors' reasons in the stats for `ecnews crawl` and crawl_runs."""

    def run_action(self) -> None:
        failed = [
            f"{result.item.monitor_name}: {result.reason}".strip()
            for result in self.result.monitors_failed_results
        ]
        self.data.crawler.stats.set_value(keys.VERDICT, failed)


class SpiderCloseMonitorSuite(MonitorSuite):  # type: ignore[misc]  # spidermon is untyped
    monitors: ClassVar[list[type]] = [
        FinishReasonMonitor,
        ListingMonitor,
        FieldFillMonitor,
        ErrorMonitor,
        ItemValidationMonitor,
    ]
    monitors_finished_actions: ClassVar[list[type]] = [RecordVerdict]
