"""Names of the Scrapy stats the crawler keeps (spider, middlewares, extensions), in one
place: the monitors and the crawl_runs row read them. A name ending in ``/`` is a prefix:
the reason follows it (``news/article/failed/http_500``). The pipelines' own are in
``pipelines/stats_keys.py``."""

from __future__ import annotations

from pipelines import stats_keys as item_keys

LISTING_PAGES = "news/listing/pages"
LISTING_LINKS = "news/listing/links"
LISTING_FAILED = "news/listing/failed"
LISTING_FAILED_BY = "news/listing/failed/"
LISTING_BAD_LINK = "news/listing/bad_link"
LISTING_OFFSITE_LINK = "news/listing/offsite_link"
LISTING_STOPPED_EARLY = "news/listing/stopped_early"
LISTING_SAFETY_STOP = "news/listing/safety_stop"
"""Listings whose walk hit NEWS_MAX_LISTING_PAGES with a next page still linked."""

ARTICLE_NOT_MODIFIED = "news/article/not_modified"
ARTICLE_GONE = "news/article/gone"
ARTICLE_REFUSED = "news/article/refused"
ARTICLE_FAILED = "news/article/failed"
ARTICLE_FAILED_BY = "news/article/failed/"
ARTICLE_NO_CONTENT = "news/article/no_content_container"
# Counted by pipelines/suspect.py: article pages that are not the article (not stored).
ARTICLE_SUSPECT = item_keys.SUSPECT
ARTICLE_SUSPECT_BY = item_keys.SUSPECT_BY

SKIPPED = "news/skipped/"
SKIPPED_ARTICLE_EMPTY = "news/skipped/article_empty"
SKIPPED_ARTICLE_NOT_HTML = "news/skipped/article_not_html"
SKIPPED_ARTICLE_PAGE_NOT_HTML = "news/skipped/article_page_not_html"
REFUSED = "news/refused/"
ROBOTS_FORBIDDEN = "robots_forbidden"
"""The reason (news/refused/…, news/listing/failed/…) of a request robots.txt forbids."""
LISTING_ROBOTS_FORBIDDEN = f"{LISTING_FAILED_BY}{ROBOTS_FORBIDDEN}"
BINARY_AS_TEXT = "news/response/binary_as_text"
ENCODING = "news/encoding/"

RUN_ID = "ecnews/run_id"
VERDICT = "ecnews/monitors/failed"
"""The failed monitors' reasons (a list), left by crawler.monitors.RecordVerdict."""

SCHEDULER_FAILED_BY = "ecnews/scheduler/failed/"
"""The queue error (by exception name) that closed the run: crawler/scheduler.py."""

LAYOUT_SIGN = "news/layout/sign/"
"""Pages the active layout could not read (listing without items, article without headline
or content): each a sign that the site's layout changed (crawler/layout/)."""
LAYOUT_VERSION = "news/layout/version"
LAYOUT_UNPROVEN = "news/layout/unproven"
"""Why the site's new layout could not be proven: the run fails, nothing is stored from it."""
LAYOUT_SAMPLE_FAILED = "news/layout/sample_failed"
LAYOUT_HELD_DROPPED = "news/layout/held_dropped"
LAYOUT_GENERIC = "news/layout/generic"
"""Articles stored by the generic extractor, no layout being proven: the run fails."""
