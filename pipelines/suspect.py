"""Pages that are not the article their listing promised are not stored.

A 200 answer can be a "system busy" notice in the site's layout, the same error text
for many URLs, a container that grew to hold the whole page, or a body cut short. Stored,
it would overwrite a good article or merge unrelated ones into one; dropped, it leaves
the stored article as it was and the link unresolved, so the next run fetches it again.
Each is counted (``news/article/suspect/<reason>``, logged with its URL); the monitors fail
the run past a small share (``NEWS_MAX_SUSPECT_RATIO``).

The page's own structure decides, not the listing's text: a page that is built as an
article (its own headline, an info line, a body of ``NEWS_MIN_BODY_CHARS`` or more) is one,
whatever words the listing used for it. Reasons, judged on the clean item (rules in
``pipelines/rules/suspect.py``):

- ``headline_mismatch``: the page's <h1> shares (almost) nothing with the listing's link,
  and the page is not built as an article (a reworded or shortened listing headline over a
  real article is taken);
- ``short_body``: a notice: a body under ``NEWS_MIN_BODY_CHARS`` characters with no date on
  the page, and no headline of its own that the listing (which dated it) agrees with (a
  two-sentence flash dated only on the listing is taken);
- ``repeated_body``: this run met the same body under REPEATS different headlines or more,
  on pages without a headline of their own (a syndicated article, each copy under its own
  <h1>, is taken every time: no copy is lost, the first published included);
- ``content_holds_page``: the content container holds page furniture (headline, navigation,
  info line, breadcrumb, pagination, footer);
- ``page_cut``: a page ends inside a multibyte character (a short Content-Length).

A refusal is not permanent: each is written to ``suspect_pages`` (URL, content hash,
runs), and the run that meets the same page with the same content for the
``NEWS_SUSPECT_ACCEPT_AFTER_RUNS``-th time stores it, flagged for review
(``suspect_pages.stored_at``, ``news/article/suspect_stored``, `ecnews runs`). A wrong
rule costs a delay, never an article.
"""

from __future__ import annotations

import hashlib
import logging
from typing import TYPE_CHECKING, Any, Self

from scrapy.exceptions import DropItem
from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError

from pipelines import stats_keys as keys
from pipelines.items import ArticleItem
from pipelines.rules import headline_agrees, is_cut, text_length
from storage.batch import content_hash
from storage.db import DEFAULT_OPTIONS, DatabaseOptions, get_database
from storage.deadline import client_deadline
from storage.models import SuspectPage

if TYPE_CHECKING:
    from scrapy.crawler import Crawler
    from scrapy.statscollectors import StatsCollector

logger = logging.getLogger(__name__)

# How many different headlines one body may be met under before it is suspect.
REPEATS = 3


class SuspectPageDropped(DropItem):
    """A suspect page, not stored: the persist pipeline records the refusal."""

    def __init__(self, url: str, reason: str, content_hash: str) -> None:
        super().__init__(f"suspect page ({reason}): {url}", log_level="INFO")
        self.url = url
        self.reason = reason
        self.content_hash = content_hash


def refused_before(database_url: str, options: DatabaseOptions) -> dict[str, tuple[str, int]]:
    """URL -> (content hash, runs) of the pages earlier runs refused and did not store."""
    database = get_database(database_url, options)
    query = select(SuspectPage.url, SuspectPage.content_hash, SuspectPage.times).where(
        SuspectPage.stored_at.is_(None)
    )
    with client_deadline(database)("the refused pages"), database.reads() as session:
        return {url: (hash_, times) for url, hash_, times in session.execute(query)}


class SuspectPagePipeline:
    def __init__(
        self,
        stats: StatsCollector,
        *,
        min_body_chars: int,
        accept_after: int,
        database_url: str | None = None,
        options: DatabaseOptions = DEFAULT_OPTIONS,
    ) -> None:
        self.stats = stats
        self.min_body_chars = min_body_chars
        self.accept_after = max(1, accept_after)
        self.database_url = database_url
        self.options = options
        self._bodies: dict[bytes, dict[str, str]] = {}
        """Body digest -> {URL: headline as listed} of the pages this run met it at."""
        self._refused: dict[str, tuple[str, int]] = {}
        """What earlier runs refused: URL -> (content hash, runs)."""

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Self:
        assert crawler.stats is not None
        settings = crawler.settings
        return cls(
            crawler.stats,
            min_body_chars=settings.getint("NEWS_MIN_BODY_CHARS"),
            accept_after=settings.getint("NEWS_SUSPECT_ACCEPT_AFTER_RUNS"),
            database_url=settings.get("DATABASE_URL"),
            options=DatabaseOptions.from_settings(settings),
        )

    def open_spider(self) -> None:
        if not self.database_url:
            return
        try:
            self._refused = refused_before(self.database_url, self.options)
        except SQLAlchemyError as error:  # refusals then start counting afresh
            logger.warning("Could not read the pages earlier runs refused: %s", error)

    def process_item(self, item: Any) -> Any:
        if not isinstance(item, ArticleItem):
            return item
        reason = self.suspicion(item)
        if reason is None:
            return item
        digest = content_hash(item.body or "")
        hash_, runs = self._refused.get(item.url, ("", 0))
        if hash_ == digest and runs + 1 >= self.accept_after:
            item.review_reason = reason
            self.stats.inc_value(keys.SUSPECT_STORED)
            logger.warning(
                "Suspect page %s (%s) refused by %d runs with the same content: stored,"
                " flagged for review (suspect_pages)",
                item.url,
                reason,
                runs,
            )
            return item
        self.stats.inc_value(keys.SUSPECT)
        self.stats.inc_value(f"{keys.SUSPECT_BY}{reason}")
        logger.warning("Suspect page %s (%s): not stored, fetched again next run", item.url, reason)
        raise SuspectPageDropped(item.url, reason, digest)

    def _built_as_article(self, item: ArticleItem) -> bool:
        """The page's own structure: a headline, an info line, a body of article length."""
        return (
            bool(item.title_raw)
            and bool(item.info_parts or item.published_raw)
            and text_length(item.body) >= self.min_body_chars
        )

    def suspicion(self, item: ArticleItem) -> str | None:
        """Why this page is not taken as the article, or None."""
        if any(is_cut(tail) for tail in item.page_tails):
            return "page_cut"
        if item.content_chrome:
            return "content_holds_page"
        agrees = headline_agrees(item.title_raw, item.listing_title, item.listing_text)
        own_headline = bool(item.title_raw) and agrees
        if not agrees:
            if not self._built_as_article(item):
                return "headline_mismatch"
            own_headline = True  # the listing reworded it: the page's <h1> is the headline
        short = item.body is not None and text_length(item.body) < self.min_body_chars
        if short and item.published_raw is None and not (own_headline and item.listing_date_raw):
            # A few words, no date, no headline the listing agrees with: a notice.
            return "short_body"
        if item.body:
            listed = item.listing_title or item.listing_text or item.title or ""
            digest = hashlib.blake2b(item.body.encode("utf-8"), digest_size=16).digest()
            seen = self._bodies.setdefault(digest, {})
            seen.setdefault(item.url, listed)
            others = {h for h in seen.values() if h and not headline_agrees(listed, h)}
            # Two articles may share a body (a re-publication under a new headline); a
            # third headline over the same text, on a page with no headline of its own,
            # is a page the site serves for anything.
            if 1 + len(others) >= REPEATS and not own_headline:
                return "repeated_body"
        return None
