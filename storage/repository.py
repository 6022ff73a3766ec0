"""Dedupe, merge and revisions, atomic in the database.

The repository takes a Session and never commits: the caller frames each transaction
(one article, one transaction). Races between crawls are settled by unique
constraints and `INSERT … ON CONFLICT`, never by in-memory sets alone.
"""

from __future__ import annotations

import hashlib
import logging
import re
from dataclasses import dataclass
from enum import StrEnum
from functools import cache
from typing import TYPE_CHECKING, Any, cast

from sqlalchemy import delete, event, literal, select, update
from sqlalchemy.dialects import postgresql, sqlite

from storage.models import (
    Article,
    ArticleCategory,
    ArticleUrl,
    Base,
    Category,
    Listing,
    Page,
    Revision,
    Source,
)
from storage.search import index_articles

if TYPE_CHECKING:
    import datetime as dt
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


class ConcurrentWrite(Exception):
    """Another writer stored the same URL between our read and our write; retry."""


@dataclass(frozen=True, slots=True)
class ArticleRecord:
    """A clean article, ready to store (storage knows nothing of Scrapy items)."""

    url: str
    title: str
    body: str
    published_at: dt.datetime | None
    date_precision: str | None
    source: str | None
    source_title: str | None
    author: str | None
    published_raw: str | None = None
    category_slug: str | None = None
    category_name: str | None = None


_CONTENT_FIELDS = ("title", "body", "published_at", "date_precision", "source_title", "author")


@dataclass(frozen=True)
class _Statements:
    """The hot INSERTs, built once per dialect on the tables (not the ORM classes) and run
    with parameters: building `.values(...)` per call cost more than executing it."""

    article: Any
    url: Any
    page: Any
    listing: Any
    category_link: Any


def _table(model: type[Base]) -> Table:
    return cast("Table", model.__table__)


@cache
def _statements(dialect: str) -> _Statements:
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    articles, urls = _table(Article), _table(ArticleUrl)
    page = insert(_table(Page))
    listing = insert(_table(Listing))
    return _Statements(
        article=insert(articles).on_conflict_do_nothing().returning(articles.c.id),
        url=insert(urls)
        .on_conflict_do_nothing(index_elements=["url"])
        .returning(urls.c.article_id),
        page=page.on_conflict_do_update(
            index_elements=["url"],
            set_={c: page.excluded[c] for c in ("status", "etag", "last_modified", "fetched_at")},
        ),
        listing=listing.on_conflict_do_update(
            index_elements=["category_id", "url"],
            set_={c: listing.excluded[c] for c in ("listing_date", "last_seen_at")},
        ),
        category_link=insert(_table(ArticleCategory)).on_conflict_do_nothing(),
    )


def _insert(session: Session, table: Any) -> Any:
    """A dialect `insert()` with `on_conflict_*` for the session's database."""
    name = session.get_bind().dialect.name
    if name == "postgresql":
        return postgresql.insert(table)
    if name == "sqlite":
        return sqlite.insert(table)
    raise NotImplementedError(f"unsupported database dialect {name!r}")


# (database, kind, name) -> id of category and source rows seen committed; see _reference_id.
_COMMITTED_IDS: dict[tuple[str, str, str], int] = {}


class Repository:
    def __init__(self, session: Session) -> None:
        self.session = session
        self._database_key = str(session.get_bind().engine.url)  # str() masks the password
        self._uncommitted_ids: dict[tuple[str, str, str], int] = {}
        self._statements = _statements(session.get_bind().dialect.name)

    # -- reference data ---------------------------------------------------------------

    def category_id(self, slug: str, name: str | None = None) -> int:
        return self._reference_id(Category, Category.slug, slug, {"name": name or slug})

    def source_id(self, name: str) -> int:
        return self._reference_id(Source, Source.name, name, {})

    def _reference_id(self, model: Any, key: Any, value: str, extra: dict[str, Any]) -> int:
        """The id of a category or source row, inserted if new.

        Those rows are never deleted, so ids seen committed are cached for the process:
        two statements fewer for every item stored.
        """
        cache_key = (self._database_key, key.key, value)
        cached = _COMMITTED_IDS.get(cache_key)
        if cached is not None:
            return cached
        found = self.session.scalar(select(model.id).where(key == value))
        if found is None:
            stmt = _insert(self.session, model).values({key.key: value, **extra})
            self.session.execute(stmt.on_conflict_do_nothing(index_elements=[key.key]))
            found = self.session.scalars(select(model.id).where(key == value)).one()
        if not self._uncommitted_ids:
            # Cached only once this transaction commits: a rolled-back insert has no row.
            event.listen(self.session, "after_commit", self._promote_ids, once=True)
        self._uncommitted_ids[cache_key] = found
        return int(found)

    def _promote_ids(self, _session: Session) -> None:
        _COMMITTED_IDS.update(self._uncommitted_ids)
        self._uncommitted_ids.clear()

    # -- listings ---------------------------------------------------------------------

    def record_listings(
        self,
        slug: str,
        name: str | None,
        links: Sequence[tuple[str, dt.date | None]],
        now: dt.datetime,
    ) -> None:
        """A listing page links these URLs (with these dates): remember them, and link the
        category to those already stored. Two statements for the whole page."""
        if not links:
            return
        category_id = self.category_id(slug, name)
        by_url = dict(reversed(links))  # one row per URL, its first listing on the page
        self.session.execute(
            self._statements.listing,
            [
                {"category_id": category_id, "url": url, "listing_date": day, "last_seen_at": now}
                for url, day in by_url.items()
            ],
        )
        link = _insert(self.session, ArticleCategory).from_select(
            ["article_id", "category_id"],
            select(ArticleUrl.article_id, literal(category_id)).where(
                ArticleUrl.url.in_(list(by_url))
            ),
        )
        self.session.execute(link.on_conflict_do_nothing())

    def known_listing_urls(
        self, slug: str, links: Sequence[tuple[str, dt.date | None]]
    ) -> set[str]:
        """Those of `links` already listed in this category with the same date and resolved:
        stored as an article, or known to be gone (404)."""
        if not links:
            return set()
        urls = [url for url, _ in links]
        listed = {
            (url, day)
            for url, day in self.session.execute(
                select(Listing.url, Listing.listing_date)
                .join(Category, Category.id == Listing.category_id)
                .where(Category.slug == slug, Listing.url.in_(urls))
            )
        }
        stored = set(self.session.scalars(select(ArticleUrl.url).where(ArticleUrl.url.in_(urls))))
        gone = set(
            self.session.scalars(select(Page.url).where(Page.url.in_(urls), Page.status == 404))
        )
        return {url for url, day in links if (url, day) in listed and url in stored | gone}

    def begin_walk(self, slug: str, name: str | None, now: dt.datetime) -> bool:
        """A crawl starts walking this listing; True when the previous walk ended properly."""
        category_id = self.category_id(slug, name)
        category = self.session.get_one(Category, category_id, with_for_update=True)
        completed = category.walk_completed_at
        previous_complete = completed is not None and (
            category.walk_started_at is None or completed >= category.walk_started_at
        )
        category.walk_started_at = now
        return previous_complete

    def complete_walk(self, slug: str, now: dt.datetime) -> None:
        self.session.execute(
            update(Category).where(Category.slug == slug).values(walk_completed_at=now)
        )

    def pending_listing_urls(self, slug: str) -> set[str]:
        """Links this category listed that are neither stored nor known gone: a fetch that
        failed or was killed. The incremental walk goes on until it has met them again."""
        stored = select(ArticleUrl.url)
        gone = select(Page.url).where(Page.status == 404)
        return set(
            self.session.scalars(
                select(Listing.url)
                .join(Category, Category.id == Listing.category_id)
                .where(Category.slug == slug, Listing.url.not_in(stored), Listing.url.not_in(gone))
            )
        )

    def forget_listing_urls(self, slug: str, urls: Iterable[str]) -> None:
        """Drop unresolved listing links that the listing no longer shows."""
        category_ids = select(Category.id).where(Category.slug == slug)
        stored = select(ArticleUrl.url)
        self.session.execute(
            delete(Listing).where(
                Listing.category_id.in_(category_ids),
                Listing.url.in_(list(urls)),
                Listing.url.not_in(stored),
            )
        )

    # -- pages ------------------------------------------------------------------------

    def record_page(
        self,
        url: str,
        status: int,
        etag: str | None,
        last_modified: str | None,
        now: dt.datetime,
    ) -> None:
        self.session.execute(
            self._statements.page,
            {
                "url": url,
                "status": status,
                "etag": etag,
                "last_modified": last_modified,
                "fetched_at": now,
            },
        )

    def validators(self, urls: Iterable[str]) -> dict[str, tuple[str | None, str | None]]:
        """(ETag, Last-Modified) the site last sent for each stored page among `urls`."""
        rows = self.session.execute(
            select(Page.url, Page.etag, Page.last_modified).where(
                Page.url.in_(list(urls)), Page.status == 200
            )
        )
        return {url: (etag, modified) for url, etag, modified in rows}

    def touch(self, url: str, now: dt.datetime) -> bool:
        """The page at `url` did not change (304): only its last-seen time moves."""
        article_id = self.session.scalar(select(ArticleUrl.article_id).where(ArticleUrl.url == url))
        if article_id is None:
            return False
        self.session.execute(
            update(ArticleUrl).where(ArticleUrl.url == url).values(last_seen_at=now)
        )
        self.session.execute(
            update(Article).where(Article.id == article_id).values(last_seen_at=now)
        )
        return True

    # -- articles ---------------------------------------------------------------------

    def store(self, record: ArticleRecord, now: dt.datetime) -> Outcome:
        """Store one article per the spec's dedupe rules; return what happened."""
        hash_ = content_hash(record.body)
        key = dedupe_key(hash_, record.title)
        source_id = self.source_id(record.source) if record.source else None

        article_id = self.session.scalar(
            select(ArticleUrl.article_id).where(ArticleUrl.url == record.url)
        )
        if article_id is not None:
            outcome = self._revise(
                article_id, record, hash_=hash_, key=key, source_id=source_id, now=now
            )
        else:
            article_id = self.session.scalar(select(Article.id).where(Article.dedupe_key == key))
            if article_id is not None:
                self._add_url(article_id, record.url, now)
                outcome = Outcome.MERGED
            else:
                article_id = self._insert_article(record, hash_, key, source_id, now)
                outcome = Outcome.NEW
        if record.category_slug:
            category_id = self.category_id(record.category_slug, record.category_name)
            self.session.execute(
                self._statements.category_link,
                {"article_id": article_id, "category_id": category_id},
            )
        self._link_listed_categories(article_id)
        index_articles(self.session, [article_id])
        return outcome

    def _insert_article(
        self, record: ArticleRecord, hash_: str, key: str, source_id: int | None, now: dt.datetime
    ) -> int:
        params = {
            "url": record.url,
            "title": record.title,
            "body": record.body,
            "content_hash": hash_,
            "dedupe_key": key,
            "published_at": record.published_at,
            "date_precision": record.date_precision,
            "published_raw": record.published_raw,
            "source_id": source_id,
            "source_title": record.source_title,
            "author": record.author,
            "first_seen_at": now,
            "updated_at": now,
            "last_seen_at": now,
        }
        article_id = self.session.scalar(self._statements.article, params)
        if article_id is None:
            # Another writer stored this URL or this content since we looked.
            raise ConcurrentWrite(record.url)
        self._add_url(article_id, record.url, now)
        return int(article_id)

    def _add_url(self, article_id: int, url: str, now: dt.datetime) -> None:
        params = {"url": url, "article_id": article_id, "first_seen_at": now, "last_seen_at": now}
        if self.session.scalar(self._statements.url, params) is None:
            raise ConcurrentWrite(url)

    def _revise(
        self,
        article_id: int,
        record: ArticleRecord,
        *,
        hash_: str,
        key: str,
        source_id: int | None,
        now: dt.datetime,
    ) -> Outcome:
        article = self.session.get_one(Article, article_id)
        self.session.execute(
            update(ArticleUrl).where(ArticleUrl.url == record.url).values(last_seen_at=now)
        )
        unchanged = all(getattr(article, f) == getattr(record, f) for f in _CONTENT_FIELDS)
        if unchanged and article.source_id == source_id:
            article.last_seen_at = now
            return Outcome.UNCHANGED
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
            )
        )
        if article.dedupe_key != key and self.session.scalar(
            select(Article.id).where(Article.dedupe_key == key)
        ):
            # The edit made it identical to another stored article; keep both rows
            # rather than lose one's URLs, with a key that cannot collide.
            logger.warning("Article %s now duplicates another article's content", record.url)
            key = dedupe_key(key, str(article.id))
        for field in _CONTENT_FIELDS:
            setattr(article, field, getattr(record, field))
        article.published_raw = record.published_raw
        article.source_id = source_id
        article.content_hash = hash_
        article.dedupe_key = key
        article.updated_at = now
        article.last_seen_at = now
        self.session.flush()
        return Outcome.UPDATED

    def _link_listed_categories(self, article_id: int) -> None:
        """Every category whose listing links any of the article's URLs."""
        link = _insert(self.session, ArticleCategory).from_select(
            ["article_id", "category_id"],
            select(ArticleUrl.article_id, Listing.category_id)
            .join(Listing, Listing.url == ArticleUrl.url)
            .where(ArticleUrl.article_id == article_id),
        )
        self.session.execute(link.on_conflict_do_nothing())
