"""published_at and date_precision: the article page's date, else its listing's."""

from __future__ import annotations

import logging
from typing import Any

from pipelines import stats_keys as keys
from pipelines._base import StatsPipeline
from pipelines.items import ArticleItem
from pipelines.rules.dates import is_future, parse_published, why_unparsed

logger = logging.getLogger(__name__)


class DatesPipeline(StatsPipeline):
    def process_item(self, item: Any) -> Any:
        if not isinstance(item, ArticleItem):
            return item
        parsed = parse_published(item.published_raw)
        if parsed is None and item.published_raw:
            # published_raw keeps the text as written; the listing's date stands in for it.
            why = why_unparsed(item.published_raw) or "unreadable"
            self.stats.inc_value(keys.DATES_UNPARSEABLE)
            self.stats.inc_value(f"{keys.DATES_WHY}{why}")
            logger.warning("%s date %r on %s", why.capitalize(), item.published_raw[:100], item.url)
        item.published_from = "page"
        if parsed is None:
            parsed = parse_published(item.listing_date_raw)
            item.published_from = "listing"
            if parsed is not None:
                self.stats.inc_value(keys.DATES_FROM_LISTING)
        if parsed is None:
            self.stats.inc_value(keys.DATES_MISSING)
            logger.warning("No date for %s", item.url)
            item.published_from = None
            return item
        if is_future(parsed):
            # Kept as published, never silently replaced; flagged for the run's report.
            self.stats.inc_value(keys.DATES_FUTURE)
            logger.warning("Date %s of %s is in the future", parsed.moment, item.url)
        item.published_at = parsed.moment
        item.date_precision = parsed.precision
        return item
