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
"""

from __future__ import annotations

import logging
import secrets
import time
from typing import TYPE_CHECKING, Protocol, Self

import redis
from scrapy import signals
from scrapy.core.engine import ExecutionEngine
from scrapy.exceptions import CloseSpider, DontCloseSpider, NotConfigured
from scrapy_redis.dupefilter import RFPDupeFilter as RedisDupeFilter
from scrapy_redis.queue import PriorityQueue

if TYPE_CHECKING:
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
    queue = PriorityQueue(server=server, spider=spider, key=queue_key(spider.name))
    queued = 0
    for request in spider.seed_requests():
        if not dupefilter.request_seen(request):
            queue.push(request)
            queued += 1
    server.expire(dupefilter_key(spider.name, round_), ROUND_TTL, nx=True)
    return round_, queued


class FrontierWatch:
    """Keeps a worker alive while the shared frontier has work, and polls it often.

    A worker whose own requests ran out is idle, but other workers may still be parsing
    pages that will add requests; it closes only after the frontier stayed empty for
    ECNEWS_IDLE_CLOSE_SECONDS.
    """

    def __init__(self, crawler: Crawler, idle_close: float) -> None:
        self.crawler = crawler
        self.idle_close = idle_close
        self.server = client(crawler.settings["REDIS_URL"])
        self.spider = crawler.spidercls.name
        self.key = queue_key(self.spider)
        self.round = crawler.settings.getint("ECNEWS_ROUND")
        self.token = crawler.settings.get("ECNEWS_ROUND_TOKEN") or ""
        self.idle_since: float | None = None

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Self:
        if not crawler.settings.get("REDIS_URL"):
            raise NotConfigured("REDIS_URL not set")
        watch = cls(crawler, crawler.settings.getfloat("ECNEWS_IDLE_CLOSE_SECONDS"))
        # Scrapy has no setting for its idle poll interval.
        ExecutionEngine._SLOT_HEARTBEAT_INTERVAL = FRONTIER_POLL_SECONDS
        crawler.signals.connect(watch.spider_idle, signal=signals.spider_idle)
        return watch

    def spider_idle(self, spider: Spider) -> None:
        try:
            self._idle()
        except redis.RedisError as error:
            raise CloseSpider(f"queue failed: Redis unreachable ({error})") from error

    def _idle(self) -> None:
        now = time.monotonic()
        if self.server.zcard(self.key):
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
        logger.info("Frontier empty for %.0f s: this worker is done", now - self.idle_since)
