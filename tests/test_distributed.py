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

from tests.conftest import ROOT, SITE, crawl_env, ecnews
from tests.gold import compare, load_jsonl
from tests.test_cron import ARTICLE, manifest

if TYPE_CHECKING:
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
    site: SiteServer, db: str, redis_url: str, tmp_path: Path, count: int = WORKERS
) -> list[subprocess.Popen[str]]:
    return [
        subprocess.Popen(
            [sys.executable, "-m", "crawler.cli", "crawl", "--distributed", "--base-url", site.url],
            cwd=ROOT,
            env=_env(db, redis_url, tmp_path),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(count)
    ]


def finish(workers: list[subprocess.Popen[str]]) -> list[int]:
    codes = []
    for worker in workers:
        _, stderr = worker.communicate(timeout=180)
        if worker.returncode not in (0, -9):
            print(stderr[-3000:])
        codes.append(worker.returncode)
    return codes


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
