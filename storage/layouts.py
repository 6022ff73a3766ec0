"""Site layouts in the database: which one is active, what proved it, and the stored
articles a new layout must reproduce before it is adopted.

Every function takes a `Session` and never commits: the caller frames the transaction.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from sqlalchemy import func, select, update

from storage.models import (
    Article,
    ArticleCategory,
    ArticleUrl,
    Category,
    Listing,
    SiteLayout,
)
from storage.statements import statements, table

if TYPE_CHECKING:
    import datetime as dt

    from sqlalchemy.orm import Session

GENERIC = "generic"
"""The layout_version of an article a generic extractor read (no layout was proven)."""


@dataclass(frozen=True, slots=True)
class StoredArticle:
    """A stored article as the contract's fields, the example a new layout must reproduce."""

    url: str
    category_slug: str
    title: str
    body: str
    published_at: dt.datetime | None
    date_precision: str | None
    source: str | None
    source_title: str | None
    author: str | None
    listing_date: dt.date | None


def active_layout(session: Session) -> SiteLayout | None:
    """The pinned layout, else the latest adopted one; forgotten ones never."""
    return session.scalars(
        select(SiteLayout)
        .where(SiteLayout.forgotten_at.is_(None))
        .order_by(SiteLayout.pinned.desc(), SiteLayout.adopted_at.desc())
        .limit(1)
    ).first()


def forgotten_versions(session: Session) -> set[str]:
    return set(
        session.scalars(select(SiteLayout.version).where(SiteLayout.forgotten_at.is_not(None)))
    )


def history(session: Session) -> list[SiteLayout]:
    return list(session.scalars(select(SiteLayout).order_by(SiteLayout.adopted_at.desc())))


class Adoption(StrEnum):
    """What storing a proven layout did."""

    ADOPTED = "adopted"
    """Stored as the active layout (new, or made active again)."""
    ALREADY = "already"
    """It already was the active one: another worker learned the same layout at the same
    time and stored it first (the same description gives the same version)."""
    FORGOTTEN = "forgotten"
    """An operator forgot it: not adopted again."""


def adopt(
    session: Session,
    version: str,
    description: dict[str, Any],
    evidence: dict[str, Any],
    at: dt.datetime,
) -> Adoption:
    """Record a proven layout as the active one. Safe when several workers store the same
    layout at once: one insert wins, the others find it active."""
    insert = statements(session.get_bind().dialect.name).insert
    layouts = table(SiteLayout)
    inserted = session.execute(
        insert(layouts)
        .values(
            version=version,
            description=description,
            evidence=evidence,
            adopted_at=at,
            pinned=False,
        )
        .on_conflict_do_nothing(index_elements=["version"])
        .returning(layouts.c.version)
    ).first()
    if inserted is not None:
        return Adoption.ADOPTED
    row = session.get(SiteLayout, version, with_for_update=True, populate_existing=True)
    assert row is not None  # the conflict was on it
    if row.forgotten_at is not None:
        return Adoption.FORGOTTEN
    active = active_layout(session)
    if active is not None and active.version == version:
        return Adoption.ALREADY
    row.evidence = evidence
    row.adopted_at = at
    session.flush()
    return Adoption.ADOPTED


def by_version(session: Session, version: str) -> SiteLayout | None:
    return session.get(SiteLayout, version)


def find(session: Session, version: str) -> SiteLayout | None:
    """The layout whose version is `version` or starts with it (one match only)."""
    rows = list(session.scalars(select(SiteLayout).where(SiteLayout.version.startswith(version))))
    return rows[0] if len(rows) == 1 else None


def pin(session: Session, version: str) -> None:
    session.execute(update(SiteLayout).values(pinned=False))
    session.execute(
        update(SiteLayout)
        .where(SiteLayout.version == version)
        .values(pinned=True, forgotten_at=None)
    )


def forget(session: Session, version: str, at: dt.datetime) -> None:
    session.execute(
        update(SiteLayout)
        .where(SiteLayout.version == version)
        .values(pinned=False, forgotten_at=at)
    )


def stored_count(session: Session) -> int:
    return int(session.scalar(select(func.count()).select_from(Article)) or 0)


def sample_articles(session: Session, limit: int) -> list[StoredArticle]:
    """Up to `limit` stored articles, the newest first, taken from each category in turn
    (so the sample spans categories); articles a generic extractor read are no proof."""
    rows = session.execute(
        select(Article, Category.slug)
        .join(ArticleCategory, ArticleCategory.article_id == Article.id)
        .join(Category, Category.id == ArticleCategory.category_id)
        .where((Article.layout_version.is_(None)) | (Article.layout_version != GENERIC))
        .order_by(Article.published_at.desc(), Article.url)
    ).all()
    by_category: dict[str, list[Article]] = {}
    seen: set[int] = set()
    for article, slug in rows:
        if article.id not in seen:
            seen.add(article.id)
            by_category.setdefault(slug, []).append(article)
    picked: list[tuple[str, Article]] = []
    queues = [list(v) for v in by_category.values()]
    slugs = list(by_category)
    while len(picked) < limit and any(queues):
        for slug, queue in zip(slugs, queues, strict=True):
            if queue and len(picked) < limit:
                picked.append((slug, queue.pop(0)))
    listed = dict(
        session.execute(
            select(Listing.url, Listing.listing_date).where(
                Listing.url.in_([a.url for _, a in picked])
            )
        ).all()
    )
    return [
        StoredArticle(
            url=article.url,
            category_slug=slug,
            title=article.title,
            body=article.body,
            published_at=article.published_at,
            date_precision=article.date_precision,
            source=article.source.name if article.source else None,
            source_title=article.source_title,
            author=article.author,
            listing_date=listed.get(article.url),
        )
        for slug, article in picked
    ]


def known_links(session: Session, slug: str) -> dict[str, dt.date | None]:
    """The article URLs this category's listing linked in earlier runs, with their dates
    (those stored as articles only)."""
    return dict(
        session.execute(
            select(Listing.url, Listing.listing_date)
            .join(Category, Category.id == Listing.category_id)
            .join(ArticleUrl, ArticleUrl.url == Listing.url)
            .where(Category.slug == slug)
        ).all()
    )
