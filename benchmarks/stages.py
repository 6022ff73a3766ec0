"""Per-article cost of each stage, from a replay of the site's pages without the network.

The real spider and the real pipelines (as configured in ITEM_PIPELINES, in order) are
built from the project settings; requests are answered from the generated files as
``HtmlResponse`` objects, in Scrapy's scheduling order (higher priority first, so the
listings come before the articles, as in a crawl) with the same dupefilter rule (one
request per URL unless ``dont_filter``). Every call is timed with ``perf_counter`` and
charged to its stage; the listing links' database writes count towards ``store``, since
a crawl pays them per article too. Dead links (no file) are skipped.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import heapq
import inspect
import itertools
import logging
import os
import time
from collections import defaultdict
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote, urlsplit

from scrapy import Request
from scrapy.exceptions import DropItem
from scrapy.http import HtmlResponse
from scrapy.utils.misc import build_from_crawler, load_object
from scrapy.utils.project import get_project_settings
from scrapy.utils.reactor import install_reactor, is_reactor_installed
from scrapy.utils.test import get_crawler

from crawler.spiders.news import NewsSpider
from pipelines.items import ArticleItem
from pipelines.persist import to_record
from storage.batch import BatchWriter
from storage.db import Database

if TYPE_CHECKING:
    from collections.abc import Callable
    from pathlib import Path

# Stage names for the pipeline classes of ITEM_PIPELINES; others keep their class name.
STAGE_NAMES = {
    "TextPipeline": "clean",
    "AttributionPipeline": "attribution",
    "DatesPipeline": "dates",
    "ValidatePipeline": "validate",
    "SchemaCheckPipeline": "schema check",
    "PersistPipeline": "store",
}


@dataclass(slots=True)
class Replay:
    articles: int = 0
    seconds: dict[str, float] = field(
        default_factory=lambda: defaultdict(float, {"listing (spider)": 0, "extract (spider)": 0})
    )
    persisted: list[Any] = field(default_factory=list)
    """What reached the store stage, in order (ListingItem, ArticleItem …): the input of
    the persist-scaling measurement."""

    def micros_per_article(self) -> dict[str, float]:
        return {stage: s * 1e6 / self.articles for stage, s in self.seconds.items()}


def _call(method: Callable[..., Any], spider: Any, *args: Any) -> Any:
    """Call a component method with or without the ``spider`` argument, as its
    signature asks (Scrapy >= 2.14 components take none, spidermon's still do)."""
    parameters = inspect.signature(method).parameters
    if "spider" in parameters and len(parameters) > len(args):
        return method(*args, spider)
    return method(*args)


def _response(site: Path, request: Request) -> HtmlResponse | None:
    path = unquote(urlsplit(request.url).path)
    file = site / (path.lstrip("/") + ("index.html" if path.endswith("/") else ""))
    if not file.is_file():
        return None  # a dead listing link: the site answers 404
    headers = {"Content-Type": "text/html", "Last-Modified": "Wed, 01 Jan 2025 00:00:00 GMT"}
    return HtmlResponse(request.url, body=file.read_bytes(), headers=headers, request=request)


def build(
    base_url: str, database_url: str, *, batch_size: int | None = None
) -> tuple[NewsSpider, list[tuple[str, Any]]]:
    """The news spider and its opened pipelines, as a crawl of ``base_url`` builds them;
    ``batch_size`` overrides PERSIST_BATCH_SIZE."""
    os.environ.setdefault("SCRAPY_SETTINGS_MODULE", "crawler.settings")
    settings = get_project_settings()
    settings.set("DATABASE_URL", database_url, priority="cmdline")
    if batch_size is not None:
        settings.set("PERSIST_BATCH_SIZE", batch_size, priority="cmdline")
    settings.set("LOG_LEVEL", "WARNING", priority="cmdline")
    # No crawl process configures logging here; keep Scrapy's set-up chatter (such as
    # "Disabled <extension>" warnings) out of the benchmark's output.
    logging.getLogger("scrapy").setLevel(logging.ERROR)
    if not is_reactor_installed():  # Scrapy checks for the configured one; it is never run
        install_reactor(settings["TWISTED_REACTOR"])
    crawler = get_crawler(NewsSpider, settings.copy_to_dict())
    spider = NewsSpider.from_crawler(crawler, base_url=base_url, mode="full")
    crawler.spider = spider
    pipelines = []
    for path, _ in sorted(settings.getwithbase("ITEM_PIPELINES").items(), key=lambda kv: kv[1]):
        component = build_from_crawler(load_object(path), crawler)
        name = STAGE_NAMES.get(type(component).__name__, type(component).__name__)
        if name == "store":
            # Measured apart (store_cost): it runs in the writer process, on the other core.
            pipelines.append((name, component))
            continue
        if hasattr(component, "open_spider"):
            _call(component.open_spider, spider)
        pipelines.append((name, component))
    return spider, pipelines


def close(spider: NewsSpider, pipelines: list[tuple[str, Any]]) -> None:
    for name, component in pipelines:
        if name != "store" and hasattr(component, "close_spider"):
            closing = _call(component.close_spider, spider)
            if inspect.iscoroutine(closing):
                asyncio.run(closing)


def replay(site: Path, base_url: str, database_url: str) -> Replay:
    """Replay the whole site at ``site`` (a ``…/large`` folder) through the spider and the
    pipelines, storing into ``database_url`` (migrated on first use, as in a crawl).

    The replay calls each stage in turn, item by item; the store stage is then what the
    writer process spends on the items that reached it, in batches (``store_cost``)."""
    spider, pipelines = build(base_url, database_url)

    async def seeds() -> list[Request]:
        return [request async for request in spider.start()]

    result = Replay()
    order = itertools.count()
    queue = [(-r.priority, next(order), r) for r in asyncio.run(seeds())]
    seen: set[str] = set()
    while queue:
        _, _, request = heapq.heappop(queue)
        if not request.dont_filter:
            if request.url in seen:
                continue
            seen.add(request.url)
        response = _response(site, request)
        if response is None:
            continue
        callback = request.callback
        stage = "listing (spider)" if callback == spider.parse_listing else "extract (spider)"
        started = time.perf_counter()
        output = list(callback(response, **request.cb_kwargs))  # type: ignore[misc]  # set by the spider
        result.seconds[stage] += time.perf_counter() - started
        for thing in output:
            if isinstance(thing, Request):
                heapq.heappush(queue, (-thing.priority, next(order), thing))
            else:
                _process(thing, pipelines, spider, result)
    close(spider, pipelines)
    batch = dict(pipelines)["store"].batch_size
    result.seconds["store"] = store_cost(result.persisted, database_url, batch)
    return result


def store_cost(items: list[Any], database_url: str, batch_size: int = 100) -> float:
    """Seconds the writer process spends storing ``items`` (what a replay persisted), in
    batches of ``batch_size`` records, one transaction each: the records built, the
    batches written and committed, as storage/writer.py does."""
    database = Database(database_url)
    started = time.perf_counter()
    now = dt.datetime.now(dt.UTC)
    records = [r for item in items if (r := to_record(item, now)) is not None]
    for first in range(0, len(records), batch_size):
        with database.sessions.begin() as session:
            BatchWriter(session).write(records[first : first + batch_size], now)
    elapsed = time.perf_counter() - started
    database.dispose()
    return elapsed


def _process(item: Any, pipelines: list[tuple[str, Any]], spider: Any, result: Replay) -> None:
    if isinstance(item, ArticleItem):
        result.articles += 1
    for name, component in pipelines:
        if name == "store":
            result.persisted.append(item)
            return
        started = time.perf_counter()
        try:
            item = _call(component.process_item, spider, item)
        except DropItem:
            return
        finally:
            result.seconds[name] += time.perf_counter() - started
