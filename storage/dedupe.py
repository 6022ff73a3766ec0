"""Which stored article a new URL is: the data contract's dedupe rules.

Invariants:

- an article is identified by its dedupe key, SHA-256 of its ``content_hash`` (the body
  without white space) and its title; white space alone never makes another article;
- a new URL whose key matches a stored article becomes an alias of it (``MERGED``), unless
  the listings linked them under different headlines: then the same page was served for
  different articles (an error page in the site's layout) and they are kept apart, the new
  one under a key salted with its URL;
- an edit that makes an article identical to another keeps both rows (a key salted with
  its id): no article's URLs are ever lost to a merge;
- a row another writer inserted since we looked raises ``ConcurrentWrite``.
"""

from __future__ import annotations

import hashlib
import logging
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sqlalchemy import select

from storage.models import Article, ArticleUrl
from storage.outcome import ConcurrentWrite

if TYPE_CHECKING:
    import datetime as dt
    from collections.abc import Callable, Iterable

    from sqlalchemy.orm import Session

    from storage.records import ArticleRecord

logger = logging.getLogger(__name__)

WHITE_SPACE = re.compile(r"\s+")


def content_hash(body: str) -> str:
    """SHA-256 (hex) of the body with all white space removed (the spec's content_hash)."""
    return hashlib.sha256(WHITE_SPACE.sub("", body).encode("utf-8")).hexdigest()


def dedupe_key(hash_: str, title: str) -> str:
    return hashlib.sha256(f"{hash_}\x00{title}".encode()).hexdigest()


@dataclass(slots=True)
class Prepared:
    """An article record of a batch, with its place in the batch and its hashes."""

    index: int
    record: ArticleRecord
    hash: str
    key: str
    at: dt.datetime


def runs(articles: list[Prepared]) -> Iterable[list[Prepared]]:
    """Consecutive runs in which no URL and no content comes twice (sets each key)."""
    run: list[Prepared] = []
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


def stored_matches(session: Session, fresh: list[Prepared]) -> dict[str, int]:
    """Dedupe key -> id of the stored articles that URLs new to the database are aliases of
    (after keeping apart those listed under other headlines)."""
    by_key: dict[str, int] = dict(
        session.execute(
            select(Article.dedupe_key, Article.id).where(
                Article.dedupe_key.in_([a.key for a in fresh])
            )
        ).all()
    )
    if by_key:
        _keep_apart(session, fresh, by_key)
    return by_key


def _keep_apart(session: Session, fresh: list[Prepared], by_key: dict[str, int]) -> None:
    matched = {by_key[a.key] for a in fresh if a.key in by_key}
    listed: dict[int, set[str]] = {}
    for article_id, title in session.execute(
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


def insert_articles(
    session: Session, statement: Any, new: list[Prepared], source_id: Callable[[str], int]
) -> dict[str, int]:
    """Insert `new` articles; dedupe key -> id."""
    rows = [article_row(a, source_id(a.record.source) if a.record.source else None) for a in new]
    ids = {key: int(id_) for id_, key in session.execute(statement, rows)}
    if len(ids) != len(rows):
        # Another writer stored one of these URLs or contents since we looked.
        raise ConcurrentWrite(", ".join(a.record.url for a in new if a.key not in ids))
    return ids


def article_row(article: Prepared, source_id: int | None) -> dict[str, Any]:
    """The ``articles`` row of a new article (its URL is the first it was found at)."""
    record = article.record
    return {
        "url": record.url,
        "title": record.title,
        "body": record.body,
        "content_hash": article.hash,
        "dedupe_key": article.key,
        "published_at": record.published_at,
        "date_precision": record.date_precision,
        "published_raw": record.published_raw,
        "source_id": source_id,
        "source_title": record.source_title,
        "author": record.author,
        "first_seen_at": article.at,
        "updated_at": article.at,
        "last_seen_at": article.at,
        "layout_version": record.layout_version,
    }


def insert_urls(
    session: Session, statement: Any, fresh: list[Prepared], ids: dict[int, int]
) -> None:
    """Each new URL, linked to its article (`ids`: batch index -> article id)."""
    rows = [
        {
            "url": a.record.url,
            "article_id": ids[a.index],
            "first_seen_at": a.at,
            "last_seen_at": a.at,
            "listing_title": a.record.listing_title,
        }
        for a in fresh
    ]
    inserted = session.execute(statement, rows).scalars().all()
    if len(inserted) != len(rows):
        lost = {str(row["url"]) for row in rows} - set(inserted)
        raise ConcurrentWrite(", ".join(sorted(lost)))


def key_after_edit(session: Session, article: Article, key: str, url: str) -> str:
    """The dedupe key an article edited at `url` gets: its content's, unless another stored
    article has that content; then one that cannot collide, so both rows keep their URLs."""
    if article.dedupe_key == key or not session.scalar(
        select(Article.id).where(Article.dedupe_key == key)
    ):
        return key
    logger.warning("Article %s now duplicates another article's content", url)
    return dedupe_key(key, str(article.id))


def _folded(title: str) -> str:
    return " ".join(title.split())
