"""A PostgreSQL server that stops answering (a proxy that holds every byte, connections
left open) never hangs a crawl: its reads and writes have a client-side deadline, the
run exits 1 within it, its crawl_runs row says `failed` once the database is back, and
the next run is gold. SIGTERM ends a stuck crawl within DOWNLOAD_TIMEOUT + a few
seconds; a second signal ends it at once."""

from __future__ import annotations

import signal
import subprocess
import sys
import threading
import time
from typing import TYPE_CHECKING

import pytest
from sqlalchemy.engine import make_url

from crawler.exitcodes import EXIT_FAILED, EXIT_INTERRUPTED, EXIT_OK
from tests.conftest import ROOT, SITE, crawl_env, postgres_database
from tests.gold import compare, load_jsonl
from tests.siteserver import SiteServer
from tests.test_reliability_support import TcpProxy, crawl, export

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator
    from pathlib import Path

pytestmark = [pytest.mark.postgres, pytest.mark.slow]

GOLD = load_jsonl(SITE / "gold-v1.jsonl")
CLIENT_TIMEOUT = 8
TIMEOUTS = {
    "ECNEWS_PG_CONNECT_TIMEOUT": "3",
    "ECNEWS_PG_STATEMENT_TIMEOUT": "5",
    "ECNEWS_PG_LOCK_TIMEOUT": "2",
    "ECNEWS_PG_CLIENT_TIMEOUT": str(CLIENT_TIMEOUT),
    "ECNEWS_PG_KEEPALIVE_IDLE": "2",
    "ECNEWS_PERSIST_STALL_TIMEOUT": "20",
}
# Every wait the stuck run meets is bounded: a read (the deadline), a write and its one
# retry (the deadline, a connect timeout), closing (a connect timeout per write left, the
# writer's stall timeout at most), the run's end (twice a deadline); under load, slack.
EXIT_WITHIN = 4 * CLIENT_TIMEOUT + 20 + 30
SETTINGS = ("-s", "PERSIST_ATTEMPTS=2", "-s", "PERSIST_BACKOFF=0.1", "-s", "RETRY_TIMES=0")


def _listings_served(site: SiteServer) -> int:
    return len([r for r in site.log if r.path.startswith("/news/") and "/20" not in r.path])


def _articles_served(site: SiteServer) -> int:
    return len([r for r in site.log if "/20" in r.path])


WHEN: dict[str, Callable[[SiteServer], bool]] = {
    # The spider reads what earlier runs stored on every listing page.
    "mid-listings": lambda site: _listings_served(site) >= 1,
    # Listings read, articles written in batches by the writer process.
    "mid-batch": lambda site: _listings_served(site) >= 8 and _articles_served(site) >= 4,
}


@pytest.fixture
def proxied(tmp_path: Path) -> Iterator[tuple[str, str, TcpProxy]]:
    """(URL through the proxy, direct URL, the proxy)."""
    with postgres_database() as direct:
        port = make_url(direct).port
        assert port is not None
        with TcpProxy("127.0.0.1", port) as proxy:
            yield proxy.url_for(direct), direct, proxy


def _freeze_when(site: SiteServer, proxy: TcpProxy, when: Callable[[SiteServer], bool]) -> None:
    def run() -> None:
        deadline = time.monotonic() + 120
        while not when(site) and time.monotonic() < deadline:
            time.sleep(0.01)
        proxy.freeze()

    threading.Thread(target=run, daemon=True).start()


@pytest.mark.parametrize("when", list(WHEN))
@pytest.mark.parametrize("mode", ["incremental", "full"])
def test_a_silent_database_fails_the_run_within_the_deadline(
    proxied: tuple[str, str, TcpProxy], tmp_path: Path, mode: str, when: str
) -> None:
    db, direct, proxy = proxied
    faults = {f"/{path}": {"delay_ms": 200} for path in _article_paths()}
    with SiteServer(SITE, "v1", faults=faults) as site:
        _freeze_when(site, proxy, WHEN[when])
        started = time.monotonic()
        first = crawl(site, db, tmp_path, "--mode", mode, *SETTINGS, env=TIMEOUTS, timeout=300)
        took = time.monotonic() - started
        port = site.port  # the next run sees the same URLs
    assert first.returncode == EXIT_FAILED, first.stderr[-3000:]
    assert took < EXIT_WITHIN, f"took {took:.0f} s"
    proxy.thaw()
    with SiteServer(SITE, "v1", port=port) as site:
        second = crawl(site, db, tmp_path, "--mode", mode, env=TIMEOUTS)
    assert second.returncode == EXIT_OK, second.stderr[-3000:]
    runs = _runs(direct)
    assert runs[0][0] == "failed", runs
    assert runs[0][1], "a failed run says why"
    problems = compare(export(direct), GOLD)
    assert not problems, "\n".join(problems)


def _article_paths() -> list[str]:
    return [
        path.relative_to(SITE / "v1").as_posix()
        for path in (SITE / "v1" / "news").rglob("*.html")
        if path.parent.name.isdigit()
    ]


def _runs(db: str) -> list[tuple[str, str | None]]:
    from sqlalchemy import select

    from storage.db import Database
    from storage.models import CrawlRun

    database = Database(db)
    try:
        with database.sessions() as session:
            rows = session.execute(select(CrawlRun.status, CrawlRun.reason).order_by(CrawlRun.id))
            return [(status, reason) for status, reason in rows]
    finally:
        database.dispose()


@pytest.mark.parametrize("second_signal", [False, True], ids=["one-sigterm", "then-sigint"])
def test_sigterm_ends_a_stuck_crawl(
    proxied: tuple[str, str, TcpProxy], tmp_path: Path, second_signal: bool
) -> None:
    db, _, proxy = proxied
    download_timeout = 3
    # A deadline far away: only the signal can end this crawl soon.
    env = crawl_env(db, tmp_path, **{**TIMEOUTS, "ECNEWS_PG_CLIENT_TIMEOUT": "600"})
    env["ECNEWS_PERSIST_STALL_TIMEOUT"] = "600"
    env["ECNEWS_PG_CONNECT_TIMEOUT"] = "600"
    with SiteServer(SITE, "v1") as site, (tmp_path / "crawl.out").open("w") as out:
        command = [sys.executable, "-m", "crawler.cli", "crawl", "--base-url", site.url]
        command += ["-s", f"DOWNLOAD_TIMEOUT={download_timeout}", "--mode", "full"]
        child = subprocess.Popen(command, cwd=ROOT, env=env, stdout=out, stderr=out)
        try:
            deadline = time.monotonic() + 120
            while not _listings_served(site) and time.monotonic() < deadline:
                time.sleep(0.01)
            proxy.freeze()
            time.sleep(2)  # the reactor is now waiting on the database
            started = time.monotonic()
            child.send_signal(signal.SIGTERM)
            if second_signal:
                time.sleep(0.5)
                child.send_signal(signal.SIGINT)
            code = child.wait(60)
            took = time.monotonic() - started
        finally:
            if child.poll() is None:
                child.kill()
                child.wait()
    assert code == EXIT_INTERRUPTED
    assert took < (2 if second_signal else download_timeout + 5 + 3), f"took {took:.1f} s"
