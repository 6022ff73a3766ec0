"""The `news` spider: category listings -> article pages -> further pages of an article.

It only parses: raw values out of each page (see pipelines/items.py), with XPath
expressions compiled once and run on the page's single lxml tree. What earlier runs
stored (known links, validators, walk state) it asks of `ListingMemory`
(crawler/incremental.py); everything it has to say to storage travels as items.
Listing data the article page lacks (category, listing date, link title) travels with
the request in `cb_kwargs`. Every listing page is also yielded as a ListingItem, so an
article listed in several categories gets all of them although it is fetched once.
"""

from __future__ import annotations

import logging
import re
from typing import TYPE_CHECKING, Any, Self
from urllib.parse import urlsplit

import scrapy
from lxml import etree
from parsel.csstranslator import css2xpath
from scrapy.exceptions import NotConfigured
from scrapy.http import Request, Response, TextResponse
from scrapy.selector import Selector
from scrapy.spidermiddlewares.httperror import HttpError

from crawler import stats_keys as keys
from crawler.distributed import apply_redis_settings
from crawler.incremental import MODES, ListingMemory
from crawler.middlewares import PageRefused
from crawler.urls import canonical_url, normalize_url, page_number, same_host
from pipelines.items import (
    ArticleItem,
    ForgetLinksItem,
    ListingItem,
    PageStatusItem,
    WalkCompleteItem,
    WalkStartedItem,
)

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Iterator

    from scrapy.crawler import Crawler
    from scrapy.settings import BaseSettings
    from twisted.python.failure import Failure

logger = logging.getLogger(__name__)

__all__ = ["MODES", "NewsSpider", "visible_text"]

# Where the CMS sends a deleted article: the home page or a category listing.
_NOT_AN_ARTICLE = re.compile(r"^/(?:index\.\w+)?$|^/news/[^/]+/(?:list_\d+\.html)?$")


def _xpath(css_or_xpath: str, *, css: bool = True) -> etree.XPath:
    return etree.XPath(css2xpath(css_or_xpath) if css else css_or_xpath, smart_strings=False)


# Compiled once: building selectors per page was a good part of the spider's cost.
# Text of an element without the scripts and styles inside it (the views counter is a script).
_VISIBLE_TEXT = _xpath(".//text()[not(ancestor::script) and not(ancestor::style)]", css=False)
_LISTING_ENTRIES = _xpath("ul.news-list > li")
_ENTRY_HEADLINE_LINK = _xpath("h3 a")
_ENTRY_LINK = _xpath("a")
_ENTRY_DATE = _xpath(".date")
_NEXT_PAGE = _xpath(
    '//div[contains(@class, "pagelist")]//a[contains(normalize-space(.), "下一页")]/@href',
    css=False,
)
_ARTICLE = _xpath("div.article")
_TITLE = _xpath("h1.article-title")
_ANY_H1 = _xpath("h1")
_INFO = _xpath("div.article-info")
_INFO_PARTS = _xpath("./*", css=False)
_INFO_TIME = _xpath(".time")
_PAGE_LINKS = _xpath("div.article-pages a::attr(href)")
# Page furniture that never belongs inside an article's content container.
_CHROME = {
    "h1": _xpath(".//h1", css=False),
    "nav": _xpath(
        ".//nav | .//ul[contains(concat(' ', normalize-space(@class), ' '), ' nav ')]", css=False
    ),
    "article-info": _xpath(".//*[contains(@class, 'article-info')]", css=False),
    "breadcrumb": _xpath(
        ".//*[contains(@class, 'breadcrumb') or contains(@class, 'crumb')]", css=False
    ),
    "pagelist": _xpath(".//*[contains(@class, 'pagelist')]", css=False),
    "footer": _xpath(".//footer | .//*[contains(@class, 'footer')]", css=False),
}
# How much of a page's end the item keeps (pipelines/suspect.py tells a cut page by it).
_TAIL_CHARS = 512


def visible_text(*elements: Any) -> str:
    """The reader-visible text of these lxml elements, concatenated."""
    return "".join(text for element in elements for text in _VISIBLE_TEXT(element))


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
        spider.content_xpaths = [
            _xpath(selector.strip())
            for selector in settings.get("NEWS_CONTENT_SELECTOR").split(",")
            if selector.strip()
        ]
        spider.memory = ListingMemory.from_crawler(crawler, spider.mode)
        return spider

    allowed_domains: list[str]
    categories: dict[str, str]
    max_listing_pages: int
    max_article_pages: int
    content_xpaths: list[etree.XPath]
    """The content container's selectors, in order of preference."""
    memory: ListingMemory
    """What earlier runs stored: asked, never written (see crawler/incremental.py)."""

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
        root = _page_root(response)
        links = list(self._listing_links(response, root))
        if resumable is None:
            resumable = self.memory.walk_resumable(slug)
            yield WalkStartedItem(slug, name)
        self.crawler.stats.inc_value(keys.LISTING_PAGES)
        self.crawler.stats.inc_value(keys.LISTING_LINKS, len(links))

        dates = [(url, data["listing_date_raw"]) for url, data in links]
        plan = self.memory.plan(slug, dates, resumable=resumable)
        next_href = None if plan.stop else next(iter(_NEXT_PAGE(root)), None)
        next_page = None
        if next_href and page < self.max_listing_pages:
            next_page = response.follow(
                next_href,
                callback=self.parse_listing,
                errback=self.listing_failed,
                cb_kwargs={"slug": slug, "page": page + 1, "resumable": resumable},
                priority=10,
            )
        # The next page is requested once these links are stored (crawler/listing_gate.py).
        yield ListingItem(slug, name, dates, next_page=next_page)
        listed = dict(links)
        for url in dict.fromkeys(plan.fetch):
            yield self._article_request(url, slug, name, listed[url], plan.validators.get(url))

        if plan.stop:
            self.crawler.stats.inc_value(keys.LISTING_STOPPED_EARLY)
            logger.info("Listing %s page %d holds only stored articles: stop here", slug, page)
            yield WalkCompleteItem(slug)
        elif next_href and next_page is None:
            # The safety stop: the walk did not end, so it is not recorded as complete
            # (the next run walks the whole listing), and the run fails (crawler/monitors.py).
            self.crawler.stats.inc_value(keys.LISTING_SAFETY_STOP)
            logger.error("Listing %s still links a next page after %d pages", slug, page)
        elif next_page is None:
            unresolved = self.memory.walk_ended(slug)
            if unresolved:
                # Walked to the end without meeting them: no longer listed, stop waiting.
                logger.info("%d unresolved %s links are no longer listed", len(unresolved), slug)
                yield ForgetLinksItem(slug, unresolved)
            yield WalkCompleteItem(slug)

    def listing_failed(self, failure: Failure) -> None:
        request = failure.request  # type: ignore[attr-defined]  # set by Scrapy on errbacks
        reason = _failure_reason(failure)
        # Its links are not followed in this run: the next run walks the listing again.
        self.crawler.stats.inc_value(f"{keys.LISTING_FAILED_BY}{reason}")
        self.crawler.stats.inc_value(keys.LISTING_FAILED)
        logger.error(
            "Listing %s page %s failed (%s) at %s",
            request.cb_kwargs.get("slug"),
            request.cb_kwargs.get("page"),
            reason,
            request.url,
        )

    def _listing_links(
        self, response: TextResponse, root: Any
    ) -> Iterator[tuple[str, dict[str, Any]]]:
        """(canonical URL, listing data) of each item of a listing page, on this site only."""
        for entry in _LISTING_ENTRIES(root):
            anchors = _ENTRY_HEADLINE_LINK(entry) or _ENTRY_LINK(entry)
            anchor = anchors[0] if anchors else None
            href = anchor.get("href") if anchor is not None else None
            if anchor is None or not href:
                continue
            try:
                url = canonical_url(href, response.url)
            except ValueError as error:
                logger.warning("Unusable listing link %r on %s: %s", href, response.url, error)
                self.crawler.stats.inc_value(keys.LISTING_BAD_LINK)
                continue
            if not same_host(url, self.base_url):
                self.crawler.stats.inc_value(keys.LISTING_OFFSITE_LINK)
                continue
            date = _ENTRY_DATE(entry)
            yield (
                url,
                {
                    "listing_title": anchor.get("title"),
                    "listing_text": visible_text(anchor),
                    "listing_date_raw": _own_text(date[0]) if date else None,
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
            self.crawler.stats.inc_value(keys.ARTICLE_NOT_MODIFIED)
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
        root = _page_root(response)
        item.page_urls.append(response.url)
        item.etag = _header(response, b"ETag")
        item.last_modified = _header(response, b"Last-Modified")
        articles = _ARTICLE(root)
        article = articles[0] if articles else root
        headings = _TITLE(article) or _ANY_H1(article)
        item.title_raw = visible_text(headings[0]) if headings else None
        info = _INFO(article)
        if info:
            item.info_parts = [visible_text(part) for part in _INFO_PARTS(info[0])]
            item.published_raw = visible_text(*_INFO_TIME(info[0])) or None
        self._add_content(response, root, item)

        pages = self._further_pages(response, root, item.url)
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
        self._add_content(response, _page_root(response), item)
        yield self._page_request(pages, item) if pages else item

    def _add_content(self, response: TextResponse, root: Any, item: ArticleItem) -> None:
        item.page_tails.append(response.text[-_TAIL_CHARS:])
        # The first selector that matches wins: a wrapper that gained a later selector's
        # id (a redesign) does not outrank the container itself.
        content = next((found for xpath in self.content_xpaths if (found := xpath(root))), None)
        if content:
            node = content[0]
            item.content.append(node)
            item.content_chrome.extend(name for name, xpath in _CHROME.items() if xpath(node))
        else:
            self.crawler.stats.inc_value(keys.ARTICLE_NO_CONTENT)
            logger.warning("No content container on %s", response.url)

    def _further_pages(self, response: TextResponse, root: Any, article_url: str) -> list[str]:
        """URLs of the 2nd, 3rd… pages of this article, in page order."""
        found: dict[int, str] = {}
        for href in _PAGE_LINKS(root):
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
        # The item travels in the request, which a job directory or the shared frontier
        # stores: pages read so far go as HTML (lxml trees cannot be pickled).
        item.content = [
            node
            if isinstance(node, str)
            else etree.tostring(node, encoding="unicode", with_tail=False)
            for node in item.content
        ]
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
                self.crawler.stats.inc_value(keys.ARTICLE_GONE)
                logger.info("Listed article %s is gone (404)", request.url)
                yield PageStatusItem(item.url, 404)
                return
        if isinstance(failure.value, PageRefused):
            # Off-site or looping redirects, oversized pages: asking again in the next run
            # would change nothing, so they do not fail the run (news/refused/<reason>).
            self.crawler.stats.inc_value(keys.ARTICLE_REFUSED)
            logger.warning("Article %s not stored: %s", item.url, failure.value)
            return
        reason = _failure_reason(failure)
        # Nothing is stored for it: the next run requests it again.
        self.crawler.stats.inc_value(f"{keys.ARTICLE_FAILED_BY}{reason}")
        self.crawler.stats.inc_value(keys.ARTICLE_FAILED)
        logger.error("Article %s failed (%s) at %s", item.url, reason, request.url)

    def _skip(self, response: Response, reason: str, item: ArticleItem | None = None) -> None:
        self.crawler.stats.inc_value(f"{keys.SKIPPED}{reason}")
        logger.warning(
            "Skipped %s: %s (at %s, Content-Type %s)",
            item.url if item is not None else response.url,
            reason,
            response.url,
            _header(response, b"Content-Type"),
        )


def _page_root(response: TextResponse) -> Any:
    """The page's lxml tree. Not `response.selector`: the response caches it and it refers
    back to the response, a cycle only the collector frees, so each page's tree would
    outlive the page until the next collection (rare with GC_THRESHOLD)."""
    return Selector(response).root


def _own_text(element: Any) -> str:
    """The element's own text nodes (CSS `::text`), concatenated."""
    return "".join(element.xpath("text()", smart_strings=False))


def _failure_reason(failure: Failure) -> str:
    if isinstance(failure.value, HttpError):
        return f"http_{failure.value.response.status}"
    if isinstance(failure.value, PageRefused):
        return failure.value.reason
    return failure.type.__name__ if failure.type else "error"


def _header(response: Response, name: bytes) -> str | None:
    value = response.headers.get(name)
    return value.decode("latin-1") if value else None
