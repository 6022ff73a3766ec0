"""Database faults: SQLite busy, PostgreSQL restarting or gone mid-crawl.

Writes are retried with backoff; what still cannot be written is spooled to disk, the
run exits 1, and the next run writes the spool before it crawls. Nothing fetched is
silently dropped. The spool itself survives a crash mid-append.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import sqlite3
import threading
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import pytest
from scrapy.utils.test import get_crawler
from sqlalchemy import select
from sqlalchemy.engine import make_url

from crawler.exitcodes import EXIT_FAILED, EXIT_OK
from pipelines.items import (
    ArticleItem,
    ForgetLinksItem,
    ListingItem,
    PageStatusItem,
    WalkCompleteItem,
    WalkStartedItem,
)
from pipelines.persist import PersistPipeline, to_record
from storage.batch import BatchWriter
from storage.db import Database
from storage.models import Article, ArticleUrl
from storage.records import from_json, to_json
from storage.spool import Replayed, Spool
from tests.conftest import SITE, postgres_database, project_settings
from tests.gold import compare, load_jsonl
from tests.siteserver import SiteServer
from tests.test_reliability_support import (
    TcpProxy,
    crawl,
    export,
    last_run,
    start_crawl,
)

if TYPE_CHECKING:
    import subprocess
    from collections.abc import Callable
    from pathlib import Path

    from tests.siteserver import LoggedRequest

GOLD = load_jsonl(SITE / "gold-v1.jsonl")
T0 = dt.datetime(2025, 9, 1, 2, 0, tzinfo=dt.UTC)
URL = "http://news.example/news/rdjj/2025/0901/9001.html"
PASSWORD = "S3cret-pa55word-never-logged"


def article(url: str = URL, title: str = "标题", body: str = "正文。") -> ArticleItem:
    return ArticleItem(
        url=url,
        category_slug="rdjj",
        category_name="热点聚焦",
        page_urls=[url],
        title=title,
        body=body,
        published_at=T0,
        date_precision="day",
        source="测试网",
    )


def pipeline(
    db: str, tmp_path: Path, *, attempts: int = 2, batch: int = 1, **settings: Any
) -> PersistPipeline:
    """The real pipeline with its writer process, opened (the spool replayed)."""
    crawler = get_crawler(
        settings_dict=project_settings(
            DATABASE_URL=db,
            PERSIST_ATTEMPTS=attempts,
            PERSIST_BACKOFF=0.01,
            PERSIST_SPOOL_DIR=str(tmp_path),
            PERSIST_BATCH_SIZE=batch,
            PERSIST_BATCH_SECONDS=0.05,
            PERSIST_STALL_TIMEOUT=30,
            **settings,
        )
    )
    persist = PersistPipeline.from_crawler(crawler)
    persist.open_spider()
    assert persist.writer is not None
    persist.writer.submit([]).result(60)  # the writer process is up and connected
    return persist


def feed(persist: PersistPipeline, *items: Any) -> None:
    """Hand the items to the pipeline as a crawl would, then close it."""

    async def run() -> None:
        for item in items:
            assert await persist.process_item(item) is item  # never raises: spooled
        await persist.close_spider()

    asyncio.run(run())


def close(persist: PersistPipeline) -> None:
    feed(persist)


def stored_titles(db: str) -> dict[str, str]:
    database = Database(db)
    try:
        with database.sessions() as session:
            return dict(session.execute(select(ArticleUrl.url, Article.title).join(Article)).all())
    finally:
        database.dispose()


# -- the spool -------------------------------------------------------------------------


def _entries(spool: Spool) -> list[dict[str, Any]]:
    """What the spool holds, without replaying it."""
    lines = spool.path.read_text("utf-8").splitlines() if spool.path.exists() else []
    return [json.loads(line) for line in lines]


def test_spool_replays_in_order_and_forgets_what_was_written(tmp_path: Path) -> None:
    spool = Spool(tmp_path, "sqlite:///x.db")
    for n in range(5):
        spool.append({"n": n})
    assert len(spool) == 5
    outcomes = {0: Replayed.DONE, 1: Replayed.DONE, 2: Replayed.STOP}
    result = spool.replay(lambda entry: outcomes.get(entry["n"], Replayed.DONE))
    assert (result.done, result.kept) == (2, 3)
    # Kept: from the stop on, everything, in order.
    assert [e["n"] for e in _entries(spool)] == [2, 3, 4]
    spool.replay(lambda entry: Replayed.DONE)
    assert not spool.path.exists()


def test_spool_keeps_everything_not_written_when_the_writer_raises(tmp_path: Path) -> None:
    spool = Spool(tmp_path, "sqlite:///x.db")
    for n in range(3):
        spool.append({"n": n})

    def write(entry: dict[str, Any]) -> Replayed:
        if entry["n"] == 1:
            raise RuntimeError("boom")
        return Replayed.DONE

    with pytest.raises(RuntimeError):
        spool.replay(write)
    assert [e["n"] for e in _entries(spool)] == [1, 2]


def test_a_torn_line_is_set_aside_and_nothing_else_is_lost(tmp_path: Path) -> None:
    spool = Spool(tmp_path, "sqlite:///x.db")
    spool.append({"n": 0})
    with spool.path.open("a") as handle:
        handle.write('{"n": 1, "tit')  # SIGKILL in the middle of an append
    spool.append({"n": 2})
    result = spool.replay(lambda entry: Replayed.DONE)
    assert (result.done, result.unreadable) == (2, 1)
    rejected = [json.loads(line) for line in spool.rejected_path.read_text().splitlines()]
    assert rejected == [{"reason": "unreadable", "line": '{"n": 1, "tit'}]


def test_a_spool_belongs_to_one_database_whatever_its_password(tmp_path: Path) -> None:
    one = Spool(tmp_path, "postgresql+psycopg://ecnews:first@db/ecnews")
    same = Spool(tmp_path, "postgresql+psycopg://ecnews:second@db/ecnews")
    other = Spool(tmp_path, "postgresql+psycopg://ecnews:first@db/other")
    assert one.path == same.path != other.path
    assert "first" not in str(one.path)


# -- the pipeline, in process ----------------------------------------------------------


# SQLite waits 30 s for a lock; a test waits 0.1 s.
QUICK_BUSY_TIMEOUT = {"DATABASE_SQLITE_BUSY_TIMEOUT": 0.1}


def _hold_sqlite_lock(path: Path) -> sqlite3.Connection:
    holder = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    holder.execute("BEGIN EXCLUSIVE")
    return holder


@pytest.mark.process
def test_sqlite_locked_beyond_retries_spools_and_the_next_run_writes(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'locked.db'}"
    Database(db).dispose()  # schema first
    first = pipeline(db, tmp_path / "spool", **QUICK_BUSY_TIMEOUT)
    holder = _hold_sqlite_lock(tmp_path / "locked.db")
    try:
        feed(first, article(), ListingItem("rdjj", "热点聚焦", [(URL, "2025-09-01")]))
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    stats = first.stats.get_stats()
    assert stats["pipeline/persist/failed"] == 2
    assert stats["pipeline/persist/spooled"] == 2
    assert stats["pipeline/persist/retried"] == 1, "the second write tried once: db unavailable"
    assert stored_titles(db) == {}
    assert first.spool is not None
    assert len(first.spool) == 2

    second = pipeline(
        db, tmp_path / "spool", **QUICK_BUSY_TIMEOUT
    )  # the next run: replays before crawling
    close(second)
    assert second.stats.get_value("pipeline/persist/replayed") == 2
    assert not second.stats.get_value("pipeline/persist/failed")
    assert stored_titles(db) == {URL: "标题"}
    assert second.spool is not None
    assert not second.spool.path.exists()


@pytest.mark.process
def test_sqlite_briefly_locked_is_retried_and_written(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'busy.db'}"
    persist = pipeline(db, tmp_path / "spool", attempts=5, **QUICK_BUSY_TIMEOUT)
    holder = _hold_sqlite_lock(tmp_path / "busy.db")
    threading.Timer(0.25, lambda: holder.execute("ROLLBACK")).start()
    feed(persist, article())
    holder.close()
    assert persist.stats.get_value("pipeline/persist/retried", 0) >= 1
    assert persist.stats.get_value("pipeline/persist/new") == 1
    assert not persist.stats.get_value("pipeline/persist/failed")


@pytest.mark.process
def test_a_replayed_entry_older_than_the_database_is_stale(
    database_url: str, tmp_path: Path
) -> None:
    persist = pipeline(database_url, tmp_path)
    old = to_record(article(title="旧标题"), T0)
    assert old is not None
    feed(persist, article(title="新标题"))  # stored now, after T0
    assert persist.spool is not None
    persist.spool.append(to_json(old))
    again = pipeline(database_url, tmp_path)
    close(again)
    assert again.stats.get_value("pipeline/persist/replay_stale") == 1
    assert stored_titles(database_url) == {URL: "新标题"}


@pytest.mark.postgres
def test_content_the_database_refuses_is_set_aside_not_retried(
    postgres_url: str, tmp_path: Path
) -> None:
    persist = pipeline(postgres_url, tmp_path, attempts=5)
    item = article()
    item.published_raw = "2025-09-01\x00"  # PostgreSQL text cannot hold NUL
    feed(persist, item)
    stats = persist.stats.get_stats()
    assert stats["pipeline/persist/failed"] == 1
    assert stats["pipeline/persist/rejected"] == 1
    assert "pipeline/persist/retried" not in stats
    assert persist.spool is not None
    assert not persist.spool.path.exists(), "a refused entry is not replayed"
    (rejected,) = persist.spool.rejected_path.read_text().splitlines()
    assert json.loads(rejected)["entry"]["url"] == URL


def test_every_item_kind_round_trips_through_the_spool(database_url: str) -> None:
    database = Database(database_url)
    items = [
        ListingItem("rdjj", "热点聚焦", [(URL, "2025-09-01")]),
        WalkStartedItem("rdjj", "热点聚焦"),
        article(),
        PageStatusItem(URL, 304),
        PageStatusItem(URL + "?gone", 404),
        ForgetLinksItem("rdjj", [URL + "?gone"]),
        WalkCompleteItem("rdjj"),
    ]
    try:
        for item in items:
            record = to_record(item, T0)
            assert record is not None
            spooled = from_json(json.loads(json.dumps(to_json(record))))  # as the spool keeps it
            assert spooled == record
            with database.sessions.begin() as session:
                BatchWriter(session).write([spooled], T0)
    finally:
        database.dispose()
    assert stored_titles(database_url) == {URL: "标题"}


# -- PostgreSQL restarting or gone, mid-crawl (the real command) -------------------------


@dataclass
class ProxiedCrawl:
    first: subprocess.CompletedProcess[str]
    second: subprocess.CompletedProcess[str] | None
    first_stats: dict[str, Any]
    export: list[dict[str, Any]]
    second_log: list[LoggedRequest]
    spool_after_first: int
    texts: list[str]
    """Everything the crawls wrote: output, logs, spool files, crawl_runs rows."""


def _article_paths() -> list[str]:
    return [
        path.relative_to(SITE / "v1").as_posix()
        for path in (SITE / "v1" / "news").rglob("*.html")
        if path.parent.name.isdigit()
    ]


def _articles_served(site: SiteServer) -> int:
    return len([r for r in site.log if "/20" in r.path])


def _wait_for(condition: Callable[[], bool]) -> None:
    deadline = time.monotonic() + 60
    while not condition():
        assert time.monotonic() < deadline, "the crawl never got there"
        time.sleep(0.01)


def _outage_during_articles(
    site: SiteServer, proxy: TcpProxy, *, seconds: float, until: Callable[[], bool]
) -> Callable[[], None]:
    """Takes the database down once every listing page was answered (the spider's reads
    are not retried: it fails loudly on them) and some articles are in flight; brings it
    back after `seconds` and once `until()` holds (before the crawl ends: the run's own
    bookkeeping needs the database at the end)."""

    def listings_served() -> int:
        return len([r for r in site.log if r.path.startswith("/news/") and "/20" not in r.path])

    def run() -> None:
        _wait_for(lambda: listings_served() >= 8 and _articles_served(site) >= 4)
        time.sleep(0.3)
        proxy.down()
        time.sleep(seconds)
        _wait_for(until)
        proxy.up()

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread.join


# A connection the outage left half-open is broken after 10 s, not the default 75 s.
QUICK_POSTGRES_TIMEOUTS = {
    "ECNEWS_PG_STATEMENT_TIMEOUT": "5",
    "ECNEWS_PG_LOCK_TIMEOUT": "2",
    "ECNEWS_PG_CLIENT_TIMEOUT": "10",
    "ECNEWS_PG_KEEPALIVE_IDLE": "2",
}
SLOW_ARTICLES = ("-s", "CONCURRENT_REQUESTS_PER_DOMAIN=4", "-s", "NEWS_MAX_ERROR_RESPONSE_RATIO=1")


def _proxied_crawl(
    tmp: Path, *, outage: float = 0, spooled: int = 0, attempts: int, backoff: float
) -> ProxiedCrawl:
    """A crawl through a proxy to PostgreSQL that goes down mid-crawl for `outage`
    seconds and until `spooled` writes were spooled (or 22 articles fetched); then, if
    anything was spooled, a second run against a site whose articles all fail."""
    with postgres_database() as direct, TcpProxy("127.0.0.1", _port(direct)) as proxy:
        db = proxy.url_for(direct).replace("postgres@", f"postgres:{PASSWORD}@", 1)
        faults = {f"/{path}": {"delay_ms": 300} for path in _article_paths()}
        spool = Spool(tmp / "spool", db)
        with SiteServer(SITE, "v1", faults=faults) as site:
            join = _outage_during_articles(
                site,
                proxy,
                seconds=outage,
                until=lambda: len(spool) >= spooled or _articles_served(site) >= 22,
            )
            first = crawl(
                site, db, tmp, *SLOW_ARTICLES,
                "-s", f"PERSIST_ATTEMPTS={attempts}", "-s", f"PERSIST_BACKOFF={backoff}",
                env=QUICK_POSTGRES_TIMEOUTS,
            )  # fmt: skip
            join()
            first_stats = last_run(direct).stats or {}
            spooled = len(spool)
            first_log = (tmp / "crawl.log").read_text("utf-8")
            second = None
            site.clear_log()
            if spooled:
                # The next run: the site now fails every article, so only the spool can
                # bring the missing articles in.
                for path in _article_paths():
                    site.add_fault(f"/{path}", fail_first=99, status=503)
                second = crawl(site, db, tmp, "-s", "RETRY_TIMES=0")
            records = export(direct)
            texts = [
                first.stdout, first.stderr, first_log,
                *(p.read_text("utf-8") for p in (tmp / "spool").glob("*") if p.is_file()),
                json.dumps([last_run(direct).stats, last_run(direct).reason], default=str),
            ]  # fmt: skip
            if second is not None:
                texts += [second.stdout, second.stderr, (tmp / "crawl.log").read_text("utf-8")]
            return ProxiedCrawl(first, second, first_stats, records, list(site.log), spooled, texts)


def _port(url: str) -> int:
    port = make_url(url).port
    assert port is not None
    return port


@pytest.fixture(scope="module")
def restart(tmp_path_factory: pytest.TempPathFactory) -> ProxiedCrawl:
    """PostgreSQL down 1.5 s mid-crawl; the write retries cover 3 s."""
    return _proxied_crawl(
        tmp_path_factory.mktemp("pg-restart"), outage=1.5, attempts=5, backoff=0.2
    )


@pytest.fixture(scope="module")
def gone(tmp_path_factory: pytest.TempPathFactory) -> ProxiedCrawl:
    """PostgreSQL down until 3 writes were spooled; the write retries cover 0.05 s."""
    return _proxied_crawl(tmp_path_factory.mktemp("pg-gone"), spooled=3, attempts=2, backoff=0.05)


@pytest.mark.postgres
@pytest.mark.slow
def test_postgres_restart_mid_crawl_is_survived(restart: ProxiedCrawl) -> None:
    assert restart.first.returncode == EXIT_OK, restart.first.stderr[-4000:]
    assert restart.first_stats.get("pipeline/persist/retried", 0) >= 1, "no write met the outage"
    assert restart.spool_after_first == 0
    problems = compare(restart.export, GOLD)
    assert not problems, "\n".join(problems)


@pytest.mark.postgres
@pytest.mark.slow
def test_postgres_gone_past_retries_fails_the_run_and_spools(gone: ProxiedCrawl) -> None:
    assert gone.first.returncode == EXIT_FAILED, gone.first.stderr[-4000:]
    assert "items could not be written to the database" in gone.first.stderr
    spooled = gone.first_stats.get("pipeline/persist/spooled", 0)
    assert spooled >= 1
    assert spooled == gone.spool_after_first == gone.first_stats.get("pipeline/persist/failed")


@pytest.mark.postgres
@pytest.mark.slow
def test_the_next_run_writes_the_spool(gone: ProxiedCrawl) -> None:
    assert gone.second is not None
    problems = compare(gone.export, GOLD)
    assert not problems, "\n".join(problems)
    # Nothing was fetched again: the articles came from the spool.
    assert not [r for r in gone.second_log if "/20" in r.path and r.status == 200]


@pytest.mark.postgres
@pytest.mark.slow
def test_the_database_password_is_never_logged(gone: ProxiedCrawl) -> None:
    for text in gone.texts:
        assert PASSWORD not in text


# -- SQLite busy mid-crawl (the real command) --------------------------------------------


@pytest.mark.slow
def test_sqlite_locked_mid_crawl_waits_and_completes(tmp_path: Path) -> None:
    db_path = tmp_path / "ecnews.db"
    db = f"sqlite:///{db_path}"
    faults = {f"/{path}": {"delay_ms": 300} for path in _article_paths()}
    with SiteServer(SITE, "v1", faults=faults) as site:
        process = start_crawl(site.url, db, tmp_path)
        try:
            deadline = time.monotonic() + 60
            while len([r for r in site.log if "/20" in r.path]) < 6:
                assert time.monotonic() < deadline, "the crawl never got going"
                time.sleep(0.02)
            holder = _hold_sqlite_lock(db_path)  # another writer holds the database
            locked_at = len([r for r in site.log if "/20" in r.path])
            time.sleep(2)
            holder.execute("COMMIT")
            holder.close()
            assert process.wait(timeout=120) == EXIT_OK, (tmp_path / "crawl-bg.log").read_text()
        finally:
            if process.poll() is None:
                process.kill()
    assert locked_at < 28, "the lock must fall mid-crawl"
    problems = compare(export(db), GOLD)
    assert not problems, "\n".join(problems)
