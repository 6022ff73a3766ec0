"""What storage is handed to write: typed, immutable records (storage knows nothing of
Scrapy items). ``pipelines/persist.py`` builds them from items; the writer process writes
them in batches (``storage/batch.py``); only a record that could not be written is turned
into JSON, for the spool (``to_json`` / ``from_json``).

Every record carries ``at``: when the crawl saw what it says (an aware UTC moment).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import asdict, dataclass, fields
from typing import Any, Literal

__all__ = [
    "ArticleRecord",
    "ForgetLinksRecord",
    "ListingRecord",
    "PageStatusRecord",
    "Record",
    "SuspectRecord",
    "WalkRecord",
    "from_json",
    "record_url",
    "to_json",
]


@dataclass(frozen=True, slots=True)
class ArticleRecord:
    """A clean article, ready to store (the data contract's fields)."""

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
    listing_title: str | None = None
    """The headline the listing linked it with: two URLs whose listing titles differ are
    never merged as one article, whatever their pages say."""
    etag: str | None = None
    last_modified: str | None = None
    revision_reason: str | None = None
    """Kept on the revision this record causes: None for a crawl, ``reextract``…"""
    at: dt.datetime | None = None
    review: str | None = None
    """Stored although the suspect rules refuse it (why): flagged for review."""
    layout_version: str | None = None
    """The site layout that extracted it (storage/layouts.py)."""


@dataclass(frozen=True, slots=True)
class ListingRecord:
    """A category listing page links these URLs, with the day it lists each under."""

    category_slug: str
    category_name: str | None
    links: tuple[tuple[str, dt.date | None], ...]
    at: dt.datetime


@dataclass(frozen=True, slots=True)
class PageStatusRecord:
    """A fetched page that gave no article: 304 (unchanged) or 404 (gone)."""

    url: str
    status: int
    at: dt.datetime


@dataclass(frozen=True, slots=True)
class WalkRecord:
    """A crawl began (``started``) or properly ended (``completed``) walking a listing."""

    category_slug: str
    category_name: str | None
    event: Literal["started", "completed"]
    at: dt.datetime


@dataclass(frozen=True, slots=True)
class ForgetLinksRecord:
    """Unresolved links a listing no longer shows: stop waiting for them."""

    category_slug: str
    urls: tuple[str, ...]
    at: dt.datetime


@dataclass(frozen=True, slots=True)
class SuspectRecord:
    """The suspect rules refused this page, with this content, in this run."""

    url: str
    content_hash: str
    reason: str
    at: dt.datetime


Record = (
    ArticleRecord
    | ListingRecord
    | PageStatusRecord
    | WalkRecord
    | ForgetLinksRecord
    | SuspectRecord
)

_KINDS: dict[str, type[Any]] = {
    "article": ArticleRecord,
    "listing": ListingRecord,
    "status": PageStatusRecord,
    "walk": WalkRecord,
    "forget": ForgetLinksRecord,
    "suspect": SuspectRecord,
}
_KIND_OF = {cls: kind for kind, cls in _KINDS.items()}


def record_url(record: Record) -> str:
    """What a record is about, for logs."""
    if isinstance(record, ListingRecord):
        return f"{record.category_slug} listing page of {len(record.links)} links"
    if isinstance(record, WalkRecord | ForgetLinksRecord):
        return f"{record.category_slug} listing walk"
    return record.url


def _encode(value: Any) -> Any:
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    if isinstance(value, tuple | list):
        return [_encode(v) for v in value]
    return value


def to_json(record: Record) -> dict[str, Any]:
    """A JSON-able dict for the spool."""
    data = {key: _encode(value) for key, value in asdict(record).items()}
    return {"kind": _KIND_OF[type(record)], **data}


def from_json(data: dict[str, Any]) -> Record:
    """The record a spool line holds; ValueError/KeyError/TypeError when it is not one."""
    cls = _KINDS[data["kind"]]
    values = {f.name: data[f.name] for f in fields(cls) if f.name in data}
    if "at" in values and values["at"] is not None:
        values["at"] = dt.datetime.fromisoformat(values["at"])
    if cls is ArticleRecord and values.get("published_at") is not None:
        values["published_at"] = dt.datetime.fromisoformat(values["published_at"])
    if cls is ListingRecord:
        values["links"] = tuple(
            (str(url), dt.date.fromisoformat(day) if day else None) for url, day in values["links"]
        )
    if cls is ForgetLinksRecord:
        values["urls"] = tuple(values["urls"])
    return cls(**values)  # type: ignore[no-any-return]  # cls is one of RECORD_TYPES
