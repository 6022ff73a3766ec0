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

import datetime as dt
import logging
import re
from dataclasses import replace
from html import escape
from typing import TYPE_CHECKING, Any, Self
from urllib.parse import urlsplit

import scrapy
from lxml import etree
from parsel.csstranslator import css2xpath
from scrapy import signals
from scrapy.exceptions import DontCloseSpider, NotConfigured
from scrapy.http import Request, Response, TextResponse
from scrapy.selector import Selector
from scrapy.spidermiddlewares.httperror import HttpError

from crawler import stats_keys as keys
from crawler.distributed import apply_redis_settings
from crawler.incremental import MODES, ListingMemory
from crawler.layout import (
    DEFAULT,
    ArticleParts,
    CompiledLayout,
    Layout,
    ListingEntry,
    compile_layout,
    listing_number,
    visible_text,
)
from crawler.layout.generic import generic_reading
from crawler.layout.induce import cold_known, induce_listing
from crawler.layout.memory import LayoutMemory
from crawler.layout.prove import ListingExample
from crawler.layout.reading import parse as parse_page
from crawler.layout.relearn import Learning
from crawler.layout.relearn import now as relearn_now
from crawler.middlewares import PageRefused
from crawler.scheduler import WORKER_LOCAL
from crawler.urls import canonical_url, normalize_url, page_number, same_host
from pipelines.items import (
    ArticleItem,
    ForgetLinksItem,
    LayoutAdoptedItem,
    ListingItem,
    PageStatusItem,
    WalkCompleteItem,
    WalkStartedItem,
)
from pipelines.rules import clean_title, parse_day
from pipelines.rules.dates import SHANGHAI
from storage.layouts import GENERIC, StoredArticle

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Iterator

    from scrapy.crawler import Crawler
    from scrapy.settings import BaseSettings
    from twisted.python.failure import Failure

logger = logging.getLogger(__name__)

__all__ = ["MODES", "NewsSpider", "visible_text"]

# Where the CMS sends a deleted article: the home page or a category listing.
_NOT_AN_ARTICLE = re.compile(r"^/(?:index\.\w+)?$|^/news/[^/]+/(?:list_\d+\.html)?$")
# An article's URL (the contract's, kept through any redesign).
_ARTICLE_PATH = re.compile(r"^/news/[^/]+/\d{4}/\d{4}/\d+(?:_\d+)?\.html$")
# Article pages the layout cannot read before they are a layout failure (if they also
# outnumber those it reads): one odd page is page noise.
_ARTICLE_SIGNS = 3
_ALL_HREFS = etree.XPath("//a/@href", smart_strings=False)


# How much of a page's end the item keeps (pipelines/suspect.py tells a cut page by it).
_TAIL_CHARS = 512


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
        # The shipped layout, its content container as NEWS_CONTENT_SELECTOR says.
        spider.shipped_layout = replace(
            DEFAULT,
            content=tuple(
                css2xpath(selector.strip())
                for selector in settings.get("NEWS_CONTENT_SELECTOR").split(",")
                if selector.strip()
            ),
        )
        spider.memory = ListingMemory.from_crawler(crawler, spider.mode)
        spider.layouts = LayoutMemory.from_crawler(crawler)
        spider.seen_entries = []
        spider.undecided = []
        spider.items_of = {}
        crawler.signals.connect(spider._idle, signal=signals.spider_idle)
        return spider

    allowed_domains: list[str]
    categories: dict[str, str]
    max_listing_pages: int
    max_article_pages: int
    shipped_layout: Layout
    memory: ListingMemory
    """What earlier runs stored: asked, never written (see crawler/incremental.py)."""
    layouts: LayoutMemory
    """The stored layouts and the stored articles that prove one (crawler/layout/memory.py)."""
    _layout: CompiledLayout | None = None
    learning: Learning | None = None
    """The relearning under way, when the active layout stopped reading the site."""
    layout_failed: str | None = None
    """Why no layout could be proven in this run: nothing more is read with one."""
    generic: str | None = None
    """Why the generic extractor reads the article pages in this run (no layout proven)."""
    seen_entries: list[tuple[str, ListingEntry, str]]
    """(category, entry, listing URL) of the first listing items read: a cold start
    learns from them."""
    undecided: list[TextResponse]
    """Article pages the layout could not read, not yet judged noise or layout failure."""
    items_of: dict[int, ArticleItem]
    articles_read: int = 0
    signs_released: int = 0
    relearned: bool = False
    """This run judged the layout once: later pages it cannot read are page noise."""

    @property
    def layout(self) -> CompiledLayout:
        """The active layout: the one stored last (or pinned), else the shipped one."""
        if self._layout is None:
            self._layout = compile_layout(self.layouts.active() or self.shipped_layout)
        return self._layout

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
        entries = self.layout.listing_entries(root)
        if not entries and not self.relearned and _links_articles(root, response.url):
            # The page links articles but the layout finds no item: a layout failure.
            yield from self._layout_failure(
                "parse_listing",
                response,
                {"slug": slug, "page": page, "resumable": resumable},
                "listing without items",
            )
            return
        if len(self.seen_entries) < 64:
            self.seen_entries.extend((slug, entry, response.url) for entry in entries[:16])
        links = list(self._listing_links(response, entries))
        if resumable is None:
            resumable = self.memory.walk_resumable(slug)
            yield WalkStartedItem(slug, name)
        self.crawler.stats.inc_value(keys.LISTING_PAGES)
        self.crawler.stats.inc_value(keys.LISTING_LINKS, len(links))

        dates = [(url, data["listing_date_raw"]) for url, data in links]
        plan = self.memory.plan(slug, dates, resumable=resumable)
        next_href = None if plan.stop else self._next_href(response, root, page)
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

    def _next_href(self, response: TextResponse, root: Any, page: int) -> str | None:
        """The link to this listing's next page: told by its URL (list_<n+1>.html in the
        same folder), among the links the layout's pager holds."""
        folder = response.url.split("?")[0].rsplit("/", 1)[0]
        for href in self.layout.next_page_hrefs(root):
            try:
                url = normalize_url(href, response.url)
            except ValueError:
                continue
            if url.rsplit("/", 1)[0] == folder and listing_number(url) == page + 1:
                return href
        return None

    def _listing_links(
        self, response: TextResponse, entries: list[ListingEntry]
    ) -> Iterator[tuple[str, dict[str, Any]]]:
        """(canonical URL, listing data) of each item of a listing page, on this site only."""
        for entry in entries:
            href = entry.href
            try:
                url = canonical_url(href, response.url)
            except ValueError as error:
                logger.warning("Unusable listing link %r on %s: %s", href, response.url, error)
                self.crawler.stats.inc_value(keys.LISTING_BAD_LINK)
                continue
            if not same_host(url, self.base_url):
                self.crawler.stats.inc_value(keys.LISTING_OFFSITE_LINK)
                continue
            yield (
                url,
                {
                    "listing_title": entry.title,
                    "listing_text": entry.text,
                    "listing_date_raw": entry.date_raw,
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

    def parse_article(
        self, response: Response, item: ArticleItem, noise: bool = False
    ) -> Iterator[Any]:
        """`noise`: a page the layout could not read, judged page noise (see _undecided)."""
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
        parts = self.layout.article_parts(root)
        broken = parts.title_raw is None or parts.content is None
        if broken and self.generic:
            yield from self._generic_article(response, item)
            return
        if broken and not noise and (not self.relearned or self.layout_failed):
            yield from self._undecided(response, item)
            return
        if not broken:
            self.articles_read += 1
        item.page_urls.append(response.url)
        item.etag = _header(response, b"ETag")
        item.last_modified = _header(response, b"Last-Modified")
        item.layout_version = self.layout.version
        item.title_raw = parts.title_raw
        if parts.info_parts is not None:
            item.info_parts = parts.info_parts
            item.published_raw = parts.published_raw
        self._add_content(response, parts, item)

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
        layout = self._layout_of(item)
        self._add_content(response, layout.article_parts(_page_root(response)), item)
        yield self._page_request(pages, item) if pages else item

    def _layout_of(self, item: ArticleItem) -> CompiledLayout:
        """The layout that read the article's first page, to read the further ones with:
        on a shared frontier another worker may have read it, with another layout."""
        version = item.layout_version
        if version is None or version == self.layout.version:
            return self.layout
        if version == self.shipped_layout.version:
            return compile_layout(self.shipped_layout)
        stored = self.layouts.stored(version)
        return compile_layout(stored) if stored is not None else self.layout

    def _add_content(self, response: TextResponse, parts: ArticleParts, item: ArticleItem) -> None:
        item.page_tails.append(response.text[-_TAIL_CHARS:])
        # The first selector that matches wins: a wrapper that gained a later selector's
        # id (a redesign) does not outrank the container itself.
        if parts.content is not None:
            item.content.append(parts.content)
            item.content_chrome.extend(parts.furniture or [])
        else:
            self.crawler.stats.inc_value(keys.ARTICLE_NO_CONTENT)
            logger.warning("No content container on %s", response.url)

    def _further_pages(self, response: TextResponse, root: Any, article_url: str) -> list[str]:
        """URLs of the 2nd, 3rd… pages of this article, in page order."""
        found: dict[int, str] = {}
        for href in self.layout.page_hrefs(root):
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

    # -- the layout: detect, relearn, prove, adopt (crawler/layout/) --------------------

    def _undecided(self, response: TextResponse, item: ArticleItem) -> Iterator[Any]:
        """An article page the layout reads no headline or no content in. One such page
        among pages read fine is page noise; once they are _ARTICLE_SIGNS and outnumber
        them, the layout failed: they are all held while it is relearned. Pages still
        undecided when the crawl runs dry are read as noise (spider_idle)."""
        self.undecided.append(response)
        self.items_of[id(response)] = item
        if self.learning is None and self._adopted_elsewhere():
            yield from self._read_undecided(noise=False)
            return
        signs = len(self.undecided) + self.signs_released
        if (
            self.learning is None
            and not self.layout_failed
            and (signs < _ARTICLE_SIGNS or signs <= self.articles_read)
        ):
            return
        pages, self.undecided = self.undecided, []
        for page in pages:
            yield from self._layout_failure(
                "parse_article",
                page,
                {"item": self.items_of.pop(id(page))},
                "article without headline or content",
            )

    def release_undecided(self, response_or_failure: Any) -> Iterator[Any]:
        """The crawl ran dry with pages still undecided: they were page noise (whatever
        the request that woke the spider got), unless another worker adopted a layout
        meanwhile: then they are read with it."""
        del response_or_failure
        if self._adopted_elsewhere():
            yield from self._read_undecided(noise=False)
            return
        self.signs_released += len(self.undecided)
        yield from self._read_undecided(noise=True)

    def _read_undecided(self, *, noise: bool) -> Iterator[Any]:
        pages, self.undecided = self.undecided, []
        for page in pages:
            yield from self.parse_article(page, self.items_of.pop(id(page)), noise=noise)

    def _adopted_elsewhere(self) -> bool:
        """Whether another worker (or run) stored a layout since this one read its own:
        read with it from now on, as a new run would (it was proven where it was learned)."""
        adopted = self.layouts.active()
        if adopted is None or adopted.version == self.layout.version:
            return False
        logger.info("Reading with layout %s, stored by another worker meanwhile", adopted.version)
        self._layout = compile_layout(adopted)
        self.crawler.stats.set_value(keys.LAYOUT_VERSION, adopted.version)
        return True

    def _idle(self) -> None:
        learning = self.learning
        if learning is not None and not learning.started and not learning.pending:
            # A cold start waiting for listings that went to other workers: asks for them.
            requests = self._listing_examples(learning)
            for request in requests:
                self.crawler.engine.crawl(request)
            if requests:
                raise DontCloseSpider
        if self.undecided and learning is None:
            self.crawler.engine.crawl(
                Request(
                    self.undecided[0].url,
                    callback=self.release_undecided,
                    errback=self.release_undecided,
                    dont_filter=True,
                    priority=30,
                    meta={WORKER_LOCAL: True},
                )
            )
            raise DontCloseSpider

    def _layout_failure(
        self, callback: str, response: TextResponse, kwargs: dict[str, Any], sign: str
    ) -> Iterator[Any]:
        """A page the active layout cannot read: held while the layout is relearned from
        stored articles, then read again with whatever was proven."""
        self.crawler.stats.inc_value(f"{keys.LAYOUT_SIGN}{sign.replace(' ', '_')}")
        if self.layout_failed:
            # Nothing is stored from a layout that could not be proven.
            self.crawler.stats.inc_value(keys.LAYOUT_HELD_DROPPED)
            return
        if self.learning is None:
            if self._adopted_elsewhere():
                yield from getattr(self, callback)(response, **kwargs)
                return
            stored, count = self.layouts.sample()
            # INFO: the run's one WARNING is the adoption's (pipelines/layout.py).
            logger.info(
                "%s at %s: relearning the site's layout from %d stored articles",
                sign.capitalize(),
                response.url,
                len(stored),
            )
            self.learning = Learning(
                stored, count, pending=len(stored), cold=not stored, started=bool(stored)
            )
            yield from self._sample_requests(stored)
        learning = self.learning
        learning.held.append((callback, response, kwargs))
        if callback == "parse_listing" and kwargs["page"] == 1:
            learning.asked.add(kwargs["slug"])
            self._add_listing_example(learning, response, kwargs["slug"])
        if (
            not learning.started
            and not learning.pending
            and (callback == "parse_article" or learning.asked >= self.categories.keys())
        ):
            yield from self._start_cold(learning)
        else:
            yield from self._advance()

    def _add_listing_example(self, learning: Learning, response: TextResponse, slug: str) -> None:
        known = (
            cold_known(response.text, response.url)
            if learning.cold
            else self.layouts.known_links(slug)
        )
        if known and all(example.url != response.url for example in learning.listings):
            learning.listings.append(ListingExample(response.url, slug, response.text, known))
            # In the categories' order, whichever arrived first: the same examples give
            # the same layout on every worker.
            order = list(self.categories)
            learning.listings.sort(key=lambda example: order.index(example.slug))

    def _listing_examples(self, learning: Learning) -> list[Request]:
        """Page 1 of each listing this relearning holds no example of: on a shared
        frontier the others went to other workers, and workers that learn at once must
        learn from the same examples (so the same layout, one version)."""
        missing = [slug for slug in self.categories if slug not in learning.asked]
        learning.asked.update(missing)
        learning.pending += len(missing)
        return [
            Request(
                f"{self.base_url}/news/{slug}/",
                callback=self.parse_listing_example,
                errback=self.example_failed,
                cb_kwargs={"slug": slug},
                dont_filter=True,
                priority=20,
                meta={WORKER_LOCAL: True},
            )
            for slug in missing
        ]

    def parse_listing_example(self, response: Response, slug: str) -> Iterator[Any]:
        if self.learning is not None and isinstance(response, TextResponse):
            self._add_listing_example(self.learning, response, slug)
        yield from self._example_done()

    def example_failed(self, failure: Failure) -> Iterator[Any]:
        request = failure.request  # type: ignore[attr-defined]  # set by Scrapy on errbacks
        self.crawler.stats.inc_value(keys.LAYOUT_SAMPLE_FAILED)
        logger.info("Listing %s not fetched as an example: %s", request.url, failure.value)
        yield from self._example_done()

    def _example_done(self) -> Iterator[Any]:
        learning = self.learning
        if learning is None:
            return
        learning.pending -= 1
        if learning.pending > 0:
            return
        if learning.started:
            yield from self._advance()
        else:
            yield from self._start_cold(learning)

    def _advance(self) -> Iterator[Any]:
        """Once nothing asked for is pending: page 1 of the listings not held yet, when
        any listing failed (they are examples too), then the verdict."""
        learning = self.learning
        if learning is None or not learning.started or learning.pending > 0:
            return
        requests = self._listing_examples(learning) if learning.asked else []
        if requests:
            yield from requests
        else:
            yield from self._conclude()

    def _start_cold(self, learning: Learning) -> Iterator[Any]:
        """Nothing stored: request the articles the listings name, each with the title
        and day its listing gives, as the examples."""
        learning.started = True
        if learning.listings:
            listing = induce_listing(learning.listings, self.layout.layout)
            layout = compile_layout(listing) if listing else self.layout
            entries = [
                (example.slug, entry, example.url)
                for example in learning.listings
                for entry in layout.listing_entries(parse_page(example.html))
            ]
        else:
            entries = [(slug, entry, url) for slug, entry, url in self.seen_entries]
        by_slug: dict[str, list[StoredArticle]] = {}
        seen: set[str] = set()
        for slug, entry, page_url in entries:
            listed = _listed_article(slug, entry, page_url)
            if listed is not None and listed.url not in seen:
                seen.add(listed.url)
                by_slug.setdefault(slug, []).append(listed)
        queues = list(by_slug.values())
        while len(learning.stored) < self.layouts.sample_size and any(queues):
            for queue in queues:
                if queue and len(learning.stored) < self.layouts.sample_size:
                    learning.stored.append(queue.pop(0))
        learning.pending = len(learning.stored)
        logger.info(
            "Nothing stored: learning the site's layout from %d listed articles", learning.pending
        )
        yield from self._sample_requests(learning.stored)
        yield from self._advance()

    def _sample_requests(self, articles: list[StoredArticle]) -> Iterator[Request]:
        for index, article in enumerate(articles):
            yield Request(
                article.url,
                callback=self.parse_sample,
                errback=self.sample_failed,
                cb_kwargs={"index": index, "pages": [], "rest": None},
                dont_filter=True,
                priority=20,
                meta={WORKER_LOCAL: True},
            )

    def _generic_article(self, response: TextResponse, item: ArticleItem) -> Iterator[Any]:
        """No layout proven: the generic extractor's reading, marked (one page only). It
        keeps no validators, so no 304 keeps a later run's layout from reading it again."""
        reading = generic_reading(response.text)
        self.crawler.stats.inc_value(keys.LAYOUT_GENERIC)
        item.page_urls.append(response.url)
        item.layout_version = GENERIC
        item.published_raw = reading.date
        item.content = ["".join(f"<p>{escape(line)}</p>" for line in reading.lines)]
        item.page_tails.append(response.text[-_TAIL_CHARS:])
        yield item

    def parse_sample(
        self, response: Response, index: int, pages: list[str], rest: list[str] | None
    ) -> Iterator[Any]:
        """A stored article's page, fetched as an example for the layout's proof."""
        if self.learning is None:
            return
        if not isinstance(response, TextResponse):
            yield from self._sample_done(index, None)
            return
        pages = [*pages, response.text]
        if rest is None:
            article = canonical_url(response.url)
            found: dict[int, str] = {}
            for href in _ALL_HREFS(_page_root(response)):
                try:
                    url = normalize_url(str(href), response.url)
                except ValueError:
                    continue
                if page_number(url) > 1 and canonical_url(url) == article:
                    found.setdefault(page_number(url), url)
            rest = [found[n] for n in sorted(found)][: self.max_article_pages - 1]
        if rest:
            yield Request(
                rest[0],
                callback=self.parse_sample,
                errback=self.sample_failed,
                cb_kwargs={"index": index, "pages": pages, "rest": rest[1:]},
                dont_filter=True,
                priority=20,
                meta={WORKER_LOCAL: True},
            )
            return
        yield from self._sample_done(index, pages)

    def sample_failed(self, failure: Failure) -> Iterator[Any]:
        request = failure.request  # type: ignore[attr-defined]  # set by Scrapy on errbacks
        self.crawler.stats.inc_value(keys.LAYOUT_SAMPLE_FAILED)
        logger.info("Stored article %s not fetched as an example: %s", request.url, failure.value)
        yield from self._sample_done(request.cb_kwargs["index"], None)

    def _sample_done(self, index: int, pages: list[str] | None) -> Iterator[Any]:
        if self.learning is not None and pages:
            self.learning.pages[index] = pages
        yield from self._example_done()

    def _conclude(self) -> Iterator[Any]:
        learning, self.learning = self.learning, None
        assert learning is not None
        self.relearned = True
        # Another worker may have stored a layout while this one learned: judged first.
        adopted = self.layouts.active()
        if adopted is not None and adopted.version == self.layout.version:
            adopted = None
        verdict = learning.conclude(self.layout.layout, adopted)
        if (
            verdict.changed
            and verdict.layout is not None
            and verdict.layout.version in self.layouts.forgotten()
        ):
            version = verdict.layout.version
            verdict.layout = None
            verdict.message = f"the layout learned again ({version}) was forgotten by an operator"
        if verdict.layout is None and learning.cold and (verdict.listing or not learning.listings):
            # The listings read (by the active layout, or by the listing part learned from
            # their titled items), the articles not: each stored as the generic extractor
            # reads it, marked, and the run fails (a later run replaces them).
            if verdict.listing is not None:
                self._layout = compile_layout(verdict.listing)
            self.generic = verdict.message
            logger.error(
                "site layout unknown and no layout could be proven: %s; articles are stored "
                "by the generic extractor, marked as such",
                verdict.message,
            )
        elif verdict.layout is None:
            self.layout_failed = verdict.message
            self.crawler.stats.set_value(keys.LAYOUT_UNPROVEN, verdict.message)
            self.crawler.stats.inc_value(keys.LAYOUT_HELD_DROPPED, len(learning.held))
            logger.error(
                "site layout changed and no layout could be proven: %s; nothing is stored "
                "from it (see ecnews layout show)",
                verdict.message,
            )
            return
        if verdict.layout is not None and verdict.layout.version != self.layout.version:
            self._layout = compile_layout(verdict.layout)
            self.crawler.stats.set_value(keys.LAYOUT_VERSION, self._layout.version)
            if not verdict.changed:
                logger.info(
                    "Reading with layout %s, adopted by another worker: it reproduces this "
                    "worker's examples too",
                    self._layout.version,
                )
        if verdict.layout is not None and verdict.changed:
            # The WARNING is the pipeline's: only the worker whose store wins says it.
            yield LayoutAdoptedItem(
                verdict.layout.version,
                verdict.layout.to_json(),
                verdict.proof.evidence(relearn_now()),
                verdict.message,
            )
        for callback, response, kwargs in learning.held:
            yield from getattr(self, callback)(response, **kwargs)

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


def _listed_article(slug: str, entry: ListingEntry, page_url: str) -> StoredArticle | None:
    """What a listing item says of its article (full title, day): a cold start's example."""
    title = clean_title(entry.title)
    day = parse_day(entry.date_raw)
    if not title or day is None:
        return None
    try:
        url = canonical_url(entry.href, page_url)
    except ValueError:
        return None
    return StoredArticle(
        url=url,
        category_slug=slug,
        title=title,
        body="",
        published_at=dt.datetime.combine(day, dt.time(), tzinfo=SHANGHAI),
        date_precision=None,
        source=None,
        source_title=None,
        author=None,
        listing_date=day,
    )


def _links_articles(root: Any, page_url: str) -> bool:
    """Whether a page links any article of the site (by the contract's URL pattern)."""
    for href in _ALL_HREFS(root):
        try:
            if _ARTICLE_PATH.match(urlsplit(normalize_url(str(href), page_url)).path):
                return True
        except ValueError:
            continue
    return False


def _failure_reason(failure: Failure) -> str:
    if isinstance(failure.value, HttpError):
        return f"http_{failure.value.response.status}"
    if isinstance(failure.value, PageRefused):
        return failure.value.reason
    return failure.type.__name__ if failure.type else "error"


def _header(response: Response, name: bytes) -> str | None:
    value = response.headers.get(name)
    return value.decode("latin-1") if value else None
