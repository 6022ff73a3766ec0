"""The Atom 1.0 feed of the newest articles, built by feedgen.

Entry ids are `urn:uuid:` v5 UUIDs of the article's canonical URL (which never changes
once stored), so a reader sees the same entry across runs, and an edit as the same entry
with a newer `updated`.
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import TYPE_CHECKING

from feedgen.feed import FeedGenerator
from sqlalchemy import select

from storage.models import Article, ArticleCategory, Category, Source
from storage.zone import SITE_TZ

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

SUMMARY_CHARS = 200


def feed_id(category: str | None) -> str:
    name = f"ecnews:feed:{category or ''}"
    return f"urn:uuid:{uuid.uuid5(uuid.NAMESPACE_URL, name)}"


def entry_id(canonical_url: str) -> str:
    return f"urn:uuid:{uuid.uuid5(uuid.NAMESPACE_URL, canonical_url)}"


def _summary(body: str) -> str:
    text = " ".join(body.split())
    return text if len(text) <= SUMMARY_CHARS else text[:SUMMARY_CHARS] + "…"


def atom_feed(session: Session, *, category: str | None = None, limit: int = 50) -> bytes:
    """The newest `limit` articles (of one category slug, if given) as Atom XML."""
    query = (
        select(Article, Source.name)
        .outerjoin(Source, Source.id == Article.source_id)
        .order_by(Article.published_at.desc().nulls_last(), Article.url)
        .limit(limit)
    )
    title = "ecnews: newest articles"
    if category is not None:
        name = session.scalar(select(Category.name).where(Category.slug == category))
        title = f"ecnews: {name or category}"
        query = query.where(
            Article.id.in_(
                select(ArticleCategory.article_id)
                .join(Category, Category.id == ArticleCategory.category_id)
                .where(Category.slug == category)
            )
        )
    rows = session.execute(query).all()

    feed = FeedGenerator()
    feed.id(feed_id(category))
    feed.title(title)
    feed.author({"name": "ecnews"})
    feed.language("zh-CN")
    # The feed's time is its newest entry's, so an unchanged database gives the same feed.
    newest = max((article.updated_at for article, _ in rows), default=dt.datetime.now(dt.UTC))
    feed.updated(newest.astimezone(SITE_TZ))
    for article, source in rows:
        entry = feed.add_entry(order="append")
        entry.id(entry_id(article.url))
        entry.title(article.title)
        entry.link(href=article.url)
        if article.published_at is not None:
            entry.published(article.published_at.astimezone(SITE_TZ))
        entry.updated(article.updated_at.astimezone(SITE_TZ))
        if source:
            entry.author({"name": source})
        entry.summary(_summary(article.body))
    return feed.atom_str(pretty=True)  # type: ignore[no-any-return]  # feedgen is untyped
