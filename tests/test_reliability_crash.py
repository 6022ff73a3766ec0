"""SIGKILL at random moments, then a normal run: the export always equals gold.

The kills accumulate on one SQLite database, which is harsher than a fresh start after
each: every kill lands on a database a previous kill left behind, in a plain run, a
`--resume` of the killed run, or a full revalidation (304s, touches), so that kills fall
during listing walks, article writes, revalidation and run bookkeeping alike. After
every kill the database must pass `PRAGMA integrity_check`, and every article in it must
already be exactly its gold record (no half-written, duplicated or wrong article; only
missing ones). A final normal run must then complete the export to gold.

The kill points are drawn from a seeded RNG (ECNEWS_KILL_SEED overrides the seed): kill
once the server has answered k requests of the run, k in 1..36, plus 0-150 ms.
"""

from __future__ import annotations

import os
import random
import time
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

import pytest

from crawler.exitcodes import EXIT_OK
from tests.conftest import SITE
from tests.gold import compare, load_jsonl
from tests.siteserver import SiteServer
from tests.test_reliability_support import (
    crawl,
    export,
    half_written,
    sqlite_integrity,
    start_crawl,
)

if TYPE_CHECKING:
    from pathlib import Path

pytestmark = pytest.mark.slow

GOLD = load_jsonl(SITE / "gold-v1.jsonl")
KILLS = 10
SEED = int(os.environ.get("ECNEWS_KILL_SEED", "20251126"))


def _article_faults() -> dict[str, dict[str, int]]:
    """Article pages answer in 60 ms: a run lasts long enough to be killed mid-write."""
    return {
        "/" + path.relative_to(SITE / "v1").as_posix(): {"delay_ms": 60}
        for path in (SITE / "v1" / "news").rglob("*.html")
        if path.parent.name.isdigit()
    }


def _kill_at(
    site: SiteServer, process_args: tuple[str, ...], db: str, tmp: Path, rng: random.Random
) -> str:
    """Start a crawl, SIGKILL it after k answered requests; what happened, for messages."""
    site.clear_log()
    requests = rng.randint(1, 36)
    jitter = rng.uniform(0, 0.15)
    process = start_crawl(site.url, db, tmp, *process_args)
    deadline = time.monotonic() + 60
    try:
        while len(site.log) < requests and process.poll() is None:
            assert time.monotonic() < deadline, "the crawl never got going"
            time.sleep(0.005)
        time.sleep(jitter)
        if process.poll() is not None:
            return f"{' '.join(process_args) or 'plain'}: finished before request {requests}"
        process.kill()
        process.wait(timeout=30)
        return f"{' '.join(process_args) or 'plain'}: killed after {len(site.log)} requests"
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(timeout=30)


def _no_wrong_article(db: str, history: list[str]) -> None:
    """Every stored article is its gold record, except that a crawl cut short may not have
    found all its copies yet: `urls` and `categories` may be subsets of gold's."""
    assert sqlite_integrity(db) == "ok", history
    assert not half_written(db), history
    records = export(db)
    by_path = {path: record for record in GOLD for path in record["urls"]}
    gold = []
    for record in records:
        paths = [urlsplit(url).path for url in record["urls"]]
        want = next((by_path[path] for path in paths if path in by_path), None)
        if want is None:
            continue  # compare() reports it
        assert set(paths) <= set(want["urls"]), [*history, paths, want["urls"]]
        assert set(record["categories"]) <= set(want["categories"]), [*history, want["url"]]
        gold.append({**want, "urls": paths, "categories": record["categories"]})
    problems = compare(records, gold)
    assert not problems, "\n".join([*history, *problems])


def test_sigkill_at_random_moments_never_costs_data(tmp_path: Path) -> None:
    rng = random.Random(SEED)
    db = f"sqlite:///{tmp_path / 'ecnews.db'}"
    history = [f"seed {SEED}"]
    killed = 0
    with SiteServer(SITE, "v1", faults=_article_faults()) as site:
        # A run may finish before its kill point (little is left to do): draw another.
        for _ in range(3 * KILLS):
            args: tuple[str, ...] = rng.choice([(), ("--resume",), ("--mode", "full")])
            history.append(_kill_at(site, args, db, tmp_path, rng))
            killed += "killed" in history[-1]
            _no_wrong_article(db, history)
            if killed == KILLS:
                break
        site.clear_faults()
        result = crawl(site, db, tmp_path)
    assert killed == KILLS, history
    assert result.returncode == EXIT_OK, result.stderr[-4000:]
    assert sqlite_integrity(db) == "ok"
    problems = compare(export(db), GOLD)
    assert not problems, "\n".join([*history, *problems])
