"""Typed SQLAlchemy models: the database schema downstream readers query.

Every moment is stored in UTC (`UTCDateTime`), so SQLite and PostgreSQL hold the
same values; the export renders them in the site's own offset (+08:00).
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

if TYPE_CHECKING:
    from sqlalchemy.engine import Dialect

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

# SQLite only auto-increments INTEGER PRIMARY KEY; PostgreSQL gets a BIGINT identity.
BigId = BigInteger().with_variant(Integer(), "sqlite")


class UTCDateTime(TypeDecorator[dt.datetime]):
    """An aware datetime stored as UTC; SQLite has no time zones of its own."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: dt.datetime | None, dialect: Dialect) -> Any:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError(f"naive datetime {value!r} refused: store aware moments only")
        value = value.astimezone(dt.UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: Any, dialect: Dialect) -> dt.datetime | None:
        if value is None:
            return None
        # no-any-return: the driver hands back `value` untyped; it is a datetime here.
        if value.tzinfo is None:
            return value.replace(tzinfo=dt.UTC)  # type: ignore[no-any-return]
        return value.astimezone(dt.UTC)  # type: ignore[no-any-return]


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class Source(Base):
    """An outlet an article is attributed to (`来源：X`)."""

    __tablename__ = "sources"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    name: Mapped[str] = mapped_column(String(512), unique=True)


class Category(Base):
    """One of the site's category listings (rdjj, sjbg, zcfg, jxal)."""

    __tablename__ = "categories"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    slug: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(128))
    walk_started_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    """When a crawl last began walking this listing from page 1."""
    walk_completed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    """When a walk last ended properly; older than walk_started_at: it was cut short."""


class Article(Base):
    """One article, whatever number of URLs it was found at."""

    __tablename__ = "articles"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    url: Mapped[str] = mapped_column(String(2048), unique=True)
    """Canonical URL: the first URL the article was stored under."""
    title: Mapped[str] = mapped_column(Text)
    body: Mapped[str] = mapped_column(Text)
    content_hash: Mapped[str] = mapped_column(String(64), index=True)
    """SHA-256 (hex) of the body with all white space removed."""
    dedupe_key: Mapped[str] = mapped_column(String(64), unique=True)
    """SHA-256 of content_hash + title: one row per distinct (title, body), enforced."""
    published_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, index=True)
    date_precision: Mapped[str | None] = mapped_column(String(8))
    published_raw: Mapped[str | None] = mapped_column(Text)
    source_id: Mapped[int | None] = mapped_column(ForeignKey("sources.id"), index=True)
    source_title: Mapped[str | None] = mapped_column(Text)
    author: Mapped[str | None] = mapped_column(String(512))
    first_seen_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    last_seen_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    layout_version: Mapped[str | None] = mapped_column(String(32))
    """The site layout that extracted the stored version (storage/layouts.py); "generic"
    when no layout was proven and a generic extractor read it."""

    source: Mapped[Source | None] = relationship(lazy="joined")


class ArticleUrl(Base):
    """Every canonical URL an article was found at, with what the site last sent for it."""

    __tablename__ = "article_urls"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    url: Mapped[str] = mapped_column(String(2048), unique=True)
    article_id: Mapped[int] = mapped_column(
        ForeignKey("articles.id", ondelete="CASCADE"), index=True
    )
    first_seen_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    last_seen_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    listing_title: Mapped[str | None] = mapped_column(Text)
    """The headline the listing linked this URL with: URLs listed under different
    headlines are never merged as one article, whatever their pages say."""


class ArticleCategory(Base):
    """An article is listed in a category (possibly several)."""

    __tablename__ = "article_categories"

    article_id: Mapped[int] = mapped_column(
        ForeignKey("articles.id", ondelete="CASCADE"), primary_key=True
    )
    category_id: Mapped[int] = mapped_column(ForeignKey("categories.id"), primary_key=True)


class Listing(Base):
    """A listing link seen: which URL a category lists, and with which date.

    The incremental crawl stops paginating at a page whose every link is known here.
    """

    __tablename__ = "listings"
    __table_args__ = (UniqueConstraint("category_id", "url"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    category_id: Mapped[int] = mapped_column(ForeignKey("categories.id"))
    url: Mapped[str] = mapped_column(String(2048), index=True)
    listing_date: Mapped[dt.date | None] = mapped_column(Date)
    last_seen_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)


class Page(Base):
    """What the site last answered for a fetched URL: validators for conditional requests,
    and whether the page is gone (404), so a dead listing link is not fetched every hour."""

    __tablename__ = "pages"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    url: Mapped[str] = mapped_column(String(2048), unique=True)
    status: Mapped[int] = mapped_column(Integer)
    etag: Mapped[str | None] = mapped_column(String(512))
    last_modified: Mapped[str | None] = mapped_column(String(64))
    fetched_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)


class Revision(Base):
    """A previous version of an article, kept when the site edited it."""

    __tablename__ = "revisions"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    article_id: Mapped[int] = mapped_column(
        ForeignKey("articles.id", ondelete="CASCADE"), index=True
    )
    title: Mapped[str] = mapped_column(Text)
    body: Mapped[str] = mapped_column(Text)
    content_hash: Mapped[str] = mapped_column(String(64))
    published_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    date_precision: Mapped[str | None] = mapped_column(String(8))
    source_name: Mapped[str | None] = mapped_column(String(512))
    source_title: Mapped[str | None] = mapped_column(Text)
    author: Mapped[str | None] = mapped_column(String(512))
    valid_from: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    """When this version was first stored (the article's updated_at back then)."""
    replaced_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    reason: Mapped[str | None] = mapped_column(String(32))
    """What replaced it: ``crawl`` (the site changed it), ``reextract`` (a fixed rule,
    replayed from the archive); None for revisions older than the column."""


class HeldChange(Base):
    """A re-fetched version much poorer than the stored article (body cut by more than
    half, date or source lost): not applied. It is applied once the site still serves
    the same version HELD_APPLY_AFTER after it was first held (see storage/revisions.py)."""

    __tablename__ = "held_changes"

    article_id: Mapped[int] = mapped_column(
        ForeignKey("articles.id", ondelete="CASCADE"), primary_key=True
    )
    content_hash: Mapped[str] = mapped_column(String(64))
    """content_hash of the held version."""
    reason: Mapped[str] = mapped_column(String(64))
    first_held_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    last_held_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    times: Mapped[int] = mapped_column(Integer)
    """How many times the site served it."""


class SuspectPage(Base):
    """A page the suspect rules refused, run after run, with the same content. After
    ``NEWS_SUSPECT_ACCEPT_AFTER_RUNS`` such runs it is stored anyway and flagged for
    review (``stored_at``): a wrong rule costs a delay, never an article
    (pipelines/suspect.py)."""

    __tablename__ = "suspect_pages"

    url: Mapped[str] = mapped_column(Text, primary_key=True)
    content_hash: Mapped[str] = mapped_column(String(64))
    """content_hash of the refused body; another body starts the count again."""
    reason: Mapped[str] = mapped_column(String(64))
    times: Mapped[int] = mapped_column(Integer)
    """How many runs refused this content."""
    first_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    last_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    stored_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, nullable=True)
    """Set when it was stored in spite of the rules: to be reviewed."""


class CrawlRun(Base):
    """One run of the crawl: what it did and how it ended."""

    __tablename__ = "crawl_runs"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    started_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, index=True)
    finished_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    status: Mapped[str] = mapped_column(String(16))
    """running, ok, failed, interrupted (SIGTERM/SIGINT), or killed (its process died while
    running: set by the next run of the same host, crawler/runs.py)."""
    mode: Mapped[str] = mapped_column(String(16))
    worker: Mapped[str | None] = mapped_column(String(256))
    pages: Mapped[int] = mapped_column(Integer, default=0)
    items_new: Mapped[int] = mapped_column(Integer, default=0)
    items_updated: Mapped[int] = mapped_column(Integer, default=0)
    items_unchanged: Mapped[int] = mapped_column(Integer, default=0)
    items_merged: Mapped[int] = mapped_column(Integer, default=0)
    items_dropped: Mapped[int] = mapped_column(Integer, default=0)
    errors: Mapped[int] = mapped_column(Integer, default=0)
    reason: Mapped[str | None] = mapped_column(Text)
    stats: Mapped[dict[str, Any] | None] = mapped_column(JSON)


Index("ix_articles_published_url", Article.published_at.desc(), Article.url)


class SiteLayout(Base):
    """A site layout the crawl learned or shipped with (crawler/layout/description.py)."""

    __tablename__ = "layouts"

    version: Mapped[str] = mapped_column(String(32), primary_key=True)
    """The description's digest: the same layout has the same version everywhere."""
    description: Mapped[dict[str, Any]] = mapped_column(JSON)
    evidence: Mapped[dict[str, Any]] = mapped_column(JSON)
    """What proved it: the stored articles it reproduced, field by field, and the listing
    pages whose stored links came out."""
    adopted_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    pinned: Mapped[bool] = mapped_column(default=False)
    """An operator chose it (`ecnews layout pin`): it stays active whatever is learned."""
    forgotten_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    """An operator rolled it back (`ecnews layout forget`): never active again."""
