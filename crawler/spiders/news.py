"""The `news` spider: category listings -> article pages -> further pages of an article.

It extracts raw strings only; the pipelines clean them (see crawler/items.py).
Listing data the article page lacks (category, listing date, link title) travels with
the request in `cb_kwargs`. Every listing page is also yielded as a ListingItem, so an
article listed in several categories gets all of them although it is fetched once.
"""

from __future__ import annotations

import datetime as dt
import logging
import re
from typing import TYPE_CHECKING, Any, Self
from urllib.parse import urlsplit

import scrapy
from scrapy.exceptions import NotConfigured
from scrapy.http import Request, Response, TextResponse
from scrapy.spidermiddlewares.httperror import HttpError

from crawler.distributed import apply_redis_settings
from crawler.middlewares import PageRefused
from crawler.urls import canonical_url, normalize_url, page_number, same_host
from pipelines.items import ArticleItem, ListingItem, PageStatusItem, WalkCompleteItem
from pipelines.rules.dates import parse_day
from storage.db import get_database
from storage.repository import Repository

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Iterator

    from scrapy.crawler import Crawler
    from scrapy.settings import BaseSettings
    from twisted.python.failure import Failure

    from storage.db import Database

logger = logging.getLogger(__name__)

MODES = ("incremental", "full")

# Text of an element without the scripts and styles inside it (the views counter is a script).
_VISIBLE_TEXT = ".//text()[not(ancestor::script) and not(ancestor::style)]"
# Where the CMS sends a deleted article: the home page or a category listing.
_NOT_AN_ARTICLE = re.compile(r"^/(?:index\.\w+)?$|^/news/[^/]+/(?:list_\d+\.html)?$")


def visible_text(selector: scrapy.Selector | Any) -> str:
    return "".join(selector.xpath(_VISIBLE_TEXT).getall())


class NewsSpider(scrapy.Spider):
    name = "news"

    def __init__(
        self,
        *args: Any,
        base_url: str | None = None,
        categories: str | None = None,
        mode: str = "incremental",
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self.base_url = (base_url or "").rstrip("/")
        self.category_filter = [c.strip() for c in (categories or "").split(",") if c.strip()]
        if mode not in MODES:
            raise ValueError(f"mode must be one of {', '.join(MODES)}, not {mode!r}")
        self.mode = mode
        self.pending = {}

    @classmethod
    def from_crawler(cls, crawler: Crawler, *args: Any, **kwargs: Any) -> Self:
        spider = super().from_crawler(crawler, *args, **kwargs)
        settings = crawler.settings
        spider.base_url = (spider.base_url or settings.get("NEWS_SITE_URL") or "").rstrip("/")
        if not spider.base_url:
            raise NotConfigured("no site: pass -a base_url=… or set NEWS_SITE_URL")
        spider.base_url = normalize_url(spider.base_url + "/").rstrip("/")
        host = urlsplit(spider.base_url).hostname or ""
        # Scrapy's OffsiteMiddleware drops any request (and redirect) off this host.
        spider.allowed_domains = [host]
        known: dict[str, str] = dict(settings.getdict("NEWS_CATEGORIES"))
        unknown = [slug for slug in spider.category_filter if slug not in known]
        if unknown:
            raise ValueError(f"unknown categories {unknown}; known: {', '.join(known)}")
        spider.categories = {
            slug: name
            for slug, name in known.items()
            if not spider.category_filter or slug in spider.category_filter
        }
        spider.max_listing_pages = settings.getint("NEWS_MAX_LISTING_PAGES")
        spider.max_article_pages = settings.getint("NEWS_MAX_ARTICLE_PAGES")
        spider.content_selector = settings.get("NEWS_CONTENT_SELECTOR")
        spider.database_url = settings.get("DATABASE_URL")
        return spider

    allowed_domains: list[str]
    pending: dict[str, set[str]]
    """Per category: links listed by earlier runs and still unresolved (incremental mode)."""
    categories: dict[str, str]
    max_listing_pages: int
    max_article_pages: int
    content_selector: str
    database_url: str

    @property
    def database(self) -> Database:
        return get_database(self.database_url)

    @classmethod
    def update_settings(cls, settings: BaseSettings) -> None:
        super().update_settings(settings)
        # REDIS_URL (environment or -s) switches to the shared scrapy-redis frontier.
        apply_redis_settings(settings, cls.name)

    def seed_requests(self) -> list[Request]:
        """Page 1 of every category listing."""
        return [
            Request(
                f"{self.base_url}/news/{slug}/",
                callback=self.parse_listing,
                errback=self.listing_failed,
                cb_kwargs={"slug": slug, "page": 1},
                # Listings go first, so pagination decisions are not held up by articles.
                priority=10,
            )
            for slug in self.categories
        ]

    async def start(self) -> AsyncIterator[Request]:
        for request in self.seed_requests():
            yield request

    # -- listings ---------------------------------------------------------------------

    def parse_listing(
        self, response: Response, slug: str, page: int, resumable: bool | None = None
    ) -> Iterator[Any]:
        """One listing page. `resumable`: the previous walk of this listing ended properly,
        so the incremental walk may stop early (decided at page 1, carried along)."""
        if not isinstance(response, TextResponse):
            self._skip(response, "listing_not_html")
            return
        name = self.categories[slug]
        links = list(self._listing_links(response))
        if resumable is None:
            with self.database.sessions.begin() as session:
                resumable = Repository(session).begin_walk(slug, name, _now())
        self.crawler.stats.inc_value("news/listing/pages")
        self.crawler.stats.inc_value("news/listing/links", len(links))

        yield ListingItem(slug, name, [(url, data["listing_date_raw"]) for url, data in links])

        known: set[str] = set()
        validators: dict[str, tuple[str | None, str | None]] = {}
        with self.database.sessions() as session:
            repository = Repository(session)
            if self.mode == "incremental":
                known = repository.known_listing_urls(
                    slug, [(url, parse_day(d["listing_date_raw"])) for url, d in links]
                )
                if slug not in self.pending:
                    self.pending[slug] = repository.pending_listing_urls(slug)
            else:
                validators = repository.validators(url for url, _ in links)

        for url, data in links:
            if url in known:
                continue
            yield self._article_request(url, slug, name, data, validators.get(url))

        pending = self.pending.get(slug, set())
        pending.difference_update(url for url, _ in links)
        if resumable and links and len(known) == len(links) and not pending:
            # Everything on this page is stored already, and no link seen by an earlier
            # run is still unresolved (its fetch failed or was killed): stop here.
            self.crawler.stats.inc_value("news/listing/stopped_early")
            logger.info("Listing %s page %d holds only stored articles: stop here", slug, page)
            yield WalkCompleteItem(slug)
            return
        next_href = response.xpath(
            '//div[contains(@class, "pagelist")]//a[contains(normalize-space(.), "下一页")]/@href'
        ).get()
        if not next_href or page >= self.max_listing_pages:
            if pending:
                # Walked to the end without meeting them: no longer listed, stop waiting.
                logger.info("%d unresolved %s links are no longer listed", len(pending), slug)
                with self.database.sessions.begin() as session:
                    Repository(session).forget_listing_urls(slug, pending)
            yield WalkCompleteItem(slug)
            return
        yield response.follow(
            next_href,
            callback=self.parse_listing,
            errback=self.listing_failed,
            cb_kwargs={"slug": slug, "page": page + 1, "resumable": resumable},
            priority=10,
        )

    def listing_failed(self, failure: Failure) -> None:
        request = failure.request  # type: ignore[attr-defined]  # set by Scrapy on errbacks
        reason = _failure_reason(failure)
        # Its links are not followed in this run: the next run walks the listing again.
        self.crawler.stats.inc_value(f"news/listing/failed/{reason}")
        self.crawler.stats.inc_value("news/listing/failed")
        logger.error(
            "Listing %s page %s failed (%s) at %s",
            request.cb_kwargs.get("slug"),
            request.cb_kwargs.get("page"),
            reason,
            request.url,
        )

    def _listing_links(self, response: TextResponse) -> Iterator[tuple[str, dict[str, Any]]]:
        """(canonical URL, listing data) of each item of a listing page, on this site only."""
        for entry in response.css("ul.news-list > li"):
            anchor = entry.css("h3 a") or entry.css("a")
            href = anchor.attrib.get("href") if anchor else None
            if not href:
                continue
            try:
                url = canonical_url(href, response.url)
            except ValueError as error:
                logger.warning("Unusable listing link %r on %s: %s", href, response.url, error)
                self.crawler.stats.inc_value("news/listing/bad_link")
                continue
            if not same_host(url, self.base_url):
                self.crawler.stats.inc_value("news/listing/offsite_link")
                continue
            yield (
                url,
                {
                    "listing_title": anchor.attrib.get("title"),
                    "listing_text": visible_text(anchor),
                    "listing_date_raw": entry.css(".date::text").get(),
                },
            )

    def _article_request(
        self,
        url: str,
        slug: str,
        name: str,
        listing: dict[str, Any],
        validators: tuple[str | None, str | None] | None,
    ) -> Request:
        headers: dict[str, str] = {}
        if validators:
            etag, modified = validators
            if etag:
                headers["If-None-Match"] = etag
            if modified:
                headers["If-Modified-Since"] = modified
        item = ArticleItem(url=url, category_slug=slug, category_name=name, **listing)
        return Request(
            url,
            headers=headers,
            callback=self.parse_article,
            errback=self.article_failed,
            cb_kwargs={"item": item},
            meta={"handle_httpstatus_list": [304]},
        )

    # -- articles ---------------------------------------------------------------------

    def parse_article(self, response: Response, item: ArticleItem) -> Iterator[Any]:
        if response.status == 304:
            self.crawler.stats.inc_value("news/article/not_modified")
            yield PageStatusItem(item.url, 304)
            return
        if not isinstance(response, TextResponse):
            self._skip(response, "article_not_html", item)
            return
        if not response.body.strip():
            self._skip(response, "article_empty", item)
            return
        if response.meta.get("redirect_urls") and _NOT_AN_ARTICLE.match(
            urlsplit(response.url).path
        ):
            # A deleted article the CMS redirects to its home page or a listing.
            self._skip(response, "article_redirected_away", item)
            return
        item.page_urls.append(response.url)
        item.etag = _header(response, b"ETag")
        item.last_modified = _header(response, b"Last-Modified")
        article = response.css("div.article") or response
        heading = article.css("h1.article-title") or article.css("h1")
        item.title_raw = visible_text(heading[0]) if heading else None
        info = article.css("div.article-info")
        if info:
            item.info_parts = [visible_text(part) for part in info[0].xpath("./*")]
            item.published_raw = visible_text(info[0].css(".time")) or None
        self._add_content(response, item)

        pages = self._further_pages(response, item.url)
        if pages:
            yield self._page_request(pages, item)
        else:
            yield item

    def parse_article_page(
        self, response: Response, item: ArticleItem, pages: list[str]
    ) -> Iterator[Any]:
        if not isinstance(response, TextResponse) or not response.body.strip():
            # The article is incomplete without this page: nothing is stored for it.
            self._skip(response, "article_page_not_html", item)
            return
        item.page_urls.append(response.url)
        self._add_content(response, item)
        yield self._page_request(pages, item) if pages else item

    def _add_content(self, response: TextResponse, item: ArticleItem) -> None:
        content = response.css(self.content_selector)
        if content:
            item.content_html.append(content[0].get())
        else:
            self.crawler.stats.inc_value("news/article/no_content_container")
            logger.warning("No content container on %s", response.url)

    def _further_pages(self, response: TextResponse, article_url: str) -> list[str]:
        """URLs of the 2nd, 3rd… pages of this article, in page order."""
        found: dict[int, str] = {}
        for href in response.css("div.article-pages a::attr(href)").getall():
            try:
                url = normalize_url(href, response.url)
            except ValueError:
                continue
            number = page_number(url)
            if number > 1 and canonical_url(url) == article_url:
                found.setdefault(number, url)
        if len(found) >= self.max_article_pages:
            logger.warning(
                "Article %s claims %d pages; reading the first %d",
                article_url,
                len(found),
                self.max_article_pages,
            )
        return [found[n] for n in sorted(found)][: self.max_article_pages - 1]

    def _page_request(self, pages: list[str], item: ArticleItem) -> Request:
        return Request(
            pages[0],
            callback=self.parse_article_page,
            errback=self.article_failed,
            cb_kwargs={"item": item, "pages": pages[1:]},
            # A continuation is requested once per article; never let the dupefilter drop it.
            dont_filter=True,
        )

    def article_failed(self, failure: Failure) -> Iterator[Any]:
        request = failure.request  # type: ignore[attr-defined]  # set by Scrapy on errbacks
        item: ArticleItem = request.cb_kwargs["item"]
        if isinstance(failure.value, HttpError):
            status = failure.value.response.status
            if status == 404 and request.url == item.url:
                self.crawler.stats.inc_value("news/article/gone")
                logger.info("Listed article %s is gone (404)", request.url)
                yield PageStatusItem(item.url, 404)
                return
        if isinstance(failure.value, PageRefused):
            # Off-site or looping redirects, oversized pages: asking again in the next run
            # would change nothing, so they do not fail the run (news/refused/<reason>).
            self.crawler.stats.inc_value("news/article/refused")
            logger.warning("Article %s not stored: %s", item.url, failure.value)
            return
        reason = _failure_reason(failure)
        # Nothing is stored for it: the next run requests it again.
        self.crawler.stats.inc_value(f"news/article/failed/{reason}")
        self.crawler.stats.inc_value("news/article/failed")
        logger.error("Article %s failed (%s) at %s", item.url, reason, request.url)

    def _skip(self, response: Response, reason: str, item: ArticleItem | None = None) -> None:
        self.crawler.stats.inc_value(f"news/skipped/{reason}")
        logger.warning(
            "Skipped %s: %s (at %s, Content-Type %s)",
            item.url if item is not None else response.url,
            reason,
            response.url,
            _header(response, b"Content-Type"),
        )


def _failure_reason(failure: Failure) -> str:
    if isinstance(failure.value, HttpError):
        return f"http_{failure.value.response.status}"
    if isinstance(failure.value, PageRefused):
        return failure.value.reason
    return failure.type.__name__ if failure.type else "error"


def _header(response: Response, name: bytes) -> str | None:
    value = response.headers.get(name)
    return value.decode("latin-1") if value else None


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)
