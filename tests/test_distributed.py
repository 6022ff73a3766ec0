"""Three workers on one Redis frontier and one PostgreSQL, against the snapshot server."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections import Counter
from typing import TYPE_CHECKING

import pytest
from sqlalchemy import create_engine, text

from crawler.urls import url_path
from tests.conftest import ROOT, SITE, crawl_env, ecnews
from tests.gold import compare, load_jsonl
from tests.test_cron import ARTICLE, manifest

if TYPE_CHECKING:
    from collections.abc import Sequence
    from pathlib import Path

    from tests.siteserver import SiteServer

pytestmark = [pytest.mark.slow, pytest.mark.postgres, pytest.mark.redis]
WORKERS = 3


def _env(db: str, redis_url: str, tmp_path: Path) -> dict[str, str]:
    return crawl_env(db, tmp_path, REDIS_URL=redis_url, ECNEWS_IDLE_CLOSE_SECONDS="3")


def seed(site: SiteServer, db: str, redis_url: str, tmp_path: Path, mode: str) -> None:
    result = ecnews(
        "crawl",
        "--distributed",
        "--seed",
        "--mode",
        mode,
        "--base-url",
        site.url,
        database_url=db,
        tmp_path=tmp_path,
        env={"REDIS_URL": redis_url},
    )
    assert result.returncode == 0, result.stderr[-3000:]


def start_workers(
    site: SiteServer,
    db: str,
    redis_url: str,
    tmp_path: Path,
    count: int = WORKERS,
    *,
    args: Sequence[str] = (),
) -> list[subprocess.Popen[str]]:
    """`args`: more arguments of `ecnews crawl` (e.g. `-s NAME=VALUE`)."""
    command = ["crawl", "--distributed", "--base-url", site.url, *args]
    return [
        subprocess.Popen(
            [sys.executable, "-m", "crawler.cli", *command],
            cwd=ROOT,
            env=_env(db, redis_url, tmp_path),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(count)
    ]


def finish_logged(workers: list[subprocess.Popen[str]]) -> list[tuple[int, str]]:
    """Each worker's exit code and stderr, once it is done."""
    results = []
    for worker in workers:
        _, stderr = worker.communicate(timeout=180)
        if worker.returncode not in (0, -9):
            print(stderr[-3000:])
        results.append((worker.returncode, stderr))
    return results


def finish(workers: list[subprocess.Popen[str]]) -> list[int]:
    return [code for code, _ in finish_logged(workers)]


def export(db: str, tmp_path: Path) -> list[dict[str, object]]:
    result = ecnews("export", database_url=db, tmp_path=tmp_path)
    assert result.returncode == 0, result.stderr
    return [json.loads(line) for line in result.stdout.splitlines()]


def assert_no_duplicate_rows(db: str) -> None:
    engine = create_engine(db)
    with engine.connect() as conn:
        for table, key in (
            ("articles", "url"),
            ("article_urls", "url"),
            ("article_categories", "article_id, category_id"),
            ("articles", "dedupe_key"),
        ):
            dupes = conn.execute(
                text(f"SELECT {key}, count(*) FROM {table} GROUP BY {key} HAVING count(*) > 1")
            ).all()
            assert not dupes, (table, dupes)
        workers = conn.execute(text("SELECT count(DISTINCT worker) FROM crawl_runs")).scalar()
    engine.dispose()
    assert workers
    assert workers >= WORKERS


def slow_articles(site: SiteServer, delay_ms: int) -> None:
    for path in manifest(site.version):
        if ARTICLE.match(path):
            site.add_fault(path, delay_ms=delay_ms)


def test_three_workers_share_one_frontier(
    site: SiteServer, postgres_url: str, redis_url: str, tmp_path: Path
) -> None:
    slow_articles(site, 50)
    seed(site, postgres_url, redis_url, tmp_path, "incremental")
    assert finish(start_workers(site, postgres_url, redis_url, tmp_path)) == [0] * WORKERS

    problems = compare(export(postgres_url, tmp_path), load_jsonl(SITE / "gold-v1.jsonl"))
    assert not problems, "\n".join(problems)
    served = Counter(r.path for r in site.log if ARTICLE.match(r.path) and r.status == 200)
    assert served, "articles were fetched"
    assert set(served.values()) == {1}, served
    assert len({r.user_agent for r in site.log}) == 1
    assert_no_duplicate_rows(postgres_url)

    site.set_version("v2")
    site.clear_log()
    seed(site, postgres_url, redis_url, tmp_path, "full")
    assert finish(start_workers(site, postgres_url, redis_url, tmp_path)) == [0] * WORKERS
    problems = compare(export(postgres_url, tmp_path), load_jsonl(SITE / "gold-v2.jsonl"))
    assert not problems, "\n".join(problems)
    answered = Counter(r.path for r in site.log if ARTICLE.match(r.path) and r.status in (200, 304))
    assert set(answered.values()) == {1}, answered
    assert_no_duplicate_rows(postgres_url)


def test_killed_worker_loses_nothing_after_next_round(
    site: SiteServer, postgres_url: str, redis_url: str, tmp_path: Path
) -> None:
    slow_articles(site, 400)
    seed(site, postgres_url, redis_url, tmp_path, "incremental")
    workers = start_workers(site, postgres_url, redis_url, tmp_path)
    deadline = time.monotonic() + 60
    while sum(1 for r in site.log if ARTICLE.match(r.path) and r.status == 200) < 4:
        assert time.monotonic() < deadline
        time.sleep(0.05)
    workers[0].kill()
    codes = finish(workers)
    assert codes[0] == -9
    assert codes[1:] == [0] * (WORKERS - 1)

    site.clear_faults()
    seed(site, postgres_url, redis_url, tmp_path, "incremental")
    assert finish(start_workers(site, postgres_url, redis_url, tmp_path, 2)) == [0, 0]
    problems = compare(export(postgres_url, tmp_path), load_jsonl(SITE / "gold-v1.jsonl"))
    assert not problems, "\n".join(problems)
    assert_no_duplicate_rows(postgres_url)


def test_an_idle_worker_stays_while_a_listing_walk_is_in_flight(
    site: SiteServer, postgres_url: str, redis_url: str, tmp_path: Path
) -> None:
    # One walk; its second page answers slowly and is requested only once the first
    # page's links are stored (crawler/listing_gate.py): for longer than the idle close,
    # the shared queue is empty while the walk is still in flight at one worker.
    slow = "/news/rdjj/list_2.html"
    site.add_fault(slow, delay_ms=3000)
    args = ["crawl", "--distributed", "--base-url", site.url, "--categories", "rdjj"]
    seeded = ecnews(
        *args,
        "--seed",
        database_url=postgres_url,
        tmp_path=tmp_path,
        env={"REDIS_URL": redis_url},
    )
    assert seeded.returncode == 0, seeded.stderr[-3000:]
    env = crawl_env(postgres_url, tmp_path, REDIS_URL=redis_url, ECNEWS_IDLE_CLOSE_SECONDS="1")
    workers = [
        subprocess.Popen(
            [sys.executable, "-m", "crawler.cli", *args],
            cwd=ROOT,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(2)
    ]
    assert finish(workers) == [0, 0]

    assert any(r.path == slow and r.status == 200 for r in site.log)
    last_request = max(r.time for r in site.log)
    engine = create_engine(postgres_url)
    with engine.connect() as conn:
        finished = conn.execute(text("SELECT worker, finished_at FROM crawl_runs")).all()
    engine.dispose()
    assert len(finished) == 2
    early = [worker for worker, at in finished if at.timestamp() < last_request]
    assert not early, f"left before the round was over: {early}"
    # Every article the walk lists is stored once (a syndicated copy may be stored under
    # its other URL: the export's `urls` names both).
    listed = [
        set(record["urls"])
        for record in load_jsonl(SITE / "gold-v1.jsonl")
        if "热点聚焦" in record["categories"]
    ]
    stored = [
        {url_path(u) for u in [record["url"], *record["urls"]]}
        for record in export(postgres_url, tmp_path)
    ]
    assert len(stored) == len(listed)
    assert all(any(paths & urls for urls in stored) for paths in listed)
