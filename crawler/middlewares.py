"""Downloader middlewares that keep the crawl on the site, patient with it, and honest
about what it received.

- ``SiteOnlyMiddleware`` refuses every request off the configured site's host and port,
  whatever its origin (a link, a redirect, a retry, robots.txt). Scrapy's own
  OffsiteMiddleware compares domains only, lets ``dont_filter`` requests through (every
  retry is one) and allows subdomains; this one does not.
- ``SiteRedirectMiddleware`` / ``SiteMetaRefreshMiddleware``: Scrapy's redirects, except
  that a redirect off the site, or back to a URL already in the chain (a loop), is not
  followed.
- ``BackoffRetryMiddleware``: Scrapy's retries, each after an exponential backoff, and
  never sooner than the server's ``Retry-After``; the wait does not block the reactor.
- ``SiteRobotsTxtMiddleware``: Scrapy's robots.txt, applied to every request, including
  those queued while robots.txt is in flight; a forbidden one is refused as
  ``robots_forbidden``.
- ``ResponseCheckMiddleware``: a page whose charset lies is re-read correctly
  (pipelines/rules/encoding.py), a binary body served as HTML is handed on as a plain
  (non-text) response, and a page over ``DOWNLOAD_MAXSIZE`` is named as such.

A page the crawl will not take raises ``PageRefused`` (an ``IgnoreRequest``): the
request's errback receives it, with the reason counted under ``news/refused/<reason>``.
"""

from __future__ import annotations

import datetime as dt
import logging
import random
from email.utils import parsedate_to_datetime
from typing import TYPE_CHECKING, Any, Self
from urllib.parse import urldefrag

from scrapy.downloadermiddlewares.redirect import MetaRefreshMiddleware, RedirectMiddleware
from scrapy.downloadermiddlewares.retry import RetryMiddleware
from scrapy.downloadermiddlewares.robotstxt import RobotsTxtMiddleware
from scrapy.exceptions import DownloadCancelledError, IgnoreRequest
from scrapy.http import Request, Response, TextResponse
from scrapy.utils.asyncio import sleep
from scrapy.utils.httpobj import urlparse_cached
from twisted.internet.defer import Deferred

from crawler import stats_keys as keys
from crawler.urls import same_host
from pipelines.rules.encoding import decode_html

if TYPE_CHECKING:
    from scrapy.crawler import Crawler
    from scrapy.robotstxt import RobotParser
    from scrapy.settings import BaseSettings
    from scrapy.statscollectors import StatsCollector

logger = logging.getLogger(__name__)

# Magic numbers of the binary files a CMS serves at .html URLs by mistake.
_BINARY_MAGIC = (b"%PDF-", b"\x89PNG", b"GIF87a", b"GIF89a", b"\xff\xd8\xff", b"PK\x03\x04")
_MAXSIZE_MESSAGE = "larger than download max size"


class PageRefused(IgnoreRequest):
    """The crawl will not take this page; `reason` is a short stats key."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(f"{reason}: {message}")
        self.reason = reason


def _refuse(stats: StatsCollector | None, reason: str, message: str) -> PageRefused:
    if stats is not None:
        stats.inc_value(f"{keys.REFUSED}{reason}")
    logger.warning("Refused: %s (%s)", message, reason)
    return PageRefused(reason, message)


def _site(crawler: Crawler) -> str | None:
    return getattr(crawler.spider, "base_url", None) or None


class SiteOnlyMiddleware:
    """No request leaves the configured site (host and port), even a `dont_filter` one."""

    def __init__(self, crawler: Crawler) -> None:
        self.crawler = crawler

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Self:
        return cls(crawler)

    def process_request(self, request: Request) -> None:
        site = _site(self.crawler)
        if site is None or same_host(request.url, site):
            return
        raise _refuse(self.crawler.stats, "offsite", f"{request.url} is not on {site}")


class SiteRobotsTxtMiddleware(RobotsTxtMiddleware):
    """Scrapy's robots.txt middleware, with every waiting request given the answer.

    Scrapy 2.19 keeps one Deferred per site while robots.txt is in flight, and every
    request queued meanwhile awaits it as an asyncio Future; ``Deferred.asFuture``
    consumes the result, so only the first waiter gets the parser and the others get
    None, which means "allowed" (with ``Disallow: /``, two listing pages got through).
    Once the Deferred has fired, Scrapy keeps the parser (or None when robots.txt could
    not be read) in ``_parsers``: every waiter reads it from there.
    """

    async def robot_parser(self, request: Request) -> RobotParser | None:
        parser = await super().robot_parser(request)
        if parser is not None:
            return parser
        kept = self._parsers.get(urlparse_cached(request).netloc)
        return None if isinstance(kept, Deferred) else kept

    def process_request_2(self, rp: RobotParser | None, request: Request) -> None:
        try:
            super().process_request_2(rp, request)
        except IgnoreRequest as error:
            # Named, so the spider's errbacks count it (news/listing/failed/robots_forbidden).
            raise _refuse(
                self.crawler.stats, keys.ROBOTS_FORBIDDEN, f"robots.txt forbids {request.url}"
            ) from error


class _SiteRedirects:
    """Checks a redirect Scrapy's middleware built before it is followed."""

    crawler: Crawler

    def _checked(self, request: Request, result: Request | Response) -> Request | Response:
        if not isinstance(result, Request):
            return result
        site = _site(self.crawler)
        if site is not None and not same_host(result.url, site):
            raise _refuse(
                self.crawler.stats,
                "offsite_redirect",
                f"{request.url} redirects off the site to {result.url}",
            )
        target = urldefrag(result.url).url
        if any(urldefrag(url).url == target for url in result.meta.get("redirect_urls", [])):
            raise _refuse(
                self.crawler.stats,
                "redirect_loop",
                f"{request.url} redirects back to {result.url}",
            )
        # Loops are caught above; the dupefilter would drop a redirect to a page already
        # fetched (a second deleted article sent to the home page) without a word.
        result.dont_filter = True
        return result

    def _too_many(self, request: Request, error: IgnoreRequest) -> PageRefused:
        return _refuse(self.crawler.stats, "too_many_redirects", f"{request.url}: {error}")


class SiteRedirectMiddleware(_SiteRedirects, RedirectMiddleware):
    def process_response(self, request: Request, response: Response) -> Request | Response:  # type: ignore[override]  # Scrapy's takes a deprecated spider argument
        try:
            result = super().process_response(request, response)
        except PageRefused:
            raise
        except IgnoreRequest as error:  # Scrapy's "max redirections reached"
            raise self._too_many(request, error) from error
        return self._checked(request, result)


class SiteMetaRefreshMiddleware(_SiteRedirects, MetaRefreshMiddleware):
    def process_response(self, request: Request, response: Response) -> Request | Response:  # type: ignore[override]  # Scrapy's takes a deprecated spider argument
        try:
            result = super().process_response(request, response)
        except PageRefused:
            raise
        except IgnoreRequest as error:
            raise self._too_many(request, error) from error
        return self._checked(request, result)


def retry_after_seconds(value: bytes | str | None, now: dt.datetime | None = None) -> float | None:
    """Seconds a `Retry-After` header asks to wait (delta-seconds or an HTTP date); None
    when absent or unreadable, never negative."""
    if not value:
        return None
    text = value.decode("latin-1") if isinstance(value, bytes) else value
    text = text.strip()
    if text.isdigit():
        return float(text)
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.UTC)
    return max(0.0, (when - (now or dt.datetime.now(dt.UTC))).total_seconds())


class BackoffRetryMiddleware(RetryMiddleware):
    """Retries after `RETRY_BACKOFF_BASE` * 2^(n-1) seconds (at most `RETRY_BACKOFF_MAX`),
    or after the server's `Retry-After` if longer. A `Retry-After` beyond
    `RETRY_AFTER_MAX` is honoured by not retrying in this run at all."""

    def __init__(self, settings: BaseSettings) -> None:
        super().__init__(settings)
        self.backoff_base = settings.getfloat("RETRY_BACKOFF_BASE")
        self.backoff_max = settings.getfloat("RETRY_BACKOFF_MAX")
        self.retry_after_max = settings.getfloat("RETRY_AFTER_MAX")

    def backoff(self, retry_times: int) -> float:
        """The wait before retry number `retry_times` (1, 2, …), up to a quarter more."""
        delay = min(self.backoff_max, self.backoff_base * 2.0 ** max(0, retry_times - 1))
        return delay * (1 + random.random() / 4)  # noqa: S311  # jitter, not cryptography

    async def process_response(  # type: ignore[override]  # Scrapy's takes a deprecated spider argument
        self, request: Request, response: Response
    ) -> Request | Response:
        wait_at_least = 0.0
        if response.status in self.retry_http_codes and not request.meta.get("dont_retry"):
            asked = retry_after_seconds(response.headers.get(b"Retry-After"))
            if asked is not None and asked > self.retry_after_max:
                self.crawler.stats.inc_value("retry/retry_after_too_long")
                logger.warning(
                    "%s asks to retry after %.0f s (more than RETRY_AFTER_MAX %.0f s): "
                    "not retried in this run",
                    request.url,
                    asked,
                    self.retry_after_max,
                )
                return response
            wait_at_least = asked or 0.0
            if asked is not None:
                self.crawler.stats.inc_value("retry/retry_after_honoured")
        result = super().process_response(request, response)
        if isinstance(result, Request):
            await self._wait(result, wait_at_least)
        return result

    async def process_exception(  # type: ignore[override]  # Scrapy's takes a deprecated spider argument
        self, request: Request, exception: Exception
    ) -> Request | Response | None:
        result = super().process_exception(request, exception)
        if isinstance(result, Request):
            await self._wait(result, 0.0)
        return result

    async def _wait(self, retry: Request, at_least: float) -> None:
        delay = max(at_least, self.backoff(int(retry.meta.get("retry_times", 1))))
        logger.info("Retrying %s in %.1f s", retry.url, delay)
        await sleep(delay)


class ResponseCheckMiddleware:
    """Charset lies, binary bodies and oversized pages, before anything parses a page."""

    def __init__(self, stats: StatsCollector) -> None:
        self.stats = stats

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Self:
        assert crawler.stats is not None
        return cls(crawler.stats)

    def process_response(self, request: Request, response: Response) -> Response:
        if not isinstance(response, TextResponse) or response.status != 200:
            return response
        body = response.body
        if body.lstrip().startswith(_BINARY_MAGIC):
            self.stats.inc_value(keys.BINARY_AS_TEXT)
            logger.warning(
                "%s is a binary file served as %s", response.url, _content_type(response)
            )
            return Response(
                response.url,
                status=response.status,
                headers=response.headers,
                body=body,
                flags=response.flags,
                request=response.request,
                certificate=response.certificate,
                ip_address=response.ip_address,
                protocol=response.protocol,
            )
        decoded = decode_html(body, _content_type(response))
        if decoded.problem is None:
            return response
        self.stats.inc_value(f"{keys.ENCODING}{decoded.problem}")
        logger.warning(
            "%s: charset %s (declared %s): %s",
            response.url,
            decoded.encoding,
            decoded.declared,
            decoded.problem,
        )
        return response.replace(body=decoded.text.encode("utf-8"), encoding="utf-8")

    def process_exception(self, request: Request, exception: Exception) -> None:
        if isinstance(exception, DownloadCancelledError) and _MAXSIZE_MESSAGE in str(exception):
            raise _refuse(self.stats, "too_large", str(exception)) from exception


def _content_type(response: Response) -> str | None:
    value: Any = response.headers.get(b"Content-Type")
    return value.decode("latin-1") if value else None
