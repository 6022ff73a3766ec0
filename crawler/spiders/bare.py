"""The `bare` spider: the links `news` follows, and nothing else — the benchmark's ceiling.

It walks the same requests as `news --mode full` (listings through 下一页, every listed
article once, the further pages of multi-page articles), with the same URL helpers and
priorities, but extracts nothing, yields no item, runs no pipeline and opens no database.
`make bench` compares the two: what `news` costs on top of this is ours.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Self
from urllib.parse import urlsplit

import scrapy
from scrapy.exceptions import NotConfigured
from scrapy.http import Request, Response
from scrapy.settings import default_settings

from crawler.urls import canonical_url, normalize_url, page_number, same_host

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Iterator

    from scrapy.crawler import Crawler
    from scrapy.settings import BaseSettings

_NEXT_PAGE = '//div[contains(@class, "pagelist")]//a[contains(normalize-space(.), "下一页")]/@href'


class BareSpider(scrapy.Spider):
    name = "bare"

    @classmethod
    def update_settings(cls, settings: BaseSettings) -> None:
        super().update_settings(settings)
        # No pipelines and no run bookkeeping: nothing may touch a database.
        settings.set("ITEM_PIPELINES", {}, priority="spider")
        settings.set("EXTENSIONS", {}, priority="spider")
        # Keeping every page (crawler/archive/) is work of ours: the ceiling does not pay it.
        settings.set("ARCHIVE_ENABLED", False, priority="spider")
        # The ceiling is Scrapy as it comes: the fetch pattern is the project's (robots,
        # AutoThrottle, concurrency, user agent), the engine tuning is not: that is ours.
        for name in ("CONCURRENT_ITEMS", "SCRAPER_SLOT_MAX_ACTIVE_SIZE"):
            settings.set(name, getattr(default_settings, name), priority="spider")

    def __init__(self, *args: Any, base_url: str | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.base_url = (base_url or "").rstrip("/")

    @classmethod
    def from_crawler(cls, crawler: Crawler, *args: Any, **kwargs: Any) -> Self:
        spider = super().from_crawler(crawler, *args, **kwargs)
        base = spider.base_url or crawler.settings.get("NEWS_SITE_URL") or ""
        if not base:
            raise NotConfigured("no site: pass -a base_url=… or set NEWS_SITE_URL")
        spider.base_url = normalize_url(base.rstrip("/") + "/").rstrip("/")
        spider.allowed_domains = [urlsplit(spider.base_url).hostname or ""]
        spider.slugs = list(crawler.settings.getdict("NEWS_CATEGORIES"))
        spider.max_listing_pages = crawler.settings.getint("NEWS_MAX_LISTING_PAGES")
        return spider

    allowed_domains: list[str]
    slugs: list[str]
    max_listing_pages: int

    async def start(self) -> AsyncIterator[Request]:
        for slug in self.slugs:
            url = f"{self.base_url}/news/{slug}/"
            yield Request(url, callback=self.parse_listing, cb_kwargs={"page": 1}, priority=10)

    def parse_listing(self, response: Response, page: int) -> Iterator[Request]:
        for entry in response.css("ul.news-list > li"):
            anchor = entry.css("h3 a") or entry.css("a")
            href = anchor.attrib.get("href") if anchor else None
            if not href:
                continue
            try:
                url = canonical_url(href, response.url)
            except ValueError:
                continue
            if same_host(url, self.base_url):
                yield Request(url, callback=self.parse_article)
        next_href = response.xpath(_NEXT_PAGE).get()
        if next_href and page < self.max_listing_pages:
            yield response.follow(
                next_href, callback=self.parse_listing, cb_kwargs={"page": page + 1}, priority=10
            )

    def parse_article(
        self, response: Response, pages: list[str] | None = None
    ) -> Iterator[Request]:
        if pages is None:  # the article's first page: find its further pages
            self.crawler.stats.inc_value("bare/articles")
            article = canonical_url(response.url)
            found: dict[int, str] = {}
            for href in response.css("div.article-pages a::attr(href)").getall():
                try:
                    url = normalize_url(href, response.url)
                except ValueError:
                    continue
                if page_number(url) > 1 and canonical_url(url) == article:
                    found.setdefault(page_number(url), url)
            pages = [found[n] for n in sorted(found)]
        if pages:
            yield Request(
                pages[0],
                callback=self.parse_article,
                cb_kwargs={"pages": pages[1:]},
                dont_filter=True,
            )
