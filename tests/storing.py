"""Single writes for tests: the batch writer (``storage/batch.py``) with a batch of one,
in the caller's transaction (``with db.sessions.begin() as session``)."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

from sqlalchemy import select

from storage.batch import BatchWriter
from storage.models import ArticleUrl
from storage.records import (
    ArticleRecord,
    ForgetLinksRecord,
    ListingRecord,
    PageStatusRecord,
    WalkRecord,
)
from storage.repository import Repository

if TYPE_CHECKING:
    from collections.abc import Iterable, Sequence

    from sqlalchemy.orm import Session

    from storage.batch import Outcome


def store(session: Session, record: ArticleRecord, now: dt.datetime) -> Outcome:
    """Store one article per the spec's dedupe rules; return what happened."""
    outcome = BatchWriter(session).write([record], now)[0]
    assert outcome is not None
    return outcome


def record_listings(
    session: Session,
    slug: str,
    name: str | None,
    links: Sequence[tuple[str, dt.date | None]],
    now: dt.datetime,
) -> None:
    BatchWriter(session).write([ListingRecord(slug, name, tuple(links), now)], now)


def begin_walk(session: Session, slug: str, name: str | None, now: dt.datetime) -> bool:
    """A crawl starts walking this listing; True when the previous walk ended properly."""
    resumable = Repository(session).walk_resumable(slug)
    BatchWriter(session).write([WalkRecord(slug, name, "started", now)], now)
    return resumable


def complete_walk(session: Session, slug: str, now: dt.datetime) -> None:
    BatchWriter(session).write([WalkRecord(slug, None, "completed", now)], now)


def forget_listing_urls(session: Session, slug: str, urls: Iterable[str]) -> None:
    now = dt.datetime.now(dt.UTC)
    BatchWriter(session).write([ForgetLinksRecord(slug, tuple(urls), now)], now)


def record_page(session: Session, url: str, status: int, now: dt.datetime) -> None:
    """A page that answered `status` (404, 410: gone) and holds no article."""
    BatchWriter(session).write([PageStatusRecord(url, status, now)], now)


def touch(session: Session, url: str, now: dt.datetime) -> bool:
    """The page at `url` did not change (304): only its last-seen time moves."""
    found = session.scalar(select(ArticleUrl.id).where(ArticleUrl.url == url))
    BatchWriter(session).write([PageStatusRecord(url, 304, now)], now)
    return found is not None
