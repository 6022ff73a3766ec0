"""The Atom 1.0 feed of the newest articles, built by feedgen.

An entry's author is the journalist where the page names one (else the feed's author,
ecnews, stands); the outlet (来源) is a category in the SOURCE_SCHEME, each listing the
article is in a category in the CATEGORY_SCHEME (term: slug, label: name). The feed links
to itself (`rel="self"`, where it is published) and to the site's listing it mirrors
(`rel="alternate"`).

Entry ids are `urn:uuid:` v5 UUIDs of the article's canonical URL (which never changes
once stored), so a reader sees the same entry across runs, and an edit as the same entry
with a newer `updated`.
"""

from __future__ import annotations

import datetime as dt
import re
import uuid
from collections import defaultdict
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from feedgen.feed import FeedGenerator
from sqlalchemy import select

from storage.models import Article, ArticleCategory, Category, Source
from storage.zone import SITE_TZ

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

SUMMARY_CHARS = 200
CATEGORY_SCHEME = "urn:ecnews:category"
SOURCE_SCHEME = "urn:ecnews:source"
# What XML 1.0 cannot hold even escaped: C0 controls but tab and new lines, surrogates,
# U+FFFE and U+FFFF. Valid UTF-8 the crawl keeps; the feed drops them.
_NOT_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def xml_text(text: str) -> str:
    """`text` without the characters XML cannot carry."""
    return _NOT_XML.sub("", text)


def feed_id(category: str | None) -> str:
    name = f"ecnews:feed:{category or ''}"
    return f"urn:uuid:{uuid.uuid5(uuid.NAMESPACE_URL, name)}"


def entry_id(canonical_url: str) -> str:
    return f"urn:uuid:{uuid.uuid5(uuid.NAMESPACE_URL, canonical_url)}"


def _summary(body: str) -> str:
    text = " ".join(xml_text(body).split())
    return text if len(text) <= SUMMARY_CHARS else text[:SUMMARY_CHARS] + "…"


def _listing_url(article_url: str | None, category: str | None) -> str | None:
    """The site page the feed mirrors: a category's listing, else the site's root."""
    if not article_url:
        return None
    parts = urlsplit(article_url)
    return f"{parts.scheme}://{parts.netloc}/" + (f"news/{category}/" if category else "")


def _listings(session: Session, ids: list[int]) -> dict[int, list[tuple[str, str]]]:
    listed: dict[int, list[tuple[str, str]]] = defaultdict(list)
    for article_id, slug, name in session.execute(
        select(ArticleCategory.article_id, Category.slug, Category.name)
        .join(Category, Category.id == ArticleCategory.category_id)
        .where(ArticleCategory.article_id.in_(ids))
        .order_by(Category.slug)
    ):
        listed[article_id].append((slug, name))
    return listed


def atom_feed(
    session: Session, *, category: str | None = None, limit: int = 50, self_url: str | None = None
) -> bytes:
    """The newest `limit` articles (of one category slug, if given) as Atom XML;
    `self_url` is where the feed is published (default: its id)."""
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
    listed = _listings(session, [article.id for article, _ in rows])

    feed = FeedGenerator()
    feed.id(feed_id(category))
    feed.title(xml_text(title))
    feed.author({"name": "ecnews"})
    feed.language("zh-CN")
    feed.link(href=self_url or feed_id(category), rel="self")
    if alternate := _listing_url(rows[0][0].url if rows else None, category):
        feed.link(href=alternate, rel="alternate", type="text/html")
    # The feed's time is its newest entry's, so an unchanged database gives the same feed.
    newest = max((article.updated_at for article, _ in rows), default=dt.datetime.now(dt.UTC))
    feed.updated(newest.astimezone(SITE_TZ))
    for article, source in rows:
        entry = feed.add_entry(order="append")
        entry.id(entry_id(article.url))
        entry.title(xml_text(article.title))
        entry.link(href=article.url, rel="alternate", type="text/html")
        if article.published_at is not None:
            entry.published(article.published_at.astimezone(SITE_TZ))
        entry.updated(article.updated_at.astimezone(SITE_TZ))
        if article.author:
            entry.author({"name": xml_text(article.author)})
        if source:
            entry.category(term=xml_text(source), scheme=SOURCE_SCHEME, label=xml_text(source))
        for slug, name in listed[article.id]:
            entry.category(term=slug, scheme=CATEGORY_SCHEME, label=xml_text(name))
        entry.summary(_summary(article.body))
    return feed.atom_str(pretty=True)  # type: ignore[no-any-return]  # feedgen is untyped
