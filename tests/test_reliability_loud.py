"""Faults a run survives but must not pass in silence: robots.txt forbidding the site, a
listing that never ends, article pages coming back empty.

Each is crawled by the real command against the real site server: the run exits 1 with
its reason on stderr and in `crawl_runs.reason`; once the site recovers, the next normal
run's export equals gold-v1.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pytest

from crawler import stats_keys as keys
from crawler.exitcodes import EXIT_FAILED, EXIT_OK
from crawler.monitors import empty_or_suspect
from pipelines import stats_keys as item_keys
from tests.conftest import SITE
from tests.gold import compare, load_jsonl
from tests.siteserver import SiteServer
from tests.test_reliability_support import crawl, export, last_run

if TYPE_CHECKING:
    import subprocess
    from collections.abc import Iterator
    from pathlib import Path

GOLD = load_jsonl(SITE / "gold-v1.jsonl")
ARTICLE_PATHS = sorted(path for record in GOLD for path in record["urls"])


def _failed_with(result: subprocess.CompletedProcess[str], db: str, reason: str) -> None:
    assert result.returncode == EXIT_FAILED, result.stderr[-3000:]
    assert reason in result.stderr, result.stderr[-3000:]
    run = last_run(db)
    assert run.status == "failed"
    assert reason in (run.reason or ""), run.reason


def _recovers(site: SiteServer, db: str, tmp_path: Path) -> None:
    """The next normal run, the site healed: exit 0 and the export equals gold."""
    result = crawl(site, db, tmp_path)
    assert result.returncode == EXIT_OK, result.stderr[-3000:]
    assert last_run(db).status == "ok"
    problems = compare(export(db), GOLD)
    assert not problems, "\n".join(problems)


@pytest.fixture
def overlay(tmp_path: Path) -> Path:
    folder = tmp_path / "overlay"
    folder.mkdir()
    return folder


@pytest.fixture
def site(overlay: Path) -> Iterator[SiteServer]:
    """The v1 snapshot without faults, with files of `overlay` served on top."""
    with SiteServer(SITE, "v1", faults={}, overlay=overlay) as server:
        yield server


# -- robots.txt -------------------------------------------------------------------------


@pytest.mark.slow
def test_robots_txt_disallowing_everything_fails_the_run_before_any_request(
    site: SiteServer, overlay: Path, sqlite_url: str, tmp_path: Path
) -> None:
    (overlay / "robots.txt").write_text("User-agent: *\nDisallow: /\n", "utf-8")
    site.set_version("v1")  # reload with the overlay's robots.txt

    result = crawl(site, sqlite_url, tmp_path)

    _failed_with(result, sqlite_url, "robots.txt disallows every listing")
    # Every listing was queued while robots.txt was in flight: none got through.
    assert [entry.path for entry in site.log] == ["/robots.txt"]
    stats: dict[str, Any] = last_run(sqlite_url).stats or {}
    assert stats[keys.LISTING_ROBOTS_FORBIDDEN] == 4
    # One reason, not also "no listing was read" and "4 listing pages failed".
    assert "Listings:" not in result.stderr
    assert "listing pages failed" not in result.stderr

    (overlay / "robots.txt").unlink()
    site.set_version("v1")
    site.clear_log()
    _recovers(site, sqlite_url, tmp_path)
    # The snapshot's own robots.txt (Disallow: /admin/, /search) is read before anything else.
    assert site.log[0].path == "/robots.txt"
    assert len(site.requests_for("/robots.txt")) == 1


@pytest.mark.slow
def test_robots_txt_disallowing_one_listing_fails_the_run_with_that_reason(
    site: SiteServer, overlay: Path, sqlite_url: str, tmp_path: Path
) -> None:
    (overlay / "robots.txt").write_text("User-agent: *\nDisallow: /news/jxal/\n", "utf-8")
    site.set_version("v1")

    result = crawl(site, sqlite_url, tmp_path)

    _failed_with(result, sqlite_url, "robots.txt disallows 1 listing pages")
    assert not [entry.path for entry in site.log if entry.path.startswith("/news/jxal/")]
    # The other listings were crawled as usual.
    assert {"/news/rdjj/", "/news/sjbg/", "/news/zcfg/"} <= {entry.path for entry in site.log}

    (overlay / "robots.txt").unlink()
    site.set_version("v1")
    _recovers(site, sqlite_url, tmp_path)


# -- the pagination safety stop ---------------------------------------------------------


@pytest.mark.slow
def test_the_listing_safety_stop_fails_the_run_and_the_next_run_walks_on(
    site: SiteServer, sqlite_url: str, tmp_path: Path
) -> None:
    result = crawl(site, sqlite_url, tmp_path, "-s", "NEWS_MAX_LISTING_PAGES=1")

    _failed_with(result, sqlite_url, "4 listings still had a next page after")
    assert "NEWS_MAX_LISTING_PAGES (1)" in result.stderr
    assert not site.requests_for("/news/rdjj/list_2.html")
    # The stopped walks are not recorded as complete: the next (incremental) run walks
    # each listing to its end instead of stopping at a page 1 it already knows.
    _recovers(site, sqlite_url, tmp_path)


# -- empty article pages ----------------------------------------------------------------


@pytest.mark.slow
@pytest.mark.parametrize(
    ("empty", "code"),
    [(ARTICLE_PATHS[::2], EXIT_FAILED), (ARTICLE_PATHS[:1], EXIT_OK)],
    ids=["half-the-articles", "one-article"],
)
def test_empty_article_pages_fail_the_run_past_a_small_share(
    site: SiteServer, sqlite_url: str, tmp_path: Path, empty: list[str], code: int
) -> None:
    for path in empty:
        site.add_fault(path, body_bytes=0)  # 200, Content-Length: 0

    result = crawl(site, sqlite_url, tmp_path)

    stats: dict[str, Any] = last_run(sqlite_url).stats or {}
    assert stats[keys.SKIPPED_ARTICLE_EMPTY] == len(empty)
    if code == EXIT_FAILED:
        _failed_with(result, sqlite_url, f"{len(empty)} of ")
        assert "article pages came back empty or suspect" in result.stderr
    else:  # one stray empty page says nothing about the site; the next run fetches it
        assert result.returncode == EXIT_OK, result.stderr[-3000:]

    site.clear_faults()
    _recovers(site, sqlite_url, tmp_path)


# -- the share of empty or suspect pages, from the stats --------------------------------


@pytest.mark.parametrize(
    ("stats", "bad", "pages"),
    [
        ({item_keys.ARTICLES: 36}, {}, 36),
        (
            {item_keys.ARTICLES: 18, keys.SKIPPED_ARTICLE_EMPTY: 18},
            {"empty": 18},
            36,
        ),
        # A page without content container reaches validation: counted once.
        ({item_keys.ARTICLES: 36, keys.ARTICLE_NO_CONTENT: 3}, {"no content container": 3}, 36),
        (
            {item_keys.ARTICLES: 30, keys.ARTICLE_SUSPECT: 4, f"{keys.ARTICLE_SUSPECT_BY}x": 4},
            {"suspect": 4},
            34,
        ),
        (
            {keys.SKIPPED_ARTICLE_NOT_HTML: 2, keys.SKIPPED_ARTICLE_PAGE_NOT_HTML: 1},
            {"further page empty or not HTML": 1},
            3,
        ),
        ({}, {}, 0),
    ],
    ids=["none", "half-empty", "no-container", "suspect", "not-html", "nothing-fetched"],
)
def test_empty_or_suspect_pages_are_counted_against_the_pages_that_came_back(
    stats: dict[str, int], bad: dict[str, int], pages: int
) -> None:
    assert empty_or_suspect(dict(stats)) == (bad, pages)
