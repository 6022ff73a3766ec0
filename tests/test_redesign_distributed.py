"""A redesign costs no article and no field with 3 scrapy-redis workers too (issue 15,
docs/layout.md): the redesign fixture crawled as cron would (v1, v2 incremental, v2 full,
v2 incremental), each round by three workers on one Redis frontier and one PostgreSQL.

In the round that meets the redesign, page 1 of each listing answers slowly and each
worker fetches one page at a time, so the listings spread over the workers and several
meet the unknown layout at once: each relearns it, from the same examples, and they must
agree on one layout, stored once and announced once; no page any of them held is lost."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest
from sqlalchemy import create_engine, text

from crawler.exitcodes import EXIT_OK
from crawler.settings import NEWS_CATEGORIES
from crawler.urls import url_path
from tests.gold import compare, load_jsonl
from tests.redesigns import REDESIGN, synthetic
from tests.siteserver import SiteServer
from tests.test_distributed import (
    WORKERS,
    assert_no_duplicate_rows,
    finish_logged,
    seed,
    start_workers,
)
from tests.test_redesign import edited_in_v2, export, layouts, loud_lines, revised_urls

if TYPE_CHECKING:
    from pathlib import Path

pytestmark = [pytest.mark.slow, pytest.mark.postgres, pytest.mark.redis]

# A worker that read a listing fetches its examples before any other page, so the other
# listings wait for the other workers: this only has to outlast the first listing's parse.
_LISTING_DELAY_MS = 1500
_ONE_PAGE_AT_A_TIME = ("-s", "CONCURRENT_REQUESTS=1")


def crawl_round(
    site: SiteServer,
    db: str,
    redis_url: str,
    tmp_path: Path,
    mode: str,
    *,
    args: tuple[str, ...] = (),
) -> list[str]:
    """One round: seeded, crawled by WORKERS workers, each of which exits 0; their stderr."""
    seed(site, db, redis_url, tmp_path, mode)
    results = finish_logged(start_workers(site, db, redis_url, tmp_path, args=args))
    assert [code for code, _ in results] == [EXIT_OK] * WORKERS, [
        stderr[-3000:] for code, stderr in results if code != EXIT_OK
    ]
    return [stderr for _, stderr in results]


def spread_the_listings(site: SiteServer) -> None:
    for slug in NEWS_CATEGORIES:
        site.add_fault(f"/news/{slug}/", delay_ms=_LISTING_DELAY_MS)


def article_versions(db: str) -> dict[str, str | None]:
    """The layout version that read each stored article, by URL path."""
    engine = create_engine(db)
    try:
        with engine.connect() as connection:
            rows = connection.execute(text("SELECT url, layout_version FROM articles"))
            return {url_path(row[0]): row[1] for row in rows}
    finally:
        engine.dispose()


@pytest.mark.parametrize("redesign", ["public", "synthetic"])
def test_three_workers_relearn_one_layout(
    redesign: str, postgres_url: str, redis_url: str, tmp_path: Path
) -> None:
    root = REDESIGN if redesign == "public" else synthetic(tmp_path / "site")
    db = postgres_url
    with SiteServer(root, "v1") as site:
        crawl_round(site, db, redis_url, tmp_path, "incremental")

        site.set_version("v2")
        spread_the_listings(site)
        redesigned = crawl_round(
            site, db, redis_url, tmp_path, "incremental", args=_ONE_PAGE_AT_A_TIME
        )
        learners = [s for s in redesigned if "relearning the site's layout" in s]
        assert len(learners) >= 2, f"{len(learners)} worker(s) met the redesign"
        changed = [line for stderr in redesigned for line in loud_lines(stderr) if "layout" in line]
        assert len(changed) == 1, changed
        assert "site layout changed: relearned from" in changed[0]
        site.clear_faults()

        crawl_round(site, db, redis_url, tmp_path, "full")
        last = crawl_round(site, db, redis_url, tmp_path, "incremental")
        assert not [line for stderr in last for line in loud_lines(stderr)]

    problems = compare(export(db, tmp_path), load_jsonl(REDESIGN / "gold-v2.jsonl"))
    assert not problems, "\n".join(problems)
    assert revised_urls(db) == edited_in_v2()
    stored = layouts(db)
    assert len(stored) == 1, [version for version, _ in stored]
    ((version, evidence),) = stored
    assert "articles" in evidence
    # Every article that first appeared in v2 was read by the one stored layout, whichever
    # worker read it (its further pages too: their text is in the gold's bodies).
    v1 = {path for record in load_jsonl(REDESIGN / "gold-v1.jsonl") for path in record["urls"]}
    versions = article_versions(db)
    new = {path: versions[path] for path in versions if path not in v1}
    assert new, versions
    assert set(new.values()) == {version}, new
    assert_no_duplicate_rows(db)


def test_three_workers_cold_start(postgres_url: str, redis_url: str, tmp_path: Path) -> None:
    """A new install facing the redesign with three workers: each that read a listing
    learns from what the listings say (asking for the listings the others hold), one
    layout is stored and said once, and every article of v2 is stored exactly (the one
    taken down before v2 aside)."""
    db = postgres_url
    with SiteServer(REDESIGN, "v2") as site:
        spread_the_listings(site)
        first = crawl_round(site, db, redis_url, tmp_path, "incremental", args=_ONE_PAGE_AT_A_TIME)
        learners = sum("relearning the site's layout" in stderr for stderr in first)
        assert learners >= 2, f"{learners} worker(s) met the redesign"
        learned = [line for stderr in first for line in loud_lines(stderr) if "layout" in line]
        assert len(learned) == 1, learned
        assert "site layout unknown: learned from" in learned[0]
        site.clear_faults()
        again = crawl_round(site, db, redis_url, tmp_path, "incremental")
        assert not [line for stderr in again for line in loud_lines(stderr)]
    problems = compare(export(db, tmp_path), load_jsonl(REDESIGN / "gold-v2.jsonl"))
    taken_down = [p for p in problems if p.startswith("missing gold article")]
    assert len(taken_down) == 1, "\n".join(problems)
    assert problems == taken_down, "\n".join(problems)
    assert len(layouts(db)) == 1
    assert_no_duplicate_rows(db)
