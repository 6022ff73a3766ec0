"""The search index stays in step with the articles; the search and check commands."""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import replace
from typing import TYPE_CHECKING

import pytest
from alembic import command
from sqlalchemy import select

from storage.batch import content_hash, dedupe_key
from storage.db import Database, alembic_config, make_engine, upgrade
from storage.models import Article
from storage.records import ArticleRecord
from storage.search import index_articles, index_counts, search
from tests import storing
from tests.conftest import ecnews
from tests.searchdata import fill

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

T0 = dt.datetime(2025, 8, 23, 6, 0, tzinfo=dt.UTC)
RECORD = ArticleRecord(
    url="http://news.example/news/rdjj/2025/0822/9001.html",
    title="跨境电商卖家布局海外仓",
    body="今年直播带货的GMV增长明显。\n旧版本提到了冷链物流。",
    published_at=dt.datetime(2025, 8, 22, 2, 30, tzinfo=dt.UTC),
    date_precision="minute",
    source="联商网",
    source_title=None,
    author=None,
    category_slug="rdjj",
    category_name="热点聚焦",
)
EDITED = replace(RECORD, body="今年直播带货的GMV增长明显。\n新版本改谈无人机配送。")


@pytest.fixture
def db(database_url: str) -> Iterator[Database]:
    database = Database(database_url)
    yield database
    database.dispose()


def store(db: Database, record: ArticleRecord, at: dt.datetime = T0) -> None:
    with db.sessions.begin() as session:
        storing.store(session, record, at)


def found(db: Database, query: str) -> list[str]:
    with db.sessions() as session:
        return [hit.url for hit in search(session, query)]


def counts(db: Database) -> tuple[int, int, int]:
    with db.sessions() as session:
        return index_counts(session)


def test_insert_is_indexed(db: Database) -> None:
    store(db, RECORD)
    for query in ("跨境电商", "海外仓", "直播带货 gmv", "冷链"):
        assert found(db, query) == [RECORD.url], query
    assert counts(db) == (1, 1, 0)


def test_edit_is_found_by_new_words_not_old(db: Database) -> None:
    store(db, RECORD)
    store(db, EDITED, T0 + dt.timedelta(hours=1))
    assert found(db, "无人机配送") == [RECORD.url]
    assert found(db, "冷链物流") == []
    assert found(db, "直播带货") == [RECORD.url]
    assert counts(db) == (1, 1, 0)


def test_merge_keeps_one_row(db: Database) -> None:
    store(db, RECORD)
    store(db, replace(RECORD, url="http://news.example/news/zcfg/2025/0822/9002.html"))
    assert found(db, "海外仓") == [RECORD.url]
    assert counts(db) == (1, 1, 0)


def test_rolled_back_article_leaves_no_row(db: Database) -> None:
    def store_then_fail() -> None:
        with db.sessions.begin() as session:
            storing.store(session, RECORD, T0)
            raise RuntimeError("the transaction fails after the write")

    with pytest.raises(RuntimeError):
        store_then_fail()
    assert counts(db) == (0, 0, 0)
    assert found(db, "海外仓") == []


def test_index_articles_takes_many_ids_and_drops_deleted(db: Database) -> None:
    fill(db)
    with db.sessions.begin() as session:
        ids = list(session.scalars(select(Article.id)))
        index_articles(session, ids)
        session.delete(session.get_one(Article, ids[0]))
        session.flush()
        index_articles(session, ids[:1])
    assert counts(db) == (len(ids) - 1, len(ids) - 1, 0)


def test_migration_builds_rows_for_stored_articles(database_url: str) -> None:
    engine = make_engine(database_url)
    try:
        config = alembic_config(database_url)
        with engine.begin() as connection:
            config.attributes["connection"] = connection
            command.upgrade(config, "0002")
        with engine.begin() as connection:
            hash_ = content_hash(RECORD.body)
            connection.execute(
                Article.__table__.insert(),
                {
                    "url": RECORD.url,
                    "title": RECORD.title,
                    "body": RECORD.body,
                    "content_hash": hash_,
                    "dedupe_key": dedupe_key(hash_, RECORD.title),
                    "first_seen_at": T0,
                    "updated_at": T0,
                    "last_seen_at": T0,
                },
            )
        upgrade(engine)
    finally:
        engine.dispose()
    database = Database(database_url)
    try:
        assert counts(database) == (1, 1, 0)
        assert found(database, "海外仓") == [RECORD.url]
    finally:
        database.dispose()


@pytest.mark.process
def test_search_command(database_url: str, tmp_path: Path) -> None:
    database = Database(database_url)
    fill(database)
    database.dispose()
    result = ecnews(
        "search", "即时零售", "--format", "jsonl", "--category", "zcfg", "--since", "2025-08-01",
        database_url=database_url, tmp_path=tmp_path,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    hits = [json.loads(line) for line in result.stdout.splitlines()]
    assert hits
    for hit in hits:
        assert "«即时零售»" in hit["snippet"]
        assert hit["published_at"] >= "2025-08-01T00:00:00+08:00"
        assert hit["published_at"].endswith("+08:00")
        assert "/news/zcfg/" in hit["url"]
    table = ecnews("search", "即时零售", database_url=database_url, tmp_path=tmp_path)
    assert table.returncode == 0, table.stderr
    assert hits[0]["url"] in table.stdout
    check = ecnews("db", "check", database_url=database_url, tmp_path=tmp_path)
    assert check.returncode == 0, check.stderr
    assert "articles 30, search index rows 30, articles not indexed 0" in check.stdout


@pytest.mark.process
@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (("search", "电商"), 1, "no database at"),
        (("db", "check"), 1, "no database at"),
        (("export", "--format", "atom"), 1, "no database at"),
        (("serve",), 1, "no database at"),
        (("search", "，。"), 2, "nothing to search for"),
        (("search", "电商", "--limit", "0"), 2, "'0': must be a whole number, at least 1"),
    ],
    ids=["search", "check", "atom", "serve", "no-words", "limit"],
)
def test_user_mistakes(tmp_path: Path, args: tuple[str, ...], code: int, message: str) -> None:
    result = ecnews(*args, database_url=f"sqlite:///{tmp_path / 'none.db'}", tmp_path=tmp_path)
    assert result.returncode == code
    assert message in result.stderr
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "none.db").exists()


@pytest.mark.process
def test_serve_refuses_postgresql(tmp_path: Path) -> None:
    result = ecnews("serve", database_url="postgresql://u@127.0.0.1:1/x", tmp_path=tmp_path)
    assert result.returncode == 2
    assert result.stderr.strip() == (
        "ecnews serve: the web view reads SQLite only; DATABASE_URL is not a SQLite database"
    )
