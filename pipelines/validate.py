"""Drop what cannot be a valid article record, with a logged, counted reason; make the
rest storable, so that no write fails on its content.

Storable means: no NUL character or lone surrogate in any text (PostgreSQL refuses NUL,
UTF-8 cannot hold a lone surrogate), and no value longer than its column (PostgreSQL
refuses it). An over-long URL drops the item; another over-long value (a 1,000-character
"author" or "source" a broken page yields) is not kept, and is counted
(`pipeline/too_long/<field>`) and logged, never silently cut.
"""

from __future__ import annotations

import logging
import re
from typing import Any

from scrapy.exceptions import DropItem

from pipelines import stats_keys as keys
from pipelines._base import StatsPipeline
from pipelines.items import ArticleItem
from storage.models import Article, Page, Source

logger = logging.getLogger(__name__)

_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")
# Text fields that reach the database.
_TEXT_FIELDS = (
    "url",
    "title",
    "body",
    "published_raw",
    "source",
    "source_title",
    "author",
    "etag",
    "last_modified",
)


def _length(column: Any) -> int | None:
    """The declared length of a String column (None for Text)."""
    length = getattr(column.type, "length", None)
    return length if isinstance(length, int) else None


# Item field -> the length of the column it is stored in.
_LIMITS: dict[str, int | None] = {
    "source": _length(Source.__table__.c.name),
    "author": _length(Article.__table__.c.author),
    "etag": _length(Page.__table__.c.etag),
    "last_modified": _length(Page.__table__.c.last_modified),
}
_URL_LIMIT = _length(Article.__table__.c.url)


class ValidatePipeline(StatsPipeline):
    def process_item(self, item: Any) -> Any:
        if not isinstance(item, ArticleItem):
            return item
        self._count_filled(item)
        if not item.title:
            self._drop("no_title", item)
        if not item.body:
            self._drop("no_body", item)
        self._make_storable(item)
        return item

    def _make_storable(self, item: ArticleItem) -> None:
        for field in _TEXT_FIELDS:
            value = getattr(item, field)
            if isinstance(value, str) and _UNSTORABLE.search(value):
                setattr(item, field, _UNSTORABLE.sub("", value) or None)
                self.stats.inc_value(f"{keys.SANITIZED}{field}")
        if _URL_LIMIT is not None and len(item.url) > _URL_LIMIT:
            self._drop("url_too_long", item)
        for field, limit in _LIMITS.items():
            value = getattr(item, field)
            if limit is not None and isinstance(value, str) and len(value) > limit:
                self.stats.inc_value(f"{keys.TOO_LONG}{field}")
                logger.warning(
                    "%s of %s has %d characters (the column holds %d): not kept: %r…",
                    field,
                    item.url,
                    len(value),
                    limit,
                    value[:60],
                )
                setattr(item, field, None)

    def _count_filled(self, item: ArticleItem) -> None:
        """Fill rates, judged by crawler.monitors.FieldFillMonitor at the end of the run."""
        self.stats.inc_value(keys.ARTICLES)
        filled = {
            "title": bool(item.title),
            "body": bool(item.body),
            "published_at": item.published_from == "page",
            "source": bool(item.source or item.source_title),
            "author": bool(item.author),
        }
        for field, is_filled in filled.items():
            if is_filled:
                self.stats.inc_value(f"{keys.FILLED}{field}")

    def _drop(self, reason: str, item: ArticleItem) -> None:
        self.stats.inc_value(f"{keys.DROPPED_BY}{reason}")
        self.stats.inc_value(keys.DROPPED)
        raise DropItem(f"{reason}: {item.url}")
