"""Two writers at once (two workers): one stores a listing's link, the other the article at
that URL. Each transaction writes its own row, then links categories; under READ COMMITTED
neither saw the other's uncommitted row, and the article never got the listing's
category (seen as a flaky three-worker redesign test). Linking is now one writer at a
time, and the second to link sees the first's rows, whichever committed first."""

from __future__ import annotations

import datetime as dt
import threading
from typing import TYPE_CHECKING

import pytest
from sqlalchemy import select

from storage.batch import BatchWriter
from storage.db import Database
from storage.models import ArticleCategory, ArticleUrl, Category
from storage.records import ArticleRecord, ListingRecord, Record

if TYPE_CHECKING:
    from collections.abc import Iterator

pytestmark = pytest.mark.postgres

AT = dt.datetime(2026, 12, 1, 8, 0, tzinfo=dt.UTC)
URL = "http://127.0.0.1:8000/news/jxal/2025/0718/1030.html"
ARTICLE = ArticleRecord(
    url=URL,
    title="直播电商的教学案例",
    body="正文。" * 80,
    published_at=AT,
    date_precision="minute",
    source="联商网",
    source_title=None,
    author=None,
    category_slug="jxal",
    category_name="教学案例",
    at=AT,
)
LISTING = ListingRecord("rdjj", "热点聚焦", ((URL, AT.date()),), AT)
CATEGORIES = (("jxal", "教学案例"), ("rdjj", "热点聚焦"))


@pytest.fixture
def db(postgres_url: str) -> Iterator[Database]:
    database = Database(postgres_url)
    yield database
    database.dispose()


def _categories(db: Database) -> set[str]:
    with db.sessions() as session:
        return set(
            session.scalars(
                select(Category.slug)
                .join(ArticleCategory, ArticleCategory.category_id == Category.id)
                .join(ArticleUrl, ArticleUrl.article_id == ArticleCategory.article_id)
                .where(ArticleUrl.url == URL)
            )
        )


@pytest.mark.parametrize(
    ("first", "second"),
    [([LISTING], [ARTICLE]), ([ARTICLE], [LISTING])],
    ids=["listing-then-article", "article-then-listing"],
)
def test_concurrent_listing_and_article_writers_link_the_category(
    db: Database, first: list[Record], second: list[Record]
) -> None:
    with db.sessions.begin() as session:  # both categories exist, as after any first run
        empty = [ListingRecord(slug, name, (), AT) for slug, name in CATEGORIES]
        BatchWriter(session).write(empty, AT)
    done = threading.Event()
    errors: list[BaseException] = []

    def other_writer() -> None:
        try:
            with db.sessions.begin() as session:
                BatchWriter(session).write(second, AT)
        except BaseException as error:  # noqa: BLE001 -- reported by the test thread
            errors.append(error)
        finally:
            done.set()

    with db.sessions.begin() as session:
        BatchWriter(session).write(first, AT)  # written, linked, not committed
        thread = threading.Thread(target=other_writer, name="other-writer", daemon=True)
        thread.start()
        # The other writer's rows go in side by side; its linking waits for this commit.
        assert not done.wait(1.0), "the second writer linked before the first committed"
    assert done.wait(30), "the second writer never finished"
    thread.join(5)
    assert not errors, errors
    assert _categories(db) == {"jxal", "rdjj"}
