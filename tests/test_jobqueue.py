"""The JOBDIR request queue: the same dict as Scrapy's `Request.to_dict`, the same file as
Scrapy's `PickleLifoDiskQueue` (either reads what the other wrote), the same refusal of a
request it cannot name."""

from __future__ import annotations

import inspect
from typing import TYPE_CHECKING, Any

import pytest
import redis
from scrapy import FormRequest, Request
from scrapy.squeues import PickleLifoDiskQueue
from scrapy.utils.misc import is_generator_with_return_value
from scrapy.utils.test import get_crawler
from scrapy_redis.queue import PriorityQueue

from crawler.jobqueue import FrontierQueue, RequestDiskQueue, request_to_dict
from crawler.spiders.bare import BareSpider
from crawler.spiders.news import NewsSpider
from tests.conftest import project_settings

if TYPE_CHECKING:
    from pathlib import Path

    from scrapy.crawler import Crawler

BASE = "http://127.0.0.1:8000"


@pytest.fixture
def crawler() -> Crawler:
    settings = project_settings()
    settings.pop("TWISTED_REACTOR", None)  # no reactor is installed in this process
    crawler = get_crawler(NewsSpider, settings)
    crawler.spider = NewsSpider.from_crawler(crawler, base_url=BASE)
    return crawler


def _requests(spider: NewsSpider) -> list[Request]:
    return [
        Request(f"{BASE}/news/rdjj/list_2.html", callback=spider.parse_listing, priority=5),
        Request(
            f"{BASE}/news/rdjj/2026/1.html",
            callback=spider.parse_article,
            errback=spider.article_failed,
            cb_kwargs={"category": "rdjj", "listing_date": "2026-11-02"},
            meta={"download_slot": "x", "depth": 2},
            headers={"Referer": f"{BASE}/news/rdjj/"},
        ),
        Request(f"{BASE}/robots.txt", dont_filter=True),  # no callback: the spider's parse
        Request(f"{BASE}/a?q=中文 空格", errback=spider.listing_failed, flags=["retried"]),
        FormRequest(f"{BASE}/search", formdata={"q": "联商"}, callback=spider.parse_article),
    ]


def test_the_dict_is_scrapys(crawler: Crawler) -> None:
    spider = crawler.spider
    assert isinstance(spider, NewsSpider)
    for request in _requests(spider):
        assert request_to_dict(request, spider) == request.to_dict(spider=spider), request


def _signature(request: Request) -> tuple[Any, ...]:
    callback = getattr(request.callback, "__name__", None)
    errback = getattr(request.errback, "__name__", None)
    return (
        type(request),
        request.url,
        request.method,
        request.body,
        dict(request.headers),
        request.priority,
        request.meta,
        request.cb_kwargs,
        request.flags,
        request.dont_filter,
        callback,
        errback,
    )


@pytest.mark.parametrize(
    ("writer", "reader"),
    [
        (RequestDiskQueue, RequestDiskQueue),
        (PickleLifoDiskQueue, RequestDiskQueue),  # a JOBDIR left by an older release
        (RequestDiskQueue, PickleLifoDiskQueue),
    ],
)
def test_a_queue_reads_back_last_in_first_out_across_a_restart(
    crawler: Crawler, tmp_path: Path, writer: Any, reader: Any
) -> None:
    spider = crawler.spider
    assert isinstance(spider, NewsSpider)
    requests = _requests(spider)
    path = str(tmp_path / "requests.queue" / "p0")
    queue = writer.from_crawler(crawler, path)
    for request in requests:
        queue.push(request)
    queue.close()  # a graceful stop: the run is resumed later

    queue = reader.from_crawler(crawler, path)
    assert len(queue) == len(requests)
    assert _signature(queue.peek()) == _signature(requests[-1])
    popped = [queue.pop() for _ in requests]
    assert queue.pop() is None
    assert [_signature(r) for r in popped] == [_signature(r) for r in reversed(requests)]
    assert popped[-2].callback == spider.parse_article  # bound to this spider again
    queue.close()


def test_a_callback_that_is_not_the_spiders_is_refused_as_scrapy_does(
    crawler: Crawler, tmp_path: Path
) -> None:
    """The scheduler keeps a request the disk queue refuses (ValueError) in memory."""
    queue = RequestDiskQueue.from_crawler(crawler, str(tmp_path / "q"))
    for callback in (lambda response: None, print):
        with pytest.raises(ValueError, match="not an instance method"):
            queue.push(Request(f"{BASE}/x", callback=callback))
    with pytest.raises(ValueError):  # noqa: PT011 -- pickle's own words vary
        queue.push(Request(f"{BASE}/x", meta={"unpicklable": lambda: None}))
    assert len(queue) == 0
    queue.close()


def test_no_callback_is_a_generator_that_returns_a_value() -> None:
    """WARN_ON_GENERATOR_RETURN_VALUE is off (it re-parses a callback's source for every
    request read back from the JOBDIR): the check it made per request is made here."""
    for spider in (NewsSpider, BareSpider):
        methods = [getattr(spider, name) for name in dir(spider) if not name.startswith("__")]
        generators = [m for m in methods if inspect.isgeneratorfunction(m)]
        assert generators, spider
        returning = [m.__qualname__ for m in generators if is_generator_with_return_value(m)]
        assert not returning


@pytest.mark.redis
def test_the_shared_frontier_reads_back_what_scrapy_redis_wrote(
    crawler: Crawler, redis_url: str
) -> None:
    """Workers of one round may run different releases: either queue reads the other's."""
    spider = crawler.spider
    assert isinstance(spider, NewsSpider)
    server = redis.Redis.from_url(redis_url)
    requests = _requests(spider)
    for writer, reader in (
        (FrontierQueue, FrontierQueue),
        (PriorityQueue, FrontierQueue),
        (FrontierQueue, PriorityQueue),
    ):
        queue = writer(server=server, spider=spider, key="test:requests")
        for request in requests:
            queue.push(request)
        queue = reader(server=server, spider=spider, key="test:requests")
        assert len(queue) == len(requests)
        popped = [queue.pop() for _ in requests]
        assert queue.pop() is None
        # Highest priority first, then (scrapy-redis) the order of the sorted set.
        assert sorted(map(_signature, popped), key=repr) == sorted(
            map(_signature, requests), key=repr
        )
        assert popped[0].priority == 5
    server.close()
