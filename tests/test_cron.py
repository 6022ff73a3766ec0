"""Hourly cron runs: incremental and polite (counted in the server's request log), locked,
judged into exit codes, resumable after SIGKILL."""

from __future__ import annotations

import contextlib
import json
import re
import signal
import sqlite3
import subprocess
import sys
import time
from typing import TYPE_CHECKING, Any

import pytest

from crawler.exitcodes import EXIT_FAILED, EXIT_INTERRUPTED, EXIT_LOCKED, EXIT_OK, EXIT_USAGE
from crawler.run import CrawlLock
from tests.conftest import ROOT, SITE, crawl_env, ecnews
from tests.gold import compare, load_jsonl

if TYPE_CHECKING:
    from pathlib import Path

    from tests.siteserver import LoggedRequest, SiteServer

pytestmark = pytest.mark.slow

ARTICLE = re.compile(r"^/news/[a-z]+/\d{4}/\d{4}/\d+(_\d+)?\.html$")
LISTING = re.compile(r"^/news/([a-z]+)/(list_\d+\.html)?$")
CATEGORIES = ("rdjj", "sjbg", "zcfg", "jxal")


def crawl(
    site: SiteServer, db: str, tmp_path: Path, *args: str
) -> subprocess.CompletedProcess[str]:
    return ecnews("crawl", "--base-url", site.url, *args, database_url=db, tmp_path=tmp_path)


def ok(result: subprocess.CompletedProcess[str]) -> None:
    assert result.returncode == EXIT_OK, result.stderr[-4000:]


def article_requests(log: list[LoggedRequest]) -> list[LoggedRequest]:
    return [r for r in log if ARTICLE.match(r.path)]


def listing_requests(log: list[LoggedRequest]) -> list[LoggedRequest]:
    return [r for r in log if LISTING.match(r.path)]


def manifest(version: str) -> dict[str, str]:
    files = json.loads((SITE / "manifest.json").read_text("utf-8"))["snapshots"][version]["files"]
    return {f["path"]: f["sha256"] for f in files}


def export(db: str, tmp_path: Path) -> list[dict[str, Any]]:
    result = ecnews("export", database_url=db, tmp_path=tmp_path)
    assert result.returncode == 0, result.stderr
    return [json.loads(line) for line in result.stdout.splitlines()]


def test_recrawl_of_unchanged_site_fetches_no_article(
    site: SiteServer, sqlite_url: str, tmp_path: Path
) -> None:
    ok(crawl(site, sqlite_url, tmp_path))
    site.clear_log()
    ok(crawl(site, sqlite_url, tmp_path))
    paths = [r.path for r in site.log]
    assert not article_requests(site.log), paths
    assert sorted(paths) == sorted(["/robots.txt", *(f"/news/{c}/" for c in CATEGORIES)])


def test_incremental_v1_to_v2_fetches_only_new_articles(
    site: SiteServer, sqlite_url: str, tmp_path: Path
) -> None:
    ok(crawl(site, sqlite_url, tmp_path))
    before = {r["url"] for r in export(sqlite_url, tmp_path)}
    site.set_version("v2")
    site.clear_log()
    ok(crawl(site, sqlite_url, tmp_path))

    gold_v2 = load_jsonl(SITE / "gold-v2.jsonl")
    stored = {u for r in export(sqlite_url, tmp_path) for u in r["urls"]}
    new = [g for g in gold_v2 if not any(f"{site.url}{u}" in before for u in g["urls"])]
    assert new, "v2 publishes new articles"
    for article in new:
        assert f"{site.url}{article['url']}" in stored, f"new article {article['url']} missing"

    fetched = {r.path for r in article_requests(site.log) if r.status == 200}
    assert fetched == {a["url"] for a in new}
    # Listing pages: those holding new articles, plus one page per category to see the end.
    holding_new = {
        r.path
        for r in listing_requests(site.log)
        if any(
            a["url"].rsplit("/", 1)[-1]
            in (
                SITE
                / "v2"
                / r.path.lstrip("/")
                / ("" if r.path.endswith(".html") else "index.html")
            ).read_text("utf-8")
            for a in new
        )
    }
    assert len(listing_requests(site.log)) <= len(holding_new) + len(CATEGORIES)


def test_full_v1_to_v2_revalidates_with_304(
    site: SiteServer, sqlite_url: str, tmp_path: Path
) -> None:
    ok(crawl(site, sqlite_url, tmp_path, "--mode", "full"))
    site.set_version("v2")
    site.clear_log()
    ok(crawl(site, sqlite_url, tmp_path, "--mode", "full"))

    v1, v2 = manifest("v1"), manifest("v2")
    changed_or_new = {path for path, sha in v2.items() if v1.get(path) != sha}
    for request in article_requests(site.log):
        if request.path in changed_or_new:
            assert request.status == 200, request
        elif request.path in v2:
            assert request.status == 304, request
            assert request.if_none_match, request
        else:
            assert request.status == 404, request
    problems = compare(export(sqlite_url, tmp_path), load_jsonl(SITE / "gold-v2.jsonl"))
    assert not problems, "\n".join(problems)


def test_second_run_while_one_holds_the_lock_exits_at_once(
    site: SiteServer, sqlite_url: str, tmp_path: Path
) -> None:
    with CrawlLock(tmp_path / "crawl.lock"):
        started = time.monotonic()
        result = crawl(site, sqlite_url, tmp_path)
    assert result.returncode == EXIT_LOCKED
    assert "another crawl is running" in result.stderr
    assert time.monotonic() - started < 30
    assert not site.log, "a locked-out run must not touch the site"


def test_broken_body_selector_is_relearned(
    site: SiteServer, sqlite_url: str, tmp_path: Path
) -> None:
    """A body selector that no longer matches (a redesign, on a cold start): the layout is
    learned from what the listings say, proven, and said once on stderr (docs/layout.md)."""
    result = crawl(site, sqlite_url, tmp_path, "-s", "NEWS_CONTENT_SELECTOR=div.no-such-body")
    ok(result)
    assert "site layout unknown: learned from" in result.stderr
    problems = compare(export(sqlite_url, tmp_path), load_jsonl(SITE / "gold-v1.jsonl"))
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (("--categories", "nosuch"), EXIT_USAGE),
        (("-s", "NOT_A_PAIR"), EXIT_USAGE),
        (("--mode", "sometimes"), EXIT_USAGE),
    ],
    ids=["unknown-category", "bad-setting", "bad-mode"],
)
def test_bad_command_lines(
    site: SiteServer, sqlite_url: str, tmp_path: Path, args: tuple[str, ...], expected: int
) -> None:
    assert crawl(site, sqlite_url, tmp_path, *args).returncode == expected


def test_unreachable_site_fails_the_run(sqlite_url: str, tmp_path: Path) -> None:
    result = ecnews(
        "crawl",
        "--base-url",
        "http://127.0.0.1:9",
        "-s",
        "RETRY_TIMES=0",
        database_url=sqlite_url,
        tmp_path=tmp_path,
    )
    assert result.returncode == EXIT_FAILED


def _start_crawl(site: SiteServer, db: str, tmp_path: Path, *args: str) -> subprocess.Popen[str]:
    env = crawl_env(db, tmp_path)
    return subprocess.Popen(
        [sys.executable, "-m", "crawler.cli", "crawl", "--base-url", site.url, *args],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )


def _slow_articles(site: SiteServer, delay_ms: int) -> None:
    for path in manifest("v1"):
        if ARTICLE.match(path):
            site.add_fault(path, delay_ms=delay_ms)


def _wait_for_articles(site: SiteServer, count: int, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while len([r for r in article_requests(site.log) if r.status == 200]) < count:
        assert time.monotonic() < deadline, "the crawl never got going"
        time.sleep(0.05)


def _wait_for_stored(database_url: str, count: int, timeout: float = 60) -> None:
    path = database_url.removeprefix("sqlite:///")
    deadline = time.monotonic() + timeout
    while True:
        assert time.monotonic() < deadline, "nothing was stored"
        with contextlib.suppress(sqlite3.Error), contextlib.closing(sqlite3.connect(path)) as db:
            if db.execute("SELECT count(*) FROM articles").fetchone()[0] >= count:
                return
        time.sleep(0.05)


def test_sigterm_stops_gracefully_and_resume_completes(
    site: SiteServer, sqlite_url: str, tmp_path: Path
) -> None:
    _slow_articles(site, 300)
    process = _start_crawl(site, sqlite_url, tmp_path, "-s", "CONCURRENT_REQUESTS=2")
    _wait_for_articles(site, 4)
    process.send_signal(signal.SIGTERM)
    _, stderr = process.communicate(timeout=60)
    assert process.returncode == EXIT_INTERRUPTED, stderr[-3000:]

    site.clear_faults()
    ok(ecnews("crawl", "--resume", database_url=sqlite_url, tmp_path=tmp_path))
    problems = compare(export(sqlite_url, tmp_path), load_jsonl(SITE / "gold-v1.jsonl"))
    assert not problems, "\n".join(problems)


def test_sigkill_then_resume_loses_nothing(
    site: SiteServer, sqlite_url: str, tmp_path: Path
) -> None:
    _slow_articles(site, 300)
    process = _start_crawl(site, sqlite_url, tmp_path, "--mode", "full")
    _wait_for_stored(sqlite_url, 4)  # writes are batched: wait for committed ones
    process.kill()
    process.communicate(timeout=30)
    stored_before = len(export(sqlite_url, tmp_path))
    assert 0 < stored_before < 27, "killed mid-crawl"

    site.clear_faults()
    ok(ecnews("crawl", "--resume", database_url=sqlite_url, tmp_path=tmp_path))
    problems = compare(export(sqlite_url, tmp_path), load_jsonl(SITE / "gold-v1.jsonl"))
    assert not problems, "\n".join(problems)
    runs = ecnews("runs", database_url=sqlite_url, tmp_path=tmp_path).stdout
    assert "killed" in runs, runs
    assert "ok" in runs, runs


def test_sigkill_then_plain_incremental_run_loses_nothing(
    site: SiteServer, sqlite_url: str, tmp_path: Path
) -> None:
    """No --resume: an hourly run after a killed one still fetches every missing article,
    even those on listing pages the killed run never reached."""
    _slow_articles(site, 300)
    process = _start_crawl(site, sqlite_url, tmp_path, "-s", "CONCURRENT_REQUESTS=2")
    _wait_for_articles(site, 3)
    process.kill()
    process.communicate(timeout=30)
    assert len(export(sqlite_url, tmp_path)) < 27, "killed mid-crawl"

    site.clear_faults()
    ok(crawl(site, sqlite_url, tmp_path))
    problems = compare(export(sqlite_url, tmp_path), load_jsonl(SITE / "gold-v1.jsonl"))
    assert not problems, "\n".join(problems)
