"""Batched writes: an item is acknowledged only once its batch committed; a batch with a
bad item still stores the others."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

import pytest
from scrapy.statscollectors import MemoryStatsCollector
from scrapy.utils.test import get_crawler

from pipelines.items import ListingItem
from pipelines.persist import PersistPipeline
from storage.writer import WriterOptions
from tests.test_reliability_database import URL, article, stored_titles

if TYPE_CHECKING:
    from pathlib import Path


# Each test starts a child process (an ecnews command, or the writer): not in make test-fast.
pytestmark = pytest.mark.process


def batched(db: str, tmp_path: Path, size: int, seconds: float) -> PersistPipeline:
    crawler = get_crawler()
    persist = PersistPipeline(
        crawler,
        db,
        MemoryStatsCollector(crawler),
        options=WriterOptions(attempts=2, backoff=0.01),
        spool_dir=str(tmp_path / "spool"),
        batch_size=size,
        batch_seconds=seconds,
        stall_timeout=30,
    )
    persist.open_spider()
    return persist


def test_items_are_acknowledged_only_after_their_batch_committed(
    sqlite_url: str, tmp_path: Path
) -> None:
    persist = batched(sqlite_url, tmp_path, size=3, seconds=30)
    urls = [URL.replace("9001", str(9001 + i)) for i in range(3)]

    async def crawl() -> None:
        first = [
            asyncio.ensure_future(persist.process_item(article(u, f"题{u[-9:]}", f"文{u}")))
            for u in urls[:2]
        ]
        await asyncio.sleep(0.2)
        assert not any(task.done() for task in first), "acknowledged before any commit"
        assert stored_titles(sqlite_url) == {}
        third = persist.process_item(article(urls[2], "第三", "第三篇"))  # fills the batch
        await asyncio.gather(*first, third)
        assert set(stored_titles(sqlite_url)) == set(urls)
        await persist.close_spider()

    asyncio.run(crawl())
    assert persist.stats.get_value("pipeline/persist/new") == 3


def test_the_timer_writes_a_partial_batch_and_close_flushes(
    sqlite_url: str, tmp_path: Path
) -> None:
    persist = batched(sqlite_url, tmp_path, size=100, seconds=0.05)

    async def crawl() -> None:
        await persist.process_item(ListingItem("rdjj", "热点聚焦", [(URL, "2025-09-01")]))
        await persist.process_item(article())  # written by the timer, not a full batch
        pending = asyncio.ensure_future(persist.process_item(article(URL + "?x=1", "乙", "乙")))
        await persist.close_spider()
        await pending

    asyncio.run(crawl())
    assert set(stored_titles(sqlite_url)) == {URL, URL + "?x=1"}


def test_a_refused_item_does_not_sink_its_batch(postgres_url: str, tmp_path: Path) -> None:
    """PostgreSQL refuses a NUL character (DataError): that item is set aside, the others in
    its batch are stored, and the run is marked failed."""
    persist = batched(postgres_url, tmp_path, size=3, seconds=30)
    good = [URL, URL.replace("9001", "9002")]

    async def crawl() -> None:
        await asyncio.gather(
            persist.process_item(article(good[0], "好一", "好一")),
            persist.process_item(article(URL.replace("9001", "9003"), "坏", "含\x00的正文")),
            persist.process_item(article(good[1], "好二", "好二")),
        )
        await persist.close_spider()

    asyncio.run(crawl())
    assert set(stored_titles(postgres_url)) == set(good)
    assert persist.stats.get_value("pipeline/persist/batch_retried") == 1, "split, item by item"
    assert persist.stats.get_value("pipeline/persist/rejected") == 1
    assert persist.stats.get_value("pipeline/persist/failed") == 1
