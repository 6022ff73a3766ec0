"""The export: one record per article, exactly the spec's fields, newest first.

`published_date`, the local (Asia/Shanghai) day of `published_at`, is not one of the spec's
fields: jsonl and csv add it only when asked (`ecnews export --local-date`); Parquet
(storage/parquet.py) always has it, typed as a date.
"""

from __future__ import annotations

import csv
import datetime as dt
import json
from collections import defaultdict
from typing import TYPE_CHECKING, Any, TextIO

from sqlalchemy import select

from storage.models import Article, ArticleCategory, ArticleUrl, Category, Source
from storage.zone import SITE_TZ

if TYPE_CHECKING:
    from collections.abc import Iterator, Sequence

    from sqlalchemy.orm import Session

FIELDS = (
    "url",
    "urls",
    "title",
    "categories",
    "published_at",
    "date_precision",
    "source",
    "source_title",
    "author",
    "body",
    "content_hash",
    "first_seen_at",
    "updated_at",
)
LOCAL_DATE = "published_date"
_AFTER = FIELDS.index("published_at") + 1
WITH_LOCAL_DATE = (*FIELDS[:_AFTER], LOCAL_DATE, *FIELDS[_AFTER:])
"""The columns with `--local-date`."""
BATCH = 500


def _iso(moment: dt.datetime | None) -> str | None:
    return moment.astimezone(SITE_TZ).isoformat() if moment else None


def export_records(
    session: Session,
    *,
    since: dt.date | None = None,
    category: str | None = None,
    limit: int | None = None,
) -> Iterator[dict[str, Any]]:
    """Articles as export records, by published_at descending then url (the first
    `limit` of them, if given)."""
    query = (
        select(Article, Source.name)
        .outerjoin(Source, Source.id == Article.source_id)
        .order_by(Article.published_at.desc().nulls_last(), Article.url)
    )
    if since is not None:
        start = dt.datetime.combine(since, dt.time(), tzinfo=SITE_TZ)
        query = query.where(Article.published_at >= start)
    if category is not None:
        query = query.where(
            Article.id.in_(
                select(ArticleCategory.article_id)
                .join(Category, Category.id == ArticleCategory.category_id)
                .where(Category.slug == category)
            )
        )
    if limit is not None:
        query = query.limit(limit)
    batch: list[tuple[Article, str | None]] = []
    for article, source in session.execute(query.execution_options(yield_per=BATCH)):
        batch.append((article, source))
        if len(batch) == BATCH:
            yield from _records(session, batch)
            batch = []
    yield from _records(session, batch)


def _records(session: Session, batch: list[tuple[Article, str | None]]) -> Iterator[dict[str, Any]]:
    if not batch:
        return
    ids = [article.id for article, _ in batch]
    urls: dict[int, list[str]] = defaultdict(list)
    for article_id, url in session.execute(
        select(ArticleUrl.article_id, ArticleUrl.url)
        .where(ArticleUrl.article_id.in_(ids))
        .order_by(ArticleUrl.first_seen_at, ArticleUrl.id)
    ):
        urls[article_id].append(url)
    categories: dict[int, list[str]] = defaultdict(list)
    for article_id, name in session.execute(
        select(ArticleCategory.article_id, Category.name)
        .join(Category, Category.id == ArticleCategory.category_id)
        .where(ArticleCategory.article_id.in_(ids))
    ):
        categories[article_id].append(name)
    for article, source in batch:
        yield {
            "url": article.url,
            "urls": urls[article.id] or [article.url],
            "title": article.title,
            "categories": sorted(categories[article.id]),
            "published_at": _iso(article.published_at),
            "date_precision": article.date_precision,
            "source": source,
            "source_title": article.source_title,
            "author": article.author,
            "body": article.body,
            "content_hash": article.content_hash,
            "first_seen_at": _iso(article.first_seen_at),
            "updated_at": _iso(article.updated_at),
        }


def local_date(published_at: str | None) -> str | None:
    """The site's local day of an exported `published_at` (already in +08:00)."""
    return published_at[:10] if published_at else None


def with_local_date(records: Iterator[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    """The records with `published_date` after `published_at`."""
    for record in records:
        out: dict[str, Any] = {}
        for key, value in record.items():
            out[key] = value
            if key == "published_at":
                out[LOCAL_DATE] = local_date(value)
        yield out


def write_jsonl(records: Iterator[dict[str, Any]], out: TextIO) -> int:
    count = 0
    for record in records:
        out.write(json.dumps(record, ensure_ascii=False) + "\n")
        count += 1
    return count


def write_csv(
    records: Iterator[dict[str, Any]], out: TextIO, fields: Sequence[str] = FIELDS
) -> int:
    """CSV with these columns; list fields (urls, categories) as JSON arrays."""
    writer = csv.DictWriter(out, fieldnames=fields, lineterminator="\n")
    writer.writeheader()
    count = 0
    for record in records:
        row = dict(record)
        for key in ("urls", "categories"):
            row[key] = json.dumps(row[key], ensure_ascii=False)
        writer.writerow(row)
        count += 1
    return count
