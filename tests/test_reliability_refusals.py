"""A refusal by the suspect rules is not permanent: the run that meets the same page with
the same content for the NEWS_SUSPECT_ACCEPT_AFTER_RUNS-th time stores it, flagged for
review, and the runs stop failing for it. A wrong rule costs a delay, never an article."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

import pytest
from scrapy.statscollectors import MemoryStatsCollector
from scrapy.utils.test import get_crawler
from sqlalchemy import select

from crawler import settings
from crawler.exitcodes import EXIT_FAILED, EXIT_OK
from pipelines.items import ArticleItem
from pipelines.suspect import SuspectPageDropped, SuspectPagePipeline
from storage.batch import BatchWriter
from storage.db import Database
from storage.models import SuspectPage
from storage.records import ArticleRecord, SuspectRecord
from tests.conftest import SITE, ecnews
from tests.gold import load_jsonl
from tests.siteserver import SiteServer
from tests.test_reliability_soft_errors import _overlay, _serve, busy_page
from tests.test_reliability_support import crawl, last_run, latest_run_cell

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

URL = "http://news.example/news/rdjj/2025/0901/9001.html"
T0 = dt.datetime(2025, 9, 1, 2, 0, tzinfo=dt.UTC)
BUSY = "系统繁忙"


def _busy_item() -> ArticleItem:
    return ArticleItem(
        url=URL,
        category_slug="rdjj",
        category_name="热点聚焦",
        listing_title="直播电商新规落地，平台责任进一步压实",
        title_raw=BUSY,
        title=BUSY,
        body="系统繁忙，请稍后再试。",
    )


@pytest.fixture
def db(database_url: str) -> Iterator[Database]:
    database = Database(database_url)
    yield database
    database.dispose()


def _write(db: Database, record: ArticleRecord | SuspectRecord) -> None:
    with db.sessions.begin() as session:
        BatchWriter(session).write([record], T0)


def _run(db: Database) -> SuspectPagePipeline:
    """The suspect pipeline of a new run (it reads what earlier runs refused)."""
    pipeline = SuspectPagePipeline(
        MemoryStatsCollector(get_crawler()),
        min_body_chars=settings.NEWS_MIN_BODY_CHARS,
        accept_after=3,
        database_url=db.url,
    )
    pipeline.open_spider()
    return pipeline


def test_the_third_run_stores_a_refused_page_for_review(db: Database) -> None:
    for _ in range(2):
        with pytest.raises(SuspectPageDropped) as refused:
            _run(db).process_item(_busy_item())
        drop = refused.value
        _write(db, SuspectRecord(drop.url, drop.content_hash, drop.reason, T0))
    item = _busy_item()
    pipeline = _run(db)
    assert pipeline.process_item(item) is item
    assert item.review_reason == "headline_mismatch"
    assert pipeline.stats.get_value("news/article/suspect_stored") == 1
    assert not pipeline.stats.get_value("news/article/suspect")
    record = ArticleRecord(
        URL, BUSY, item.body or "", None, None, None, None, None, at=T0, review=item.review_reason
    )
    _write(db, record)
    with db.sessions() as session:
        row = session.get_one(SuspectPage, URL)
        assert (row.times, row.stored_at) == (2, T0)


def test_other_content_starts_the_count_again(db: Database) -> None:
    for content in ("a", "a", "b"):
        _write(db, SuspectRecord(URL, content, "short_body", T0))
    with db.sessions() as session:
        assert session.get_one(SuspectPage, URL).times == 1
    with pytest.raises(SuspectPageDropped):
        _run(db).process_item(_busy_item())  # its hash is neither


@pytest.mark.slow
def test_runs_stop_failing_once_the_refused_pages_are_stored(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'ecnews.db'}"
    gold_v1, gold_v2 = load_jsonl(SITE / "gold-v1.jsonl"), load_jsonl(SITE / "gold-v2.jsonl")
    new = {url for r in gold_v2 for url in r["urls"]} - {url for r in gold_v1 for url in r["urls"]}
    accept = ("-s", "NEWS_SUSPECT_ACCEPT_AFTER_RUNS=2")
    with SiteServer(SITE, "v1") as site:
        assert crawl(site, db, tmp_path).returncode == EXIT_OK
        notice = busy_page("v2")
        _serve(site, "v2", _overlay(tmp_path, {url.lstrip("/"): notice for url in new}))
        refused = crawl(site, db, tmp_path, *accept)
        assert refused.returncode == EXIT_FAILED, refused.stderr[-3000:]
        stored = crawl(site, db, tmp_path, *accept)
        assert stored.returncode == EXIT_OK, stored.stderr[-3000:]
    assert (last_run(db).stats or {}).get("news/article/suspect_stored") == len(new)
    database = Database(db)
    try:
        with database.sessions() as session:
            flagged = session.scalars(select(SuspectPage).where(SuspectPage.stored_at.is_not(None)))
            assert len(flagged.all()) == len(new)
    finally:
        database.dispose()
    shown = ecnews("runs", database_url=db, tmp_path=tmp_path)
    assert latest_run_cell(shown.stdout, "review") == str(len(new))
