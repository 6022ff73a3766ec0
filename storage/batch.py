"""Writes a batch of records in the caller's transaction with set-based statements.

A batch of N articles costs a handful of statements, not 7 × N: one SELECT per lookup
(URLs, dedupe keys, reference ids), one executemany INSERT per table (articles with
RETURNING, their URLs, categories, pages), one INSERT … SELECT linking listed categories
(the statements: ``storage/statements.py``).

This module orchestrates one transaction; each concept has its module and its invariants:

- a URL already stored: the article is revised in place, its old version kept, or a much
  poorer version held (``storage/revisions.py``);
- a new URL: an alias of the stored article with its title and body, or a new article
  (``storage/dedupe.py``);
- the search index moves with the articles: ``write`` is the only writer calling
  ``storage.search.index_articles`` (migration 0004 filled it once), once per batch, in
  the same transaction, for every article whose title or body the batch wrote;
- listings, walks and listed categories: ``storage/listings.py``; refused pages:
  ``storage/suspects.py``; category and source ids: ``storage/references.py``; the pages'
  status and validators are written here.

Invariants of the batch: records are applied in record order, and a batch where the same
URL or the same content comes twice is cut in runs so that the later record sees the
earlier one written. Races with other writers (another crawl, another worker) are settled
by unique constraints: a row another writer stored since we looked raises
``ConcurrentWrite`` and the caller retries the transaction. Categories and walks are
written last, one writer at a time (``listings.serialise_category_links``), so that an
article and a listing linking it, written at once by two workers, still meet. Writing
the same records twice changes nothing but last-seen times: delivery may be
at-least-once. A page whose version is held keeps no validators.

Never commits: the caller frames the transaction (``storage/writer.py``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sqlalchemy import select

from storage import dedupe, listings
from storage.dedupe import Prepared, content_hash, dedupe_key
from storage.models import ArticleUrl
from storage.outcome import ConcurrentWrite, Outcome
from storage.records import (
    ArticleRecord,
    ForgetLinksRecord,
    ListingRecord,
    PageStatusRecord,
    Record,
    WalkRecord,
)
from storage.references import References
from storage.revisions import HELD_APPLY_AFTER, revise
from storage.search import index_articles
from storage.statements import statements
from storage.suspects import record_suspects

if TYPE_CHECKING:
    import datetime as dt
    from collections.abc import Sequence

    from sqlalchemy.orm import Session

__all__ = [
    "HELD_APPLY_AFTER",
    "BatchWriter",
    "ConcurrentWrite",
    "Outcome",
    "content_hash",
    "dedupe_key",
]


class BatchWriter:
    """Writes records in the session's transaction; see the module docstring."""

    def __init__(
        self, session: Session, *, held_apply_after: dt.timedelta = HELD_APPLY_AFTER
    ) -> None:
        self.session = session
        self.held_apply_after = held_apply_after
        bind = session.get_bind()
        self._statements = statements(bind.dialect.name)
        # str() masks the password
        self._references = References(session, str(bind.engine.url), self._statements.insert)
        self._changed: set[int] = set()
        """Articles whose title or body this batch wrote: their search rows are rewritten."""
        self._own_categories: list[dict[str, int]] = []
        """(article, the category it was found under): linked with the others, last."""

    def write(self, records: Sequence[Record], now: dt.datetime) -> list[Outcome | None]:
        """Write `records`; the outcome of each article record (None for the others).
        `now` stands in for a record's missing `at`."""
        outcomes: list[Outcome | None] = [None] * len(records)
        self._references.resolve(records)
        listed = [r for r in records if isinstance(r, ListingRecord)]
        by_category = listings.record_listings(
            self.session, self._statements, listed, self.category_id
        )
        touched = self._articles(records, now, outcomes)
        pages = [r for r in records if isinstance(r, ArticleRecord | PageStatusRecord)]
        if pages:
            self._record_pages(pages, now, _held_urls(records, outcomes))
        record_suspects(self.session, records, now)
        for record in records:
            if isinstance(record, ForgetLinksRecord):
                listings.forget(self.session, record)
        walks = [r for r in records if isinstance(r, WalkRecord)]
        if not (by_category or touched or walks):
            return outcomes
        # Categories and walks last, one writer at a time (see serialise_category_links);
        # nothing before this point waits for another writer's categories or walks.
        listings.serialise_category_links(self.session)
        for record in walks:
            if record.event == "started":
                listings.walk(self.session, record)
        listings.link_listings(self.session, self._statements, by_category)
        if self._own_categories:
            self.session.execute(self._statements.category_link, self._own_categories)
        if touched:
            listings.link_listed_categories(self.session, self._statements, touched)
        for record in walks:
            if record.event == "completed":
                listings.walk(self.session, record)
        return outcomes

    def category_id(self, slug: str) -> int:
        return self._references.category_id(slug)

    def source_id(self, name: str) -> int:
        return self._references.source_id(name)

    # -- pages ------------------------------------------------------------------------

    def _record_pages(
        self, records: list[ArticleRecord | PageStatusRecord], now: dt.datetime, held: set[str]
    ) -> None:
        """The pages' status and validators. A page whose version is held keeps none: the
        next fetch is unconditional, so a 304 cannot hide the held version from it."""
        rows: dict[str, dict[str, Any]] = {}
        not_modified: dict[str, dt.datetime] = {}
        for record in records:
            at = record.at or now
            if isinstance(record, ArticleRecord) and record.url in held:
                rows[record.url] = _page(record.url, 200, None, None, at)
            elif isinstance(record, ArticleRecord):
                rows[record.url] = _page(record.url, 200, record.etag, record.last_modified, at)
            elif record.status == 304:
                not_modified[record.url] = at
            else:
                rows[record.url] = _page(record.url, record.status, None, None, at)
        if rows:
            self.session.execute(self._statements.page, list(rows.values()))
        if not_modified:
            self._touch(not_modified)

    def _touch(self, seen: dict[str, dt.datetime]) -> None:
        """Pages that did not change (304): only their last-seen times move."""
        ids = self._stored_urls(list(seen))
        if not ids:
            return
        self.session.execute(
            self._statements.url_seen, [{"u": url, "seen": seen[url]} for url in ids]
        )
        latest: dict[int, dt.datetime] = {}
        for url, article_id in ids.items():
            latest[article_id] = max(seen[url], latest.get(article_id, seen[url]))
        self.session.execute(
            self._statements.article_seen, [{"i": i, "seen": at} for i, at in latest.items()]
        )

    # -- articles ---------------------------------------------------------------------

    def _articles(
        self, records: Sequence[Record], now: dt.datetime, outcomes: list[Outcome | None]
    ) -> set[int]:
        """Write the article records run by run; the ids of the articles touched."""
        articles = [
            Prepared(i, r, content_hash(r.body), "", r.at or now)
            for i, r in enumerate(records)
            if isinstance(r, ArticleRecord)
        ]
        touched: set[int] = set()
        for run in dedupe.runs(articles):
            touched |= self._write_run(run, outcomes)
        if self._changed:
            # The search index moves with the articles, in the same transaction.
            index_articles(self.session, self._changed)
        return touched

    def _write_run(self, run: list[Prepared], outcomes: list[Outcome | None]) -> set[int]:
        """One run (no URL or content twice); returns the ids of the articles touched."""
        stored = self._stored_urls([a.record.url for a in run])
        ids = self._add_urls([a for a in run if a.record.url not in stored], outcomes)
        for article in run:
            if article.record.url in stored:
                article_id = ids[article.index] = stored[article.record.url]
                outcomes[article.index] = self._revise(article_id, article)
        self._own_categories += [
            {"article_id": ids[a.index], "category_id": self.category_id(a.record.category_slug)}
            for a in run
            if a.record.category_slug
        ]
        return set(ids.values())

    def _stored_urls(self, urls: list[str]) -> dict[str, int]:
        """URL -> article id of those of `urls` already stored."""
        return dict(
            self.session.execute(
                select(ArticleUrl.url, ArticleUrl.article_id).where(ArticleUrl.url.in_(urls))
            ).all()
        )

    def _add_urls(self, fresh: list[Prepared], outcomes: list[Outcome | None]) -> dict[int, int]:
        """URLs new to the database: each an alias of a stored article or a new article.
        Returns batch index -> article id."""
        if not fresh:
            return {}
        by_key = dedupe.stored_matches(self.session, fresh)
        new = [a for a in fresh if a.key not in by_key]
        if new:
            inserted = dedupe.insert_articles(
                self.session, self._statements.article, new, self.source_id
            )
            self._changed.update(inserted.values())
            by_key.update(inserted)
        new_indexes = {a.index for a in new}
        ids: dict[int, int] = {}
        for article in fresh:
            ids[article.index] = by_key[article.key]
            outcomes[article.index] = (
                Outcome.NEW if article.index in new_indexes else Outcome.MERGED
            )
        dedupe.insert_urls(self.session, self._statements.url, fresh, ids)
        return ids

    def _revise(self, article_id: int, prepared: Prepared) -> Outcome:
        record = prepared.record
        self.session.execute(self._statements.url_seen, [{"u": record.url, "seen": prepared.at}])
        source_id = self.source_id(record.source) if record.source else None
        outcome = revise(self.session, article_id, prepared, source_id, self.held_apply_after)
        if outcome is Outcome.UPDATED:
            self._changed.add(article_id)
        return outcome


def _held_urls(records: Sequence[Record], outcomes: list[Outcome | None]) -> set[str]:
    return {
        record.url
        for record, outcome in zip(records, outcomes, strict=True)
        if outcome is Outcome.HELD and isinstance(record, ArticleRecord)
    }


def _page(
    url: str, status: int, etag: str | None, modified: str | None, at: dt.datetime
) -> dict[str, Any]:
    return {"url": url, "status": status, "etag": etag, "last_modified": modified, "fetched_at": at}
