"""Spidermon monitors that judge a finished crawl, and the action that records the verdict.

`scrapy crawl` keeps exit code 0 whatever Spidermon finds; `ecnews crawl` reads the
verdict this module leaves in the stats (`ecnews/monitors/failed`) and exits 1.
"""

from __future__ import annotations

import warnings
from typing import TYPE_CHECKING, Any, ClassVar

from scrapy.exceptions import ScrapyDeprecationWarning
from spidermon import Monitor, MonitorSuite, monitors
from spidermon.contrib.scrapy.extensions import Spidermon
from spidermon.contrib.scrapy.monitors import FinishReasonMonitor, ItemValidationMonitor
from spidermon.core.actions import Action

from crawler import stats_keys as keys
from pipelines import stats_keys as item_keys

if TYPE_CHECKING:
    from scrapy import Spider

# Spidermon logs its report through Spider.log(), which Scrapy deprecates with a warning on
# every run: noise in cron's mail, and nothing we can change here.
warnings.filterwarnings(
    "ignore", message=r"Spider\.log\(\) is deprecated", category=ScrapyDeprecationWarning
)


# Listing failures (crawler/spiders/news.py: news/listing/failed/<exception name>) that
# mean no connection was made at all, with what to tell the user.
CONNECTION_FAILURES = {
    "DownloadConnectionRefusedError": "connection refused",
    "ConnectionRefusedError": "connection refused",
    "CannotResolveHostError": "cannot resolve the host",
    "DNSLookupError": "cannot resolve the host",
    "DownloadTimeoutError": "no answer within DOWNLOAD_TIMEOUT",
    "TimeoutError": "no answer within DOWNLOAD_TIMEOUT",
    "TCPTimedOutError": "no answer within DOWNLOAD_TIMEOUT",
}
UNREACHABLE = "site unreachable: "


def site_unreachable(stats: dict[str, Any]) -> str | None:
    """Why the site could not be reached, when no listing page was read and every listing
    request failed for want of a connection; else None."""
    if int(stats.get(keys.LISTING_PAGES, 0) or 0):
        return None
    failed = {
        key.removeprefix(keys.LISTING_FAILED_BY)
        for key in stats
        if key.startswith(keys.LISTING_FAILED_BY)
    }
    if not failed or not failed <= CONNECTION_FAILURES.keys():
        return None
    reasons = sorted({CONNECTION_FAILURES[name] for name in failed})
    return f"{', '.join(reasons)} (every listing page, after retries)"


# Article pages that came back without an article in them (see PagesMonitor).
EMPTY_OR_SUSPECT = {
    keys.SKIPPED_ARTICLE_EMPTY: "empty",
    keys.SKIPPED_ARTICLE_PAGE_NOT_HTML: "further page empty or not HTML",
    keys.ARTICLE_NO_CONTENT: "no content container",
    keys.ARTICLE_SUSPECT: "suspect",
}


def empty_or_suspect(stats: dict[str, Any]) -> tuple[dict[str, int], int]:
    """The article pages that came back empty or suspect, by kind, and how many article
    pages came back at all: those that reached validation plus those set aside before it
    (a page without content container reaches validation, and is counted once)."""
    count = {key: int(stats.get(key, 0) or 0) for key in EMPTY_OR_SUSPECT}
    bad = {EMPTY_OR_SUSPECT[key]: n for key, n in count.items() if n}
    pages = sum(
        int(stats.get(key, 0) or 0)
        for key in (
            item_keys.ARTICLES,
            keys.SKIPPED_ARTICLE_EMPTY,
            keys.SKIPPED_ARTICLE_NOT_HTML,
            keys.SKIPPED_ARTICLE_PAGE_NOT_HTML,
            keys.ARTICLE_SUSPECT,
        )
    )
    return bad, max(pages, sum(bad.values()))


class Monitors(Spidermon):  # type: ignore[misc]  # spidermon is untyped
    """Spidermon, except on SIGTERM/SIGINT: an interrupted run is not judged (its FAIL
    report would bury the "interrupted; run again with --resume" line)."""

    def spider_closed(self, spider: Spider, reason: str) -> None:
        if reason == "shutdown":
            for task in self.periodic_tasks.get(spider, []):
                task.stop()
            return
        super().spider_closed(spider)


class _CrawlMonitor(Monitor):  # type: ignore[misc]  # spidermon is untyped
    @property
    def stats(self) -> dict[str, Any]:
        return self.data.stats  # type: ignore[no-any-return]  # spidermon is untyped

    @property
    def site_down(self) -> bool:
        """The Site monitor says it all; monitors that would only restate it stay quiet."""
        return site_unreachable(self.stats) is not None

    @property
    def settings(self) -> Any:
        return self.data.crawler.settings

    def stat(self, key: str) -> int:
        return int(self.stats.get(key, 0) or 0)

    @property
    def robots_forbid_all(self) -> bool:
        """robots.txt forbade the listings and none was read: the Site monitor says so."""
        return bool(self.stat(keys.LISTING_ROBOTS_FORBIDDEN)) and not self.stat(keys.LISTING_PAGES)


@monitors.name("Site")
class SiteMonitor(_CrawlMonitor):
    @monitors.name("the site answered")
    def test_site_reachable(self) -> None:
        if reason := site_unreachable(self.stats):
            self.fail(f"{UNREACHABLE}{reason}")

    @monitors.name("robots.txt allows the listings")
    def test_robots_allow_listings(self) -> None:
        forbidden = self.stat(keys.LISTING_ROBOTS_FORBIDDEN)
        if not forbidden:
            return
        robots = f"{getattr(self.data.spider, 'base_url', '')}/robots.txt"
        if self.robots_forbid_all:
            self.fail(f"robots.txt disallows every listing: nothing was crawled ({robots})")
        self.fail(f"robots.txt disallows {forbidden} listing pages ({robots})")


@monitors.name("Listings")
class ListingMonitor(_CrawlMonitor):
    """On one machine only: a distributed worker may rightly read no listing at all."""

    def setUp(self) -> None:
        if self.settings.get("REDIS_URL"):
            self.skipTest("distributed worker")
        if self.site_down:
            self.skipTest("site unreachable")
        if self.robots_forbid_all:
            self.skipTest("robots.txt forbids the listings")

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
        if self.site_down:
            return
        # Those robots.txt forbids are the Site monitor's: asking again changes nothing.
        failed = self.stat(keys.LISTING_FAILED) - self.stat(keys.LISTING_ROBOTS_FORBIDDEN)
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


@monitors.name("Pages")
class PagesMonitor(_CrawlMonitor):
    """Limits that keep a run going but must not pass unnoticed."""

    @monitors.name("listings end before the safety stop")
    def test_listing_safety_stop(self) -> None:
        stopped = self.stat(keys.LISTING_SAFETY_STOP)
        if stopped:
            limit = self.settings.getint("NEWS_MAX_LISTING_PAGES")
            self.fail(
                f"{stopped} listings still had a next page after NEWS_MAX_LISTING_PAGES "
                f"({limit}) pages: a pagelist that never ends? (raise the setting if the "
                "listing is that long)"
            )

    @monitors.name("article pages hold articles")
    def test_empty_or_suspect_pages(self) -> None:
        bad, pages = empty_or_suspect(self.stats)
        count = sum(bad.values())
        if count < self.settings.getint("NEWS_MIN_SUSPECT_PAGES"):
            return
        limit = self.settings.getfloat("NEWS_MAX_SUSPECT_RATIO")
        if count / pages > limit:
            kinds = ", ".join(f"{kind} {n}" for kind, n in bad.items())
            self.fail(
                f"{count} of {pages} article pages came back empty or suspect "
                f"({count / pages:.0%} > {limit:.0%}: {kinds})"
            )


@monitors.name("Layout")
class LayoutMonitor(_CrawlMonitor):
    """The site's layout changed and no new one could be proven (crawler/layout/)."""

    @monitors.name("the site's layout is proven")
    def test_layout_proven(self) -> None:
        reason = self.stats.get(keys.LAYOUT_UNPROVEN)
        if reason:
            self.fail(f"site layout changed and could not be proven: {reason}")
        generic = self.stat(keys.LAYOUT_GENERIC)
        if generic:
            self.fail(
                f"{generic} articles stored by the generic extractor (no layout proven): "
                "a later run replaces them once one is"
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
        SiteMonitor,
        ListingMonitor,
        FieldFillMonitor,
        ErrorMonitor,
        PagesMonitor,
        LayoutMonitor,
        ItemValidationMonitor,
    ]
    monitors_finished_actions: ClassVar[list[type]] = [RecordVerdict]
