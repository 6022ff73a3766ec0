"""Redis fails under a distributed round: a redis-server of the test's own, killed (and
restarted empty, or flushed) while a worker crawls. The worker ends in bounded time with
exit 1, a `failed` crawl_runs row saying why, and never `ok` for a round whose queue is
gone; a new round afterwards brings the export to gold.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from typing import TYPE_CHECKING

import pytest
import redis

from crawler.exitcodes import EXIT_FAILED, EXIT_OK
from tests.conftest import ROOT, SITE, crawl_env
from tests.gold import compare, load_jsonl
from tests.test_cron import ARTICLE
from tests.test_distributed import seed, slow_articles
from tests.test_reliability_support import export, last_run

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

    from tests.siteserver import SiteServer

pytestmark = [pytest.mark.slow, pytest.mark.redis]

GOLD = load_jsonl(SITE / "gold-v1.jsonl")
# A worker must be gone this long after its Redis failed.
HANG_LIMIT = 60


class RedisServer:
    """A throwaway redis-server on a free port, without persistence: a restart is empty."""

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.process = subprocess.Popen(
            [
                *("redis-server", "--port", str(self.port), "--bind", "127.0.0.1"),
                *("--save", "", "--appendonly", "no", "--dir", str(self.workdir)),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        client = redis.Redis.from_url(self.url, socket_timeout=1)
        deadline = time.monotonic() + 10
        while True:
            try:
                client.ping()
                break
            except redis.ConnectionError:
                assert time.monotonic() < deadline, "redis-server did not start"
                time.sleep(0.05)
        client.close()

    def kill(self) -> None:
        if self.process is not None:
            self.process.kill()
            self.process.wait(timeout=10)
            self.process = None


@pytest.fixture
def own_redis(tmp_path: Path) -> Iterator[RedisServer]:
    if not shutil.which("redis-server"):
        if os.environ.get("CI"):
            pytest.fail("redis-server is not installed (see .ci/run)")
        pytest.skip("redis-server is not installed")
    server = RedisServer(tmp_path)
    server.start()
    try:
        yield server
    finally:
        server.kill()


def _worker(site: SiteServer, db: str, redis_url: str, tmp_path: Path) -> subprocess.Popen[str]:
    env = crawl_env(
        db,
        tmp_path,
        REDIS_URL=redis_url,
        ECNEWS_IDLE_CLOSE_SECONDS="2",
        ECNEWS_SPOOL_DIR=str(tmp_path / "spool"),
    )
    return subprocess.Popen(
        [sys.executable, "-m", "crawler.cli", "crawl", "--distributed", "--base-url", site.url],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )


def _wait_for_articles(site: SiteServer, count: int) -> None:
    deadline = time.monotonic() + 60
    while sum(1 for r in site.log if ARTICLE.match(r.path) and r.status == 200) < count:
        assert time.monotonic() < deadline, "the worker fetched no articles"
        time.sleep(0.05)


@pytest.mark.timeout(HANG_LIMIT * 3 + 120)
@pytest.mark.parametrize("fault", ["killed", "restarted_empty", "flushed"])
def test_a_round_whose_redis_failed_is_never_ok(
    site: SiteServer, sqlite_url: str, own_redis: RedisServer, tmp_path: Path, fault: str
) -> None:
    slow_articles(site, 300)
    seed(site, sqlite_url, own_redis.url, tmp_path, "incremental")
    worker = _worker(site, sqlite_url, own_redis.url, tmp_path)
    _wait_for_articles(site, 3)
    if fault == "flushed":
        redis.Redis.from_url(own_redis.url).flushall()
    else:
        own_redis.kill()
        if fault == "restarted_empty":
            own_redis.start()

    _, stderr = worker.communicate(timeout=HANG_LIMIT)
    assert worker.returncode == EXIT_FAILED, stderr[-3000:]
    run = last_run(sqlite_url)
    assert run.status == "failed"
    assert run.reason is not None
    expected = {
        "killed": ["queue failed: Redis unreachable"],
        # Which the worker meets first depends on timing: a refused command or the gap.
        "restarted_empty": ["queue failed: Redis unreachable", "round lost: "],
        "flushed": ["round lost: "],
    }[fault]
    assert any(reason in run.reason for reason in expected), run.reason
    assert any(reason in stderr for reason in expected), stderr[-3000:]
    assert "Traceback" not in stderr

    if fault == "killed":
        own_redis.start()
    site.clear_faults()
    seed(site, sqlite_url, own_redis.url, tmp_path, "incremental")
    worker = _worker(site, sqlite_url, own_redis.url, tmp_path)
    _, stderr = worker.communicate(timeout=HANG_LIMIT)
    assert worker.returncode == EXIT_OK, stderr[-3000:]
    problems = compare(export(sqlite_url), GOLD)
    assert not problems, "\n".join(problems)
