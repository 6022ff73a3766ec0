"""Dedupe, merge, revisions and listings (written through the batch writer) and the
crawl's reads (``Repository``), in a real SQLite file and a real PostgreSQL."""

from __future__ import annotations

import datetime as dt
import threading
from dataclasses import replace
from typing import TYPE_CHECKING

import pytest
from sqlalchemy import func, select

from storage.batch import Outcome, content_hash
from storage.db import Database
from storage.export import export_records
from storage.models import Article, ArticleCategory, ArticleUrl, Listing, Revision
from storage.records import ArticleRecord
from storage.repository import Repository
from storage.writer import RETRYABLE
from tests import storing

if TYPE_CHECKING:
    from collections.abc import Iterator

T0 = dt.datetime(2025, 8, 23, 6, 0, tzinfo=dt.UTC)
T1 = T0 + dt.timedelta(hours=1)
SITE = "http://news.example"

RECORD = ArticleRecord(
    url=f"{SITE}/news/rdjj/2025/0822/1001.html",
    title="标题",
    body="第一段。\n第二段。",
    published_at=dt.datetime(2025, 8, 22, 2, 30, tzinfo=dt.UTC),
    date_precision="minute",
    source="联商网",
    source_title=None,
    author=None,
    category_slug="rdjj",
    category_name="热点聚焦",
)


@pytest.fixture
def db(database_url: str) -> Iterator[Database]:
    database = Database(database_url)
    yield database
    database.dispose()


def store(db: Database, record: ArticleRecord, at: dt.datetime = T0) -> Outcome:
    with db.sessions.begin() as session:
        return storing.store(session, record, at)


def count(db: Database, model: type) -> int:
    with db.sessions() as session:
        return int(session.scalar(select(func.count()).select_from(model)) or 0)


def test_new_article_is_stored_once(db: Database) -> None:
    assert store(db, RECORD) is Outcome.NEW
    assert store(db, RECORD, T1) is Outcome.UNCHANGED
    assert count(db, Article) == 1
    assert count(db, ArticleUrl) == 1
    assert count(db, Revision) == 0


def test_unchanged_recrawl_moves_only_last_seen(db: Database) -> None:
    store(db, RECORD)
    store(db, RECORD, T1)
    with db.sessions() as session:
        article = session.scalars(select(Article)).one()
    assert article.first_seen_at == T0
    assert article.updated_at == T0
    assert article.last_seen_at == T1


def test_same_content_under_another_url_becomes_an_alias(db: Database) -> None:
    store(db, RECORD)
    copy = replace(
        RECORD,
        url=f"{SITE}/news/zcfg/2025/0822/2001.html",
        category_slug="zcfg",
        category_name="政策法规",
    )
    assert store(db, copy, T1) is Outcome.MERGED
    with db.sessions() as session:
        (record,) = export_records(session)
    assert record["url"] == RECORD.url
    assert record["urls"] == [RECORD.url, copy.url]
    assert record["categories"] == ["政策法规", "热点聚焦"]


def test_white_space_alone_does_not_make_a_different_article(db: Database) -> None:
    assert content_hash("第一段。\n第二段。") == content_hash("第一段。 第二段。")


def test_edited_article_is_updated_in_place_and_keeps_a_revision(db: Database) -> None:
    store(db, RECORD)
    edited = replace(RECORD, title="新标题", body="改过的正文。")
    assert store(db, edited, T1) is Outcome.UPDATED
    with db.sessions() as session:
        article = session.scalars(select(Article)).one()
        revision = session.scalars(select(Revision)).one()
    assert (article.title, article.body, article.updated_at) == ("新标题", "改过的正文。", T1)
    assert article.first_seen_at == T0
    assert (revision.title, revision.body) == (RECORD.title, RECORD.body)
    assert (revision.valid_from, revision.replaced_at) == (T0, T1)
    assert revision.source_name == "联商网"


def test_listing_links_categories_whichever_comes_first(db: Database) -> None:
    other = f"{SITE}/news/jxal/2025/0822/1001.html"
    day = dt.date(2025, 8, 22)
    with db.sessions.begin() as session:
        storing.record_listings(session, "sjbg", "数据报告", [(RECORD.url, day)], T0)
    store(db, RECORD)
    with db.sessions.begin() as session:
        storing.record_listings(session, "zcfg", "政策法规", [(RECORD.url, day)], T0)
        storing.record_listings(session, "jxal", "教学案例", [(other, day)], T0)
    with db.sessions() as session:
        (record,) = export_records(session)
    assert record["categories"] == ["政策法规", "数据报告", "热点聚焦"]
    assert count(db, ArticleCategory) == 3


def test_known_listing_urls_need_same_date_and_a_resolution(db: Database) -> None:
    gone = f"{SITE}/news/sjbg/2025/0708/1013.html"
    unresolved = f"{SITE}/news/sjbg/2025/0708/1014.html"
    day = dt.date(2025, 8, 22)
    store(db, RECORD)
    with db.sessions.begin() as session:
        for url in (RECORD.url, gone, unresolved):
            storing.record_listings(session, "rdjj", "热点聚焦", [(url, day)], T0)
        storing.record_page(session, gone, 404, T0)
    with db.sessions() as session:
        repo = Repository(session)
        links = [(RECORD.url, day), (gone, day), (unresolved, day)]
        assert repo.known_listing_urls("rdjj", links) == {RECORD.url, gone}
        assert repo.known_listing_urls("rdjj", [(RECORD.url, dt.date(2025, 8, 23))]) == set()
        assert repo.known_listing_urls("sjbg", [(RECORD.url, day)]) == set()
    assert count(db, Listing) == 3


def test_validators_and_touch(db: Database) -> None:
    store(db, replace(RECORD, etag='"abc"', last_modified="Fri, 22 Aug 2025 02:30:00 GMT"))
    with db.sessions.begin() as session:
        assert Repository(session).validators([RECORD.url, f"{SITE}/x.html"]) == {
            RECORD.url: ('"abc"', "Fri, 22 Aug 2025 02:30:00 GMT")
        }
        assert storing.touch(session, RECORD.url, T1)
        assert not storing.touch(session, f"{SITE}/unknown.html", T1)
    with db.sessions() as session:
        assert session.scalars(select(Article.last_seen_at)).one() == T1


def test_a_gone_article_is_never_deleted(db: Database) -> None:
    store(db, RECORD)
    with db.sessions.begin() as session:
        storing.record_page(session, RECORD.url, 404, T1)
    assert count(db, Article) == 1


def test_concurrent_writers_store_one_article(db: Database) -> None:
    """Eight threads store the same article (some under other URLs) at once."""
    errors: list[BaseException] = []
    barrier = threading.Barrier(8)

    def worker(index: int) -> None:
        record = replace(RECORD, url=f"{SITE}/news/rdjj/2025/0822/{1001 + index % 2}.html")
        barrier.wait()
        for _ in range(20):
            try:
                store(db, record)
            except RETRYABLE:
                continue  # lost the race, as PersistPipeline does: retry and see the winner
            except Exception as error:  # noqa: BLE001  # reported below
                errors.append(error)
            return

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    assert count(db, Article) == 1
    assert count(db, ArticleUrl) == 2


def test_walk_state_tells_whether_the_previous_walk_ended(db: Database) -> None:
    with db.sessions.begin() as session:
        assert not storing.begin_walk(session, "rdjj", "热点聚焦", T0)  # never walked
    with db.sessions.begin() as session:
        assert not storing.begin_walk(session, "rdjj", "热点聚焦", T1)  # cut short
        storing.complete_walk(session, "rdjj", T1)
    with db.sessions.begin() as session:
        later = T1 + dt.timedelta(hours=1)
        assert storing.begin_walk(session, "rdjj", "热点聚焦", later)


def test_pending_links_are_the_unresolved_ones_and_can_be_forgotten(db: Database) -> None:
    day = dt.date(2025, 8, 22)
    failed = f"{SITE}/news/rdjj/2025/0822/1002.html"
    gone = f"{SITE}/news/rdjj/2025/0822/1003.html"
    store(db, RECORD)
    with db.sessions.begin() as session:
        repo = Repository(session)
        for url in (RECORD.url, failed, gone):
            storing.record_listings(session, "rdjj", "热点聚焦", [(url, day)], T0)
        storing.record_page(session, gone, 404, T0)
        assert repo.pending_listing_urls("rdjj") == {failed}
        assert repo.pending_listing_urls("zcfg") == set()
        storing.forget_listing_urls(session, "rdjj", {failed, RECORD.url})
        assert repo.pending_listing_urls("rdjj") == set()
    assert count(db, Listing) == 2  # the stored article's listing row stays


def test_a_rolled_back_source_id_is_not_reused(db: Database) -> None:
    """Ids of sources and categories are cached only once committed."""
    record = replace(RECORD, source="只在回滚里出现的来源")
    with db.sessions() as session, session.begin():
        storing.store(session, record, T0)
        session.rollback()
    assert store(db, record) is Outcome.NEW  # a stale cached id would break the foreign key
    with db.sessions() as session:
        (exported,) = export_records(session)
    assert exported["source"] == "只在回滚里出现的来源"
