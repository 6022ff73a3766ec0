"""Schedulers that close the run when their queue breaks, instead of failing forever.

Scrapy calls the scheduler on every heartbeat; when the queue itself fails (a JOBDIR on
a full or read-only disk: ENOSPC/EACCES on every push and pop; Redis gone mid-round) the
engine logs the traceback and calls again, so the run never ends and keeps its lock. Here
the first such error closes the spider with a reason that names it (counted in
`ecnews/scheduler/failed/<error>`); the monitors then fail the run (its finish reason is
not `finished`) and crawl_runs.reason says why. The requests still queued are fetched
again by the next run.
"""

from __future__ import annotations

import logging
import warnings
from collections import deque
from typing import TYPE_CHECKING, Any

import redis
from scrapy.core.scheduler import Scheduler
from scrapy.exceptions import ScrapyDeprecationWarning
from scrapy.utils.defer import deferred_from_coro
from scrapy_redis.scheduler import Scheduler as RedisScheduler

from crawler import stats_keys as keys

if TYPE_CHECKING:
    from scrapy.crawler import Crawler
    from scrapy.http import Request

logger = logging.getLogger(__name__)

# What a broken queue raises: the disk (OSError covers ENOSPC, EACCES, EROFS) or Redis.
QUEUE_ERRORS: tuple[type[BaseException], ...] = (OSError, redis.RedisError)
QUEUE_FAILED = "queue failed: "

# scrapy-redis passes `spider=` to the stats on every enqueue and dequeue, which Scrapy
# deprecates with a WARNING in every worker's every run: noise in cron's mail that is not
# ours to change (a run that met nothing new must be silent).
warnings.filterwarnings(
    "ignore",
    message=r"Passing a 'spider' argument to StatsCollector\.",
    category=ScrapyDeprecationWarning,
    module=r"scrapy_redis\.",
)

WORKER_LOCAL = "ecnews_worker_local"
"""Request meta: a request only the worker that made it can use (an example fetched for
its own relearning of the layout, a wake-up for pages it holds in memory). On the shared
frontier it stays in the worker's memory instead: another worker would pop it and have
nothing to give it to."""


def queue_failure(error: BaseException, where: str) -> str:
    """The close reason for `error`: what broke and the system's own words."""
    if isinstance(error, redis.RedisError):
        return f"{QUEUE_FAILED}Redis unreachable ({error})"
    if isinstance(error, OSError):
        detail = error.strerror or str(error)
        return f"{QUEUE_FAILED}cannot write the job directory {where} ({detail})"
    return f"{QUEUE_FAILED}{error}"


class _QueueGuard:
    """Turns the first queue error into a spider close; afterwards the queue is empty."""

    def __init__(self, crawler: Crawler, where: str) -> None:
        self.crawler = crawler
        self.where = where
        self.failed: str | None = None

    def fail(self, error: BaseException) -> None:
        if self.failed is not None:
            return
        self.failed = queue_failure(error, self.where)
        logger.error("Closing the crawl: %s", self.failed, exc_info=error)
        assert self.crawler.stats is not None
        self.crawler.stats.inc_value(f"{keys.SCHEDULER_FAILED_BY}{type(error).__name__}")
        assert self.crawler.engine is not None
        # Scheduled, not awaited: the scheduler is called synchronously by the engine.
        deferred_from_coro(self.crawler.engine.close_spider_async(reason=self.failed))


class GuardedScheduler(Scheduler):
    """Scrapy's scheduler (memory + JOBDIR disk queues), closed on a queue error."""

    guard: _QueueGuard

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Any:
        scheduler = super().from_crawler(crawler)
        scheduler.guard = _QueueGuard(crawler, str(crawler.settings.get("JOBDIR") or ""))
        return scheduler

    def enqueue_request(self, request: Request) -> bool:
        if self.guard.failed:
            return False
        try:
            return super().enqueue_request(request)
        except QUEUE_ERRORS as error:
            self.guard.fail(error)
            return False

    def next_request(self) -> Request | None:
        if self.guard.failed:
            return None
        try:
            return super().next_request()
        except QUEUE_ERRORS as error:
            self.guard.fail(error)
            return None

    def has_pending_requests(self) -> bool:
        if self.guard.failed:
            return False
        try:
            return super().has_pending_requests()
        except QUEUE_ERRORS as error:
            self.guard.fail(error)
            return False


class GuardedRedisScheduler(RedisScheduler):  # type: ignore[misc]  # scrapy-redis is untyped
    """scrapy-redis's shared frontier, closed when Redis stops answering; requests marked
    WORKER_LOCAL stay in this worker's memory and go first."""

    guard: _QueueGuard
    local: deque[Request]

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Any:
        scheduler = super().from_crawler(crawler)
        scheduler.guard = _QueueGuard(crawler, "")
        scheduler.local = deque()
        return scheduler

    def enqueue_request(self, request: Request) -> bool:
        if self.guard.failed:
            return False
        if request.meta.get(WORKER_LOCAL):
            self.local.append(request)
            return True
        try:
            return bool(super().enqueue_request(request))
        except QUEUE_ERRORS as error:
            self.guard.fail(error)
            return False

    def next_request(self) -> Request | None:
        if self.guard.failed:
            return None
        if self.local:
            return self.local.popleft()
        try:
            return super().next_request()  # type: ignore[no-any-return]  # scrapy-redis is untyped
        except QUEUE_ERRORS as error:
            self.guard.fail(error)
            return None

    def has_pending_requests(self) -> bool:
        if self.guard.failed:
            return False
        if self.local:
            return True
        try:
            return bool(super().has_pending_requests())
        except QUEUE_ERRORS as error:
            self.guard.fail(error)
            return False
