"""What a reextract changed (or would change), field by field, read from the export.

Both sides are export records (storage/export.py), so "changed" means what a user of
the data would see change.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from sqlalchemy import select

from storage.db import DEFAULT_OPTIONS, DatabaseOptions, open_readonly
from storage.export import FIELDS, export_records
from storage.models import ArticleUrl, Category, Listing
from storage.zone import SITE_TZ

if TYPE_CHECKING:
    import datetime as dt
    from collections.abc import Iterable

    from storage.records import ArticleRecord

# What a reextract can change: the crawl-time stamps and the hash follow from these.
COMPARED = tuple(
    f for f in FIELDS if f not in {"url", "urls", "first_seen_at", "updated_at", "content_hash"}
)
_FROM_RECORD = (
    "title",
    "body",
    "published_at",
    "date_precision",
    "source",
    "source_title",
    "author",
)


@dataclass(slots=True)
class Changes:
    articles: dict[str, list[tuple[str, Any, Any]]] = field(default_factory=dict)
    """Article URL -> (field, before, after) of each field that changed."""
    new: list[str] = field(default_factory=list)

    @property
    def per_field(self) -> Counter[str]:
        return Counter(name for diffs in self.articles.values() for name, _, _ in diffs)


def stored(
    database_url: str, options: DatabaseOptions = DEFAULT_OPTIONS
) -> dict[str, dict[str, Any]]:
    """The export records of the database, by article URL (ReadError: none readable)."""
    database = open_readonly(database_url, options)
    with database.sessions() as session:
        return {record["url"]: record for record in export_records(session)}


def last_listed(
    database_url: str, urls: Iterable[str], options: DatabaseOptions = DEFAULT_OPTIONS
) -> dict[str, tuple[str, str, str | None, str | None]]:
    """Per stored URL: (slug, name, listing title, listing day) of the listing that last
    linked it, as the database kept them; URLs no listing ever linked are left out."""
    wanted = sorted(set(urls))
    found: dict[str, tuple[dt.datetime, tuple[str, str, str | None, str | None]]] = {}
    with open_readonly(database_url, options).sessions() as session:
        for start in range(0, len(wanted), 500):
            rows = session.execute(
                select(
                    ArticleUrl.url,
                    ArticleUrl.listing_title,
                    Category.slug,
                    Category.name,
                    Listing.listing_date,
                    Listing.last_seen_at,
                )
                .join(Listing, Listing.url == ArticleUrl.url)
                .join(Category, Category.id == Listing.category_id)
                .where(ArticleUrl.url.in_(wanted[start : start + 500]))
            )
            for url, title, slug, name, day, seen in rows:
                if url not in found or seen > found[url][0]:
                    found[url] = (seen, (slug, name, title, day.isoformat() if day else None))
    return {url: listed for url, (_, listed) in found.items()}


def compare(before: dict[str, dict[str, Any]], after: dict[str, dict[str, Any]]) -> Changes:
    changes = Changes()
    for url, record in after.items():
        old = before.get(url)
        if old is None:
            changes.new.append(url)
            continue
        diffs = [(f, old.get(f), record.get(f)) for f in COMPARED if old.get(f) != record.get(f)]
        if diffs:
            changes.articles[url] = diffs
    return changes


def would_change(before: dict[str, dict[str, Any]], records: Iterable[ArticleRecord]) -> Changes:
    """The dry run's answer: each replayed article against what is stored for its URL."""
    by_url = {u: record for record in before.values() for u in record.get("urls") or []}
    by_url.update(before)
    changes = Changes()
    for record in records:
        old = by_url.get(record.url)
        if old is None:
            changes.new.append(record.url)
            continue
        new = {name: getattr(record, name) for name in _FROM_RECORD}
        new["published_at"] = _iso(record.published_at)
        diffs = [(f, old.get(f), new[f]) for f in _FROM_RECORD if old.get(f) != new[f]]
        if diffs:
            changes.articles[old["url"]] = diffs
    return changes


def _iso(moment: dt.datetime | None) -> str | None:
    return moment.astimezone(SITE_TZ).isoformat() if moment else None


def describe(value: Any, width: int = 70) -> str:
    text = repr(value)
    return text if len(text) <= width else text[: width - 1] + "…"
