"""Scale-out on scrapy-redis: N workers share one Redis frontier and one PostgreSQL.

Setting REDIS_URL switches the scheduler and dupefilter to scrapy-redis. The frontier is
organised in *rounds*: request fingerprints live under a key scoped to the round, so the
requests a killed worker had popped (and lost) are fetched again in the next round, while
within a round no page is fetched twice across workers.

Redis keys (prefix `ecnews:<spider>`):
    :round            the current round number (INCR by `ecnews crawl --distributed --seed`)
    :round:<n>:token  a random token of round n: a worker that finds it gone or changed
                      knows Redis lost the round's queue (restarted empty, flushed)
    :mode             the round's crawl mode (incremental / full)
    :requests         the shared request queue (a sorted set, by priority)
    :dupefilter:<n>   fingerprints of round n (expire ROUND_TTL after the round starts)
    :round:<n>:workers  ids of the workers that joined round n
    :round:<n>:busy:<id>  set while worker <id> has work in flight (pages being fetched or
                      parsed, items waiting for their batch, a listing's next page held
                      back by the listing gate); expires BUSY_CLAIM_SECONDS after its last
                      renewal, so a killed worker's claim lapses on its own
"""

from __future__ import annotations

import logging
import os
import secrets
import socket
import time
from typing import TYPE_CHECKING, Protocol, Self

import redis
from scrapy import signals
from scrapy.core.engine import ExecutionEngine
from scrapy.exceptions import CloseSpider, DontCloseSpider, NotConfigured
from scrapy.utils.defer import deferred_from_coro
from scrapy_redis.dupefilter import RFPDupeFilter as RedisDupeFilter
from twisted.internet import task

from crawler.jobqueue import FrontierQueue
from crawler.scheduler import queue_failure

if TYPE_CHECKING:
    from collections.abc import Callable

    from scrapy import Spider
    from scrapy.crawler import Crawler
    from scrapy.http import Request
    from scrapy.settings import BaseSettings

logger = logging.getLogger(__name__)

PREFIX = "ecnews:%(spider)s"
ROUND_TTL = 7 * 24 * 3600
# Scrapy looks for new requests only every 5 s when a worker's own queue runs dry; with a
# shared frontier, work appears from other workers at any moment.
FRONTIER_POLL_SECONDS = 0.5
ROUND_LOST = "round lost: "
# A busy worker renews its claim this often; a claim not renewed lapses after
# BUSY_CLAIM_SECONDS (a killed worker, or one whose event loop stalled that long).
BUSY_RENEW_SECONDS = 1.0
BUSY_CLAIM_SECONDS = 10


class Seedable(Protocol):
    """A spider that can name its start requests without running (the news spider)."""

    name: str

    def seed_requests(self) -> list[Request]: ...


def round_key(spider: str) -> str:
    return f"{PREFIX % {'spider': spider}}:round"


def mode_key(spider: str) -> str:
    return f"{PREFIX % {'spider': spider}}:mode"


def queue_key(spider: str) -> str:
    return f"{PREFIX % {'spider': spider}}:requests"


def token_key(spider: str, round_: int) -> str:
    return f"{PREFIX % {'spider': spider}}:round:{round_}:token"


def workers_key(spider: str, round_: int) -> str:
    return f"{PREFIX % {'spider': spider}}:round:{round_}:workers"


def busy_key(spider: str, round_: int, worker: str) -> str:
    return f"{PREFIX % {'spider': spider}}:round:{round_}:busy:{worker}"


def round_token(server: redis.Redis, spider: str, round_: int) -> str:
    value = server.get(token_key(spider, round_))
    return value.decode() if isinstance(value, bytes) else ""


def dupefilter_key(spider: str, round_: int) -> str:
    return f"{PREFIX % {'spider': spider}}:dupefilter:{round_}"


def client(url: str) -> redis.Redis:
    return redis.Redis.from_url(url, socket_timeout=30, socket_connect_timeout=10)


def current_round(server: redis.Redis, spider: str) -> int:
    value = server.get(round_key(spider))
    return int(value) if value else 0


def start_round(server: redis.Redis, spider: str, mode: str) -> int:
    """A new round: fresh fingerprints, so everything (still) missing is fetched again."""
    round_ = int(server.incr(round_key(spider)))
    server.set(mode_key(spider), mode)
    server.set(token_key(spider, round_), secrets.token_hex(8), ex=ROUND_TTL)
    return round_


def apply_redis_settings(settings: BaseSettings, spider: str) -> None:
    """Switch `settings` to the shared frontier when REDIS_URL is set (no-op otherwise)."""
    url = settings.get("REDIS_URL")
    if not url:
        return
    server = client(url)
    round_ = current_round(server, spider) or start_round(server, spider, "incremental")
    priority = "cmdline"
    settings.set("SCHEDULER", "crawler.scheduler.GuardedRedisScheduler", priority=priority)
    # Scrapy's own dupefilter crashes under the scrapy-redis scheduler.
    settings.set("DUPEFILTER_CLASS", "scrapy_redis.dupefilter.RFPDupeFilter", priority=priority)
    # Without it, the first worker to finish deletes the queue the others still work on.
    settings.set("SCHEDULER_PERSIST", True, priority=priority)
    settings.set("SCHEDULER_QUEUE_KEY", queue_key(spider), priority=priority)
    settings.set("SCHEDULER_QUEUE_CLASS", "crawler.jobqueue.FrontierQueue", priority=priority)
    settings.set("SCHEDULER_DUPEFILTER_KEY", dupefilter_key(spider, round_), priority=priority)
    settings.set("JOBDIR", None, priority=priority)  # the queue lives in Redis
    settings.set("ECNEWS_ROUND", round_, priority=priority)
    settings.set("ECNEWS_ROUND_TOKEN", round_token(server, spider, round_), priority=priority)
    ext = dict(settings.getdict("EXTENSIONS"))
    ext["crawler.distributed.FrontierWatch"] = 520
    settings.set("EXTENSIONS", ext, priority=priority)
    server.expire(dupefilter_key(spider, round_), ROUND_TTL, nx=True)


def seed(url: str, spider: Seedable, mode: str) -> tuple[int, int]:
    """Start a new round and put the spider's start requests in the shared queue.

    Returns (round, requests queued). Workers' own start requests are then duplicates.
    """
    server = client(url)
    round_ = start_round(server, spider.name, mode)
    dupefilter = RedisDupeFilter(server, key=dupefilter_key(spider.name, round_))
    queue = FrontierQueue(server=server, spider=spider, key=queue_key(spider.name))
    queued = 0
    for request in spider.seed_requests():
        if not dupefilter.request_seen(request):
            queue.push(request)
            queued += 1
    server.expire(dupefilter_key(spider.name, round_), ROUND_TTL, nx=True)
    return round_, queued


class FrontierWatch:
    """Keeps a worker alive until the round is over, and polls the frontier often.

    A worker whose own requests ran out is idle, but the round may not be over: other
    workers may be parsing pages that will add requests, or holding a listing's next page
    until its links are stored (crawler/listing_gate.py), so the shared queue can be empty
    for seconds in the middle of a round. Each worker therefore claims the round busy
    while it has anything in flight; an idle worker closes only once the queue is empty
    and no other worker's claim is alive, and has stayed so for ECNEWS_IDLE_CLOSE_SECONDS.
    """

    def __init__(self, crawler: Crawler, idle_close: float) -> None:
        self.crawler = crawler
        self.idle_close = idle_close
        self.server = client(crawler.settings["REDIS_URL"])
        self.spider = crawler.spidercls.name
        self.key = queue_key(self.spider)
        self.round = crawler.settings.getint("ECNEWS_ROUND")
        self.token = crawler.settings.get("ECNEWS_ROUND_TOKEN") or ""
        self.worker = f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(4)}"
        self.workers = workers_key(self.spider, self.round)
        self.busy = busy_key(self.spider, self.round, self.worker)
        self.claimed = False
        self.idle_since: float | None = None
        self.renewal = task.LoopingCall(self.renew)

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Self:
        if not crawler.settings.get("REDIS_URL"):
            raise NotConfigured("REDIS_URL not set")
        watch = cls(crawler, crawler.settings.getfloat("ECNEWS_IDLE_CLOSE_SECONDS"))
        # Scrapy has no setting for its idle poll interval.
        ExecutionEngine._SLOT_HEARTBEAT_INTERVAL = FRONTIER_POLL_SECONDS
        crawler.signals.connect(watch.spider_opened, signal=signals.spider_opened)
        crawler.signals.connect(watch.spider_closed, signal=signals.spider_closed)
        crawler.signals.connect(watch.request_popped, signal=signals.request_reached_downloader)
        crawler.signals.connect(watch.spider_idle, signal=signals.spider_idle)
        return watch

    def spider_opened(self) -> None:
        self._closing_on_error(self._join)
        self.renewal.start(BUSY_RENEW_SECONDS, now=False)

    def spider_closed(self) -> None:
        if self.renewal.running:
            self.renewal.stop()
        if self.claimed:
            try:
                self.server.delete(self.busy)
            except redis.RedisError:  # the claim lapses on its own
                logger.debug("Could not drop the busy claim of %s", self.worker)

    def request_popped(self, **_: object) -> None:
        # Claim at once: the request may have been the queue's last one.
        if not self.claimed:
            self._closing_on_error(self._claim)

    def renew(self) -> None:
        assert self.crawler.engine is not None
        if not self.crawler.engine.spider_is_idle():
            self._closing_on_error(self._claim)

    def spider_idle(self, spider: Spider) -> None:
        try:
            self._idle()
        except redis.RedisError as error:
            raise CloseSpider(queue_failure(error, "")) from error

    def _closing_on_error(self, call: Callable[[], None]) -> None:
        """Outside spider_idle, a raised CloseSpider would only be logged: close directly."""
        try:
            call()
        except redis.RedisError as error:
            reason = queue_failure(error, "")
            logger.error("Closing the crawl: %s", reason)
            assert self.crawler.engine is not None
            deferred_from_coro(self.crawler.engine.close_spider_async(reason=reason))

    def _join(self) -> None:
        self.server.sadd(self.workers, self.worker)
        self.server.expire(self.workers, ROUND_TTL)

    def _claim(self) -> None:
        self.server.set(self.busy, 1, ex=BUSY_CLAIM_SECONDS)
        self.claimed = True

    def _others_busy(self) -> bool:
        members: set[bytes] = self.server.smembers(self.workers)  # type: ignore[assignment]  # sync client
        others = [
            busy_key(self.spider, self.round, member.decode())
            for member in members
            if member.decode() != self.worker
        ]
        return bool(others) and int(self.server.exists(*others)) > 0

    def _idle(self) -> None:
        if self.claimed:
            self.server.delete(self.busy)
            self.claimed = False
        now = time.monotonic()
        if self.server.zcard(self.key) or self._others_busy():
            self.idle_since = None
            raise DontCloseSpider
        if self.idle_since is None:
            self.idle_since = now
        if now - self.idle_since < self.idle_close:
            raise DontCloseSpider
        if round_token(self.server, self.spider, self.round) != self.token:
            # An empty queue then proves nothing: what the round had listed may be unfetched.
            raise CloseSpider(
                f"{ROUND_LOST}round {self.round}'s queue vanished from Redis (restarted "
                "empty or flushed); pages it had queued may be missing: seed a new round"
            )
        logger.info(
            "Round %d over (frontier empty, no worker busy) for %.0f s: this worker is done",
            self.round,
            now - self.idle_since,
        )
