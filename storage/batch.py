"""Writes a batch of records in the caller's transaction with set-based statements.

A batch of N articles costs a handful of statements, not 7 × N: one SELECT per lookup
(URLs, dedupe keys, reference ids), one executemany INSERT per table (articles with
RETURNING, their URLs, categories, pages), one INSERT … SELECT linking listed categories.
SQLAlchemy Core statements are built once per dialect and run with parameter lists.

The rules are the data contract's dedupe rules, applied in record order:

- a URL already stored: the article is revised in place (the old version kept in
  ``revisions``) or, if nothing changed, only its last-seen time moves;
- a new URL whose title and body (``dedupe_key``) match a stored article: an alias of it;
- else a new article.

A batch where the same URL or the same content comes twice is cut in runs so that the
later record sees the earlier one written. Races with other writers (another crawl,
another worker) are settled by unique constraints: a row another writer stored since we
looked raises ``ConcurrentWrite`` and the caller retries the transaction. Writing the same
records twice changes nothing but last-seen times: delivery may be at-least-once.

Never commits: the caller frames the transaction (``storage/writer.py``).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
import re
from dataclasses import dataclass
from enum import StrEnum
from functools import cache
from typing import TYPE_CHECKING, Any, cast

from sqlalchemy import bindparam, delete, event, literal, select, update
from sqlalchemy.dialects import postgresql, sqlite

from storage.models import (
    Article,
    ArticleCategory,
    ArticleUrl,
    Base,
    Category,
    HeldChange,
    Listing,
    Page,
    Revision,
    Source,
    SuspectPage,
)
from storage.records import (
    ArticleRecord,
    ForgetLinksRecord,
    ListingRecord,
    PageStatusRecord,
    Record,
    SuspectRecord,
    WalkRecord,
)
from storage.search import index_articles

if TYPE_CHECKING:
    from collections.abc import Iterable, Sequence

    from sqlalchemy import Table
    from sqlalchemy.orm import Session

logger = logging.getLogger(__name__)

_WHITE_SPACE = re.compile(r"\s+")


def content_hash(body: str) -> str:
    """SHA-256 (hex) of the body with all white space removed (the spec's content_hash)."""
    return hashlib.sha256(_WHITE_SPACE.sub("", body).encode("utf-8")).hexdigest()


def dedupe_key(hash_: str, title: str) -> str:
    return hashlib.sha256(f"{hash_}\x00{title}".encode()).hexdigest()


class Outcome(StrEnum):
    NEW = "new"
    UPDATED = "updated"
    UNCHANGED = "unchanged"
    MERGED = "merged"
    """Same title and body as a stored article under another URL: the URL became an alias."""
    HELD = "held"
    """A re-fetched version much poorer than the stored one: not applied (held_changes)."""
    STALE = "stale"
    """A spooled record older than what the database holds: not written again."""


class ConcurrentWrite(Exception):
    """Another writer stored the same URL or content between our read and our write."""


# A version much poorer than the stored one is applied only if the site still serves it
# this long after it was first held (an outage's error page does not last a day).
HELD_APPLY_AFTER = dt.timedelta(hours=24)
# Much poorer: the body keeps less than this share of the stored one's characters.
POORER_BODY_SHARE = 0.5

CONTENT_FIELDS = ("title", "body", "published_at", "date_precision", "source_title", "author")


def _table(model: type[Base]) -> Table:
    return cast("Table", model.__table__)


@dataclass(frozen=True)
class _Statements:
    """Built once per dialect, on the tables (not the ORM classes), run with parameters."""

    insert: Any
    article: Any
    url: Any
    page: Any
    listing: Any
    category_link: Any
    url_seen: Any
    article_seen: Any


@cache
def _statements(dialect: str) -> _Statements:
    if dialect == "postgresql":
        insert: Any = postgresql.insert
    elif dialect == "sqlite":
        insert = sqlite.insert
    else:
        raise NotImplementedError(f"unsupported database dialect {dialect!r}")
    articles, urls = _table(Article), _table(ArticleUrl)
    page = insert(_table(Page))
    listing = insert(_table(Listing))
    return _Statements(
        insert=insert,
        article=insert(articles)
        .on_conflict_do_nothing()
        .returning(articles.c.id, articles.c.dedupe_key),
        url=insert(urls).on_conflict_do_nothing(index_elements=["url"]).returning(urls.c.url),
        page=page.on_conflict_do_update(
            index_elements=["url"],
            set_={c: page.excluded[c] for c in ("status", "etag", "last_modified", "fetched_at")},
        ),
        listing=listing.on_conflict_do_update(
            index_elements=["category_id", "url"],
            set_={c: listing.excluded[c] for c in ("listing_date", "last_seen_at")},
        ),
        category_link=insert(_table(ArticleCategory)).on_conflict_do_nothing(),
        url_seen=urls.update()
        .where(urls.c.url == bindparam("u"))
        .values(last_seen_at=bindparam("seen")),
        article_seen=articles.update()
        .where(articles.c.id == bindparam("i"))
        .values(last_seen_at=bindparam("seen")),
    )


# (database, kind, name) -> id of category and source rows seen committed: those rows are
# never deleted, so a process looks each one up once.
_COMMITTED_IDS: dict[tuple[str, str, str], int] = {}


@dataclass(slots=True)
class _Article:
    index: int
    record: ArticleRecord
    hash: str
    key: str
    at: dt.datetime


class BatchWriter:
    """Writes records in the session's transaction; see the module docstring."""

    def __init__(
        self, session: Session, *, held_apply_after: dt.timedelta = HELD_APPLY_AFTER
    ) -> None:
        self.session = session
        self.held_apply_after = held_apply_after
        bind = session.get_bind()
        self._database_key = str(bind.engine.url)  # str() masks the password
        self._statements = _statements(bind.dialect.name)
        self._uncommitted_ids: dict[tuple[str, str, str], int] = {}
        self._changed: set[int] = set()
        """Articles whose title or body this batch wrote: their search rows are rewritten."""

    def write(self, records: Sequence[Record], now: dt.datetime) -> list[Outcome | None]:
        """Write `records`; the outcome of each article record (None for the others).
        `now` stands in for a record's missing `at`."""
        outcomes: list[Outcome | None] = [None] * len(records)
        self._resolve_references(records)
        for record in records:
            if isinstance(record, WalkRecord) and record.event == "started":
                self._walk(record)
        listings = [r for r in records if isinstance(r, ListingRecord)]
        if listings:
            self._record_listings(listings)
        articles = [
            _Article(i, r, content_hash(r.body), "", r.at or now)
            for i, r in enumerate(records)
            if isinstance(r, ArticleRecord)
        ]
        touched: set[int] = set()
        for run in _runs(articles):
            touched |= self._write_articles(run, outcomes)
        if self._changed:
            # The search index moves with the articles, in the same transaction.
            index_articles(self.session, self._changed)
        pages = [r for r in records if isinstance(r, ArticleRecord | PageStatusRecord)]
        if pages:
            held = {
                record.url
                for record, outcome in zip(records, outcomes, strict=True)
                if outcome is Outcome.HELD and isinstance(record, ArticleRecord)
            }
            self._record_pages(pages, now, held)
        if touched:
            self._link_listed_categories(touched)
        self._suspects(records, now)
        for record in records:
            if isinstance(record, ForgetLinksRecord):
                self._forget(record)
            elif isinstance(record, WalkRecord) and record.event == "completed":
                self._walk(record)
        return outcomes

    # -- reference data ---------------------------------------------------------------

    def category_id(self, slug: str) -> int:
        return self._cached("slug", slug)

    def source_id(self, name: str) -> int:
        return self._cached("name", name)

    def _cached(self, kind: str, value: str) -> int:
        key = (self._database_key, kind, value)
        found = self._uncommitted_ids.get(key) or _COMMITTED_IDS.get(key)
        if found is None:
            raise KeyError(f"{kind} {value!r} was not resolved for this batch")
        return found

    def _resolve_references(self, records: Sequence[Record]) -> None:
        categories: dict[str, str] = {}
        sources: set[str] = set()
        for record in records:
            if isinstance(record, ArticleRecord):
                if record.category_slug:
                    categories.setdefault(
                        record.category_slug, record.category_name or record.category_slug
                    )
                if record.source:
                    sources.add(record.source)
            elif isinstance(record, ListingRecord | WalkRecord):
                categories.setdefault(
                    record.category_slug, record.category_name or record.category_slug
                )
        if categories:
            self._ids(Category, "slug", {slug: {"name": n} for slug, n in categories.items()})
        if sources:
            self._ids(Source, "name", {name: {} for name in sources})

    def _ids(self, model: Any, kind: str, wanted: dict[str, dict[str, Any]]) -> None:
        """Look up (inserting the missing) category or source rows by their unique name."""
        missing = [
            v
            for v in wanted
            if (self._database_key, kind, v) not in _COMMITTED_IDS
            and (self._database_key, kind, v) not in self._uncommitted_ids
        ]
        if not missing:
            return
        column = getattr(model, kind)
        found: dict[str, int] = dict(
            self.session.execute(select(column, model.id).where(column.in_(missing))).all()
        )
        absent = [v for v in missing if v not in found]
        if absent:
            self.session.execute(
                self._statements.insert(_table(model)).on_conflict_do_nothing(
                    index_elements=[kind]
                ),
                [{kind: v, **wanted[v]} for v in absent],
            )
            found.update(
                self.session.execute(select(column, model.id).where(column.in_(absent))).all()
            )
        if not self._uncommitted_ids:
            # Cached for the process only once this transaction commits.
            event.listen(self.session, "after_commit", self._promote_ids, once=True)
        for value, id_ in found.items():
            self._uncommitted_ids[(self._database_key, kind, value)] = int(id_)

    def _promote_ids(self, _session: Session) -> None:
        _COMMITTED_IDS.update(self._uncommitted_ids)
        self._uncommitted_ids.clear()

    # -- listings and walks -----------------------------------------------------------

    def _record_listings(self, listings: list[ListingRecord]) -> None:
        """Remember every listed link (its latest listing date wins), and link each
        category to the articles already stored at those URLs."""
        rows: dict[tuple[int, str], dict[str, Any]] = {}
        by_category: dict[int, set[str]] = {}
        for listing in listings:
            category_id = self.category_id(listing.category_slug)
            first_on_page: dict[str, dt.date | None] = {}
            for url, day in listing.links:
                first_on_page.setdefault(url, day)
            for url, day in first_on_page.items():
                rows[(category_id, url)] = {
                    "category_id": category_id,
                    "url": url,
                    "listing_date": day,
                    "last_seen_at": listing.at,
                }
            by_category.setdefault(category_id, set()).update(first_on_page)
        if not rows:
            return
        self.session.execute(self._statements.listing, list(rows.values()))
        for category_id, urls in by_category.items():
            link = self._statements.insert(_table(ArticleCategory)).from_select(
                ["article_id", "category_id"],
                select(ArticleUrl.article_id, literal(category_id)).where(
                    ArticleUrl.url.in_(sorted(urls))
                ),
            )
            self.session.execute(link.on_conflict_do_nothing())

    def _walk(self, record: WalkRecord) -> None:
        column = "walk_started_at" if record.event == "started" else "walk_completed_at"
        self.session.execute(
            update(Category)
            .where(Category.slug == record.category_slug)
            .values({column: record.at})
        )

    def _forget(self, record: ForgetLinksRecord) -> None:
        if not record.urls:
            return
        category_ids = select(Category.id).where(Category.slug == record.category_slug)
        self.session.execute(
            delete(Listing).where(
                Listing.category_id.in_(category_ids),
                Listing.url.in_(list(record.urls)),
                Listing.url.not_in(select(ArticleUrl.url)),
            )
        )

    # -- suspect pages ----------------------------------------------------------------

    def _suspects(self, records: Sequence[Record], now: dt.datetime) -> None:
        """Count refusals per page and content; mark pages stored in spite of the rules."""
        for record in records:
            if isinstance(record, SuspectRecord):
                self._refused(record)
            elif isinstance(record, ArticleRecord) and record.review:
                row = self.session.get(SuspectPage, record.url)
                if row is not None:
                    row.stored_at = record.at or now

    def _refused(self, record: SuspectRecord) -> None:
        row = self.session.get(SuspectPage, record.url)
        if row is None:
            self.session.add(
                SuspectPage(
                    url=record.url,
                    content_hash=record.content_hash,
                    reason=record.reason,
                    times=1,
                    first_at=record.at,
                    last_at=record.at,
                )
            )
        elif row.content_hash == record.content_hash:
            row.times += 1
            row.last_at = record.at
        else:  # other content: the count starts again
            row.content_hash, row.reason, row.times = record.content_hash, record.reason, 1
            row.first_at = row.last_at = record.at
            row.stored_at = None
        self.session.flush()

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
        ids = dict(
            self.session.execute(
                select(ArticleUrl.url, ArticleUrl.article_id).where(ArticleUrl.url.in_(list(seen)))
            ).all()
        )
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

    def _write_articles(self, run: list[_Article], outcomes: list[Outcome | None]) -> set[int]:
        """One run (no URL or content twice); returns the ids of the articles touched."""
        urls = [a.record.url for a in run]
        stored = dict(
            self.session.execute(
                select(ArticleUrl.url, ArticleUrl.article_id).where(ArticleUrl.url.in_(urls))
            ).all()
        )
        fresh = [a for a in run if a.record.url not in stored]
        by_key: dict[str, int] = {}
        if fresh:
            by_key = dict(
                self.session.execute(
                    select(Article.dedupe_key, Article.id).where(
                        Article.dedupe_key.in_([a.key for a in fresh])
                    )
                ).all()
            )
        if by_key:
            self._keep_apart(fresh, by_key)
        new = [a for a in fresh if a.key not in by_key]
        new_indexes = {a.index for a in new}
        if new:
            by_key.update(self._insert_articles(new))
        ids: dict[int, int] = {}
        url_rows = []
        for article in fresh:
            article_id = ids[article.index] = by_key[article.key]
            outcomes[article.index] = (
                Outcome.NEW if article.index in new_indexes else Outcome.MERGED
            )
            url_rows.append(
                {
                    "url": article.record.url,
                    "article_id": article_id,
                    "first_seen_at": article.at,
                    "last_seen_at": article.at,
                    "listing_title": article.record.listing_title,
                }
            )
        if url_rows:
            inserted = self.session.execute(self._statements.url, url_rows).scalars().all()
            if len(inserted) != len(url_rows):
                lost = {str(row["url"]) for row in url_rows} - set(inserted)
                raise ConcurrentWrite(", ".join(sorted(lost)))
        for article in run:
            if article.record.url in stored:
                article_id = ids[article.index] = stored[article.record.url]
                outcomes[article.index] = self._revise(article_id, article)
        links = [
            {"article_id": ids[a.index], "category_id": self.category_id(a.record.category_slug)}
            for a in run
            if a.record.category_slug
        ]
        if links:
            self.session.execute(self._statements.category_link, links)
        return set(ids.values())

    def _keep_apart(self, fresh: list[_Article], by_key: dict[str, int]) -> None:
        """A new URL whose title and body match a stored article is an alias of it, unless
        the listings linked them under different headlines: then the same page was served
        for different articles (an error page in the site's layout), and they stay apart."""
        matched = {by_key[a.key] for a in fresh if a.key in by_key}
        listed: dict[int, set[str]] = {}
        for article_id, title in self.session.execute(
            select(ArticleUrl.article_id, ArticleUrl.listing_title).where(
                ArticleUrl.article_id.in_(sorted(matched)), ArticleUrl.listing_title.is_not(None)
            )
        ):
            listed.setdefault(article_id, set()).add(_folded(str(title)))
        for article in fresh:
            target = by_key.get(article.key)
            titles = listed.get(target, set()) if target is not None else set()
            mine = article.record.listing_title
            if titles and mine and _folded(mine) not in titles:
                logger.warning(
                    "%s has the title and body of article %s but was listed as %r: kept apart",
                    article.record.url,
                    target,
                    mine,
                )
                article.key = dedupe_key(article.key, article.record.url)

    def _insert_articles(self, new: list[_Article]) -> dict[str, int]:
        rows = [
            {
                "url": a.record.url,
                "title": a.record.title,
                "body": a.record.body,
                "content_hash": a.hash,
                "dedupe_key": a.key,
                "published_at": a.record.published_at,
                "date_precision": a.record.date_precision,
                "published_raw": a.record.published_raw,
                "source_id": self.source_id(a.record.source) if a.record.source else None,
                "source_title": a.record.source_title,
                "author": a.record.author,
                "first_seen_at": a.at,
                "updated_at": a.at,
                "last_seen_at": a.at,
                "layout_version": a.record.layout_version,
            }
            for a in new
        ]
        ids = {key: int(id_) for id_, key in self.session.execute(self._statements.article, rows)}
        self._changed.update(ids.values())
        if len(ids) != len(rows):
            # Another writer stored one of these URLs or contents since we looked.
            raise ConcurrentWrite(", ".join(a.record.url for a in new if a.key not in ids))
        return ids

    def _revise(self, article_id: int, prepared: _Article) -> Outcome:
        record, now = prepared.record, prepared.at
        article = self.session.get_one(Article, article_id)
        self.session.execute(self._statements.url_seen, [{"u": record.url, "seen": now}])
        source_id = self.source_id(record.source) if record.source else None
        unchanged = all(getattr(article, f) == getattr(record, f) for f in CONTENT_FIELDS)
        if unchanged and article.source_id == source_id:
            article.last_seen_at = now
            article.layout_version = record.layout_version or article.layout_version
            self.session.execute(delete(HeldChange).where(HeldChange.article_id == article_id))
            self.session.flush()
            return Outcome.UNCHANGED
        poorer = _poorer(article, record, source_id)
        if poorer is not None and self._hold(article, prepared.hash, poorer, now):
            article.last_seen_at = now
            self.session.flush()
            return Outcome.HELD
        self.session.add(
            Revision(
                article_id=article.id,
                title=article.title,
                body=article.body,
                content_hash=article.content_hash,
                published_at=article.published_at,
                date_precision=article.date_precision,
                source_name=article.source.name if article.source else None,
                source_title=article.source_title,
                author=article.author,
                valid_from=article.updated_at,
                replaced_at=now,
                reason=record.revision_reason or "crawl",
            )
        )
        key = prepared.key
        if article.dedupe_key != key and self.session.scalar(
            select(Article.id).where(Article.dedupe_key == key)
        ):
            # The edit made it identical to another stored article; keep both rows
            # rather than lose one's URLs, with a key that cannot collide.
            logger.warning("Article %s now duplicates another article's content", record.url)
            key = dedupe_key(key, str(article.id))
        for field in CONTENT_FIELDS:
            setattr(article, field, getattr(record, field))
        article.published_raw = record.published_raw
        article.source_id = source_id
        article.content_hash = prepared.hash
        article.dedupe_key = key
        article.updated_at = now
        article.last_seen_at = now
        article.layout_version = record.layout_version
        self.session.flush()
        self._changed.add(article.id)
        return Outcome.UPDATED

    def _hold(self, article: Article, hash_: str, reason: str, now: dt.datetime) -> bool:
        """Whether this poorer version is held (recorded in held_changes, not applied).
        Once the site has served the same version for HELD_APPLY_AFTER it is not held
        any more: it is applied, and forgotten here."""
        held = self.session.get(HeldChange, article.id)
        if held is not None and held.content_hash == hash_:
            if now - held.first_held_at >= self.held_apply_after:
                self.session.delete(held)
                logger.warning(
                    "Applying the poorer version of article %s held since %s",
                    article.id,
                    held.first_held_at,
                )
                return False
            held.last_held_at = now
            held.times += 1
            return True
        if held is not None:
            self.session.delete(held)
            self.session.flush()
        self.session.add(
            HeldChange(
                article_id=article.id,
                content_hash=hash_,
                reason=reason,
                first_held_at=now,
                last_held_at=now,
                times=1,
            )
        )
        logger.warning(
            "Article %s: a poorer version (%s) is held, not applied", article.url, reason
        )
        return True

    def _link_listed_categories(self, article_ids: Iterable[int]) -> None:
        """Every category whose listing links any URL of these articles."""
        link = self._statements.insert(_table(ArticleCategory)).from_select(
            ["article_id", "category_id"],
            select(ArticleUrl.article_id, Listing.category_id)
            .join(Listing, Listing.url == ArticleUrl.url)
            .where(ArticleUrl.article_id.in_(sorted(article_ids))),
        )
        self.session.execute(link.on_conflict_do_nothing())


def _folded(title: str) -> str:
    return " ".join(title.split())


def _poorer(article: Article, record: ArticleRecord, source_id: int | None) -> str | None:
    """Why the re-fetched `record` is much poorer than the stored `article`, or None."""
    old, new = _WHITE_SPACE.sub("", article.body), _WHITE_SPACE.sub("", record.body)
    if len(new) < POORER_BODY_SHARE * len(old):
        return "body_shrunk"
    if len(new) < len(old) and old.startswith(new):
        return "body_cut"  # the stored text, cut short: a page that arrived incomplete
    if article.published_at is not None and record.published_at is None:
        return "date_lost"
    if (article.source_id or article.source_title) and not (source_id or record.source_title):
        return "source_lost"
    return None


def _page(
    url: str, status: int, etag: str | None, modified: str | None, at: dt.datetime
) -> dict[str, Any]:
    return {"url": url, "status": status, "etag": etag, "last_modified": modified, "fetched_at": at}


def _runs(articles: list[_Article]) -> Iterable[list[_Article]]:
    """Consecutive runs in which no URL and no content comes twice."""
    run: list[_Article] = []
    urls: set[str] = set()
    keys: set[str] = set()
    for article in articles:
        article.key = dedupe_key(article.hash, article.record.title)
        if article.record.url in urls or article.key in keys:
            yield run
            run, urls, keys = [], set(), set()
        run.append(article)
        urls.add(article.record.url)
        keys.add(article.key)
    if run:
        yield run
