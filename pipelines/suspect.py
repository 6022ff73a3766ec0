"""Pages that are not the article their listing promised are not stored.

A 200 answer can be a "system busy" notice in the site's layout, the same error text
for many URLs, a container that grew to hold the whole page, or a body cut short. Stored,
it would overwrite a good article or merge unrelated ones into one; dropped, it leaves
the stored article as it was and the link unresolved, so the next run fetches it again.
Each is counted (``news/article/suspect/<reason>``, logged with its URL); the monitors fail
the run past a small share (``NEWS_MAX_SUSPECT_RATIO``).

Reasons, judged on the clean item (rules in ``pipelines/rules/suspect.py``):

- ``headline_mismatch``: the page's <h1> shares (almost) nothing with the listing's link;
- ``short_body``: a notice: a body under ``NEWS_MIN_BODY_CHARS`` characters, and no date on
  the page;
- ``repeated_body``: this run met the same body under REPEATS different headlines or more;
- ``content_holds_page``: the content container holds page furniture (headline, navigation,
  info line, breadcrumb, pagination, footer);
- ``page_cut``: a page ends inside a multibyte character (a short Content-Length).
"""

from __future__ import annotations

import hashlib
import logging
from typing import TYPE_CHECKING, Any, Self

from scrapy.exceptions import DropItem

from pipelines import stats_keys as keys
from pipelines.items import ArticleItem
from pipelines.rules import headline_agrees, is_cut, text_length

if TYPE_CHECKING:
    from scrapy.crawler import Crawler
    from scrapy.statscollectors import StatsCollector

logger = logging.getLogger(__name__)

# How many different headlines one body may be met under before it is suspect.
REPEATS = 3


class SuspectPagePipeline:
    def __init__(self, stats: StatsCollector, *, min_body_chars: int) -> None:
        self.stats = stats
        self.min_body_chars = min_body_chars
        self._bodies: dict[bytes, dict[str, str]] = {}
        """Body digest -> {URL: headline as listed} of the pages this run met it at."""

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Self:
        assert crawler.stats is not None
        return cls(crawler.stats, min_body_chars=crawler.settings.getint("NEWS_MIN_BODY_CHARS"))

    def process_item(self, item: Any) -> Any:
        if not isinstance(item, ArticleItem):
            return item
        reason = self.suspicion(item)
        if reason is None:
            return item
        self.stats.inc_value(keys.SUSPECT)
        self.stats.inc_value(f"{keys.SUSPECT_BY}{reason}")
        logger.warning("Suspect page %s (%s): not stored, fetched again next run", item.url, reason)
        raise DropItem(f"suspect page ({reason}): {item.url}", log_level="INFO")

    def suspicion(self, item: ArticleItem) -> str | None:
        """Why this page is not taken as the article, or None."""
        if any(is_cut(tail) for tail in item.page_tails):
            return "page_cut"
        if item.content_chrome:
            return "content_holds_page"
        if not headline_agrees(item.title_raw, item.listing_title, item.listing_text):
            return "headline_mismatch"
        if (
            item.body is not None
            and item.published_raw is None
            and text_length(item.body) < self.min_body_chars
        ):
            # A few words and no date of its own: a notice, not an article.
            return "short_body"
        if item.body:
            listed = item.listing_title or item.listing_text or item.title or ""
            digest = hashlib.blake2b(item.body.encode("utf-8"), digest_size=16).digest()
            seen = self._bodies.setdefault(digest, {})
            seen.setdefault(item.url, listed)
            others = {h for h in seen.values() if h and not headline_agrees(listed, h)}
            # Two articles may share a body (a re-publication under a new headline); a
            # third headline over the same text is a page the site serves for anything.
            if 1 + len(others) >= REPEATS:
                return "repeated_body"
        return None
