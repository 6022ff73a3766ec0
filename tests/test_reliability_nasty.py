"""The nasty-page corpus (tests/fixtures/nasty), crawled over HTTP by the real command.

Every page gets the outcome `expected.json` names: a stored article with the expected
fields, or a dropped / skipped / refused page whose reason is counted in the run's stats
and logged with its URL. The run itself succeeds: nothing raised, nothing failed, nothing
was requested off the site, and no row is half-written.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import shutil
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from sqlalchemy import select

from crawler.exitcodes import EXIT_OK
from storage.db import Database
from storage.models import Article
from tests.conftest import SITE, postgres_database
from tests.siteserver import SiteServer
from tests.test_reliability_support import (
    crawl,
    export,
    half_written,
    last_run,
    sqlite_integrity,
)

if TYPE_CHECKING:
    from collections.abc import Iterator

pytestmark = pytest.mark.slow

NASTY = Path(__file__).resolve().parent / "fixtures" / "nasty"
FOLDER = "/news/nasty/2025/0901/"
EXPECTED: dict[str, dict[str, Any]] = json.loads((NASTY / "expected.json").read_text("utf-8"))[
    "pages"
]
STAT_PREFIX = {
    "dropped": "pipeline/dropped/",
    "skipped": "news/skipped/",
    "refused": "news/refused/",
}
FUTURE = dt.datetime(
    dt.datetime.now(dt.UTC).year + 1, 3, 1, 9, 0, tzinfo=dt.timezone(dt.timedelta(hours=8))
)


@dataclass
class NastyCrawl:
    site_url: str
    exit_code: int
    stderr: str
    log: str
    stats: dict[str, Any]
    records: dict[str, dict[str, Any]]
    """Export records by page name."""
    published_raw: dict[str, str | None]
    trap_requests: int
    requested_paths: list[str]
    database_url: str


def _overlay(tmp: Path) -> Path:
    overlay = tmp / "overlay"
    shutil.copytree(NASTY / "site", overlay)
    (overlay / FOLDER.strip("/") / "future-date.html").write_text(
        '<html><head><meta charset="utf-8"></head><body><div class="article">'
        '<h1 class="article-title">未来日期</h1><div class="article-info"><span class="time">'
        f"{FUTURE:%Y-%m-%d %H:%M}</span></div>"
        '<div class="article-content"><p>未来的文章。</p></div></div></body></html>',
        "utf-8",
    )
    listing = overlay / "news" / "nasty" / "index.html"
    listing.write_text(
        listing.read_text("utf-8").replace(
            'title="列表标题：future-date.html"', 'title="未来日期"'
        ),
        "utf-8",
    )
    return overlay


def _faults(site: SiteServer, trap: SiteServer, trap2: SiteServer) -> None:
    page = FOLDER
    site.add_fault(page + "huge-page.html", body_bytes=20 * 1024 * 1024)
    site.add_fault(page + "pdf-at-article-url.html", content_type="application/pdf")
    site.add_fault(page + "image-at-article-url.html", content_type="image/png")
    site.add_fault(page + "redirect-loop.html", redirect="redirect-loop-b.html")
    site.add_fault(page + "redirect-loop-b.html", redirect=page + "redirect-loop.html", status=301)
    site.add_fault(page + "redirect-to-itself.html", redirect="redirect-to-itself.html")
    site.add_fault(page + "redirect-to-home.html", redirect="/")
    site.add_fault(page + "redirect-to-listing.html", redirect="/news/rdjj/", status=301)
    site.add_fault(page + "redirect-to-other-port.html", redirect=f"{trap.url}/news/rdjj/")
    site.add_fault(page + "redirect-to-127-0-0-2.html", redirect=f"{trap2.url}/")
    site.add_fault(page + "redirect-to-localhost.html", redirect=f"http://localhost:{site.port}/")
    site.add_fault(page + "redirect-to-private-address.html", redirect="http://10.0.0.1/")
    site.add_fault(
        page + "redirect-to-metadata-address.html",
        redirect="http://169.254.169.254/latest/meta-data/",
    )


def _published_raw(db: str) -> dict[str, str | None]:
    database = Database(db)
    try:
        with database.sessions() as session:
            rows = session.execute(select(Article.url, Article.published_raw)).all()
    finally:
        database.dispose()
    return {url.rsplit("/", 1)[-1]: raw for url, raw in rows}


@pytest.fixture(
    scope="module", params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
)
def nasty(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[NastyCrawl]:
    tmp = tmp_path_factory.mktemp(f"nasty-{request.param}")
    with contextlib.ExitStack() as stack:
        if request.param == "sqlite":
            db = f"sqlite:///{tmp / 'ecnews.db'}"
        else:
            db = stack.enter_context(postgres_database())
        site = stack.enter_context(SiteServer(SITE, "v1", faults={}, overlay=_overlay(tmp)))
        # Where the off-site redirects point: they must never be asked for anything.
        trap = stack.enter_context(SiteServer(SITE, "v1", faults={}))
        trap2 = stack.enter_context(SiteServer(SITE, "v1", faults={}, host="127.0.0.2"))
        _faults(site, trap, trap2)
        result = crawl(
            site,
            db,
            tmp,
            "-s",
            'NEWS_CATEGORIES={"nasty": "坏页面"}',
            # Many nasty pages have no body on purpose: the fill-rate monitor is not judged.
            "-s",
            "NEWS_FILL_RATE_RULES={}",
            # …and an empty page, one without content container: a share no real run has.
            "-s",
            "NEWS_MAX_SUSPECT_RATIO=1",
        )
        records = {
            record["url"].rsplit("/", 1)[-1]: record
            for record in (export(db) if result.returncode == EXIT_OK else [])
        }
        yield NastyCrawl(
            site_url=site.url,
            exit_code=result.returncode,
            stderr=result.stderr,
            log=(tmp / "crawl.log").read_text("utf-8"),
            stats=last_run(db).stats or {},
            records=records,
            published_raw=_published_raw(db),
            trap_requests=len(trap.log) + len(trap2.log),
            requested_paths=[entry.path for entry in site.log],
            database_url=db,
        )


def test_the_run_succeeds_without_errors(nasty: NastyCrawl) -> None:
    assert nasty.exit_code == EXIT_OK, nasty.stderr[-4000:]
    assert "Traceback" not in nasty.log, nasty.log[-4000:]
    assert not [key for key in nasty.stats if key.startswith("spider_exceptions/")]
    assert not nasty.stats.get("news/article/failed")
    assert not nasty.stats.get("pipeline/persist/failed")
    assert " ERROR: " not in nasty.log, [l for l in nasty.log.splitlines() if " ERROR: " in l]


def test_reasons_are_counted_in_the_run_stats(nasty: NastyCrawl) -> None:
    expected = Counter(
        STAT_PREFIX[page["outcome"]] + page["reason"]
        for page in EXPECTED.values()
        if page["outcome"] != "stored"
    )
    counted = {key: nasty.stats.get(key) for key in expected}
    assert counted == dict(expected)
    stored = sum(1 for page in EXPECTED.values() if page["outcome"] == "stored")
    assert nasty.stats.get("pipeline/persist/new") == stored
    assert nasty.stats.get("news/encoding/mislabelled") == 2
    assert nasty.stats.get("news/encoding/mixed") == 1
    assert nasty.stats.get("pipeline/dates/impossible") == 1
    assert nasty.stats.get("pipeline/dates/future") == 1
    assert nasty.stats.get("pipeline/too_long/source") == 1


def test_nothing_is_requested_off_the_site(nasty: NastyCrawl) -> None:
    assert nasty.trap_requests == 0
    # The home page and the listing are fetched (redirect targets on the site).
    assert "/" in nasty.requested_paths


def test_stored_rows_are_sound(nasty: NastyCrawl) -> None:
    if nasty.database_url.startswith("sqlite"):
        assert sqlite_integrity(nasty.database_url) == "ok"
    assert not half_written(nasty.database_url)
    stored = {name for name, page in EXPECTED.items() if page["outcome"] == "stored"}
    assert set(nasty.records) == stored


@pytest.mark.parametrize("name", list(EXPECTED), ids=list(EXPECTED))
def test_page_outcome(nasty: NastyCrawl, name: str) -> None:
    page = EXPECTED[name]
    url = f"{nasty.site_url}{FOLDER}{name}"
    lines = [line for line in nasty.log.splitlines() if url in line]
    for text in page.get("log", []):
        assert any(text in line for line in lines), f"no log line for {url} with {text!r}"
    if page["outcome"] != "stored":
        assert name not in nasty.records, f"{page['case']}: must not be stored"
        reason = page["reason"]
        assert any(reason in line for line in lines), f"{url}: reason {reason} not logged"
        return
    record = nasty.records.get(name)
    assert record is not None, f"{page['case']}: not stored\n" + "\n".join(lines)
    _check_fields(record, page, nasty.published_raw.get(name))


def _check_fields(record: dict[str, Any], page: dict[str, Any], raw: str | None) -> None:
    for field in ("title", "body", "source", "source_title", "date_precision"):
        if field in page:
            assert record[field] == page[field], field
    for field in ("title", "source_title"):
        if f"{field}_length" in page:
            assert len(record[field]) == page[f"{field}_length"], field
        if f"{field}_startswith" in page:
            assert record[field].startswith(page[f"{field}_startswith"]), field
    if "published_at" in page:
        want = FUTURE if page["published_at"] == "FUTURE" else page["published_at"]
        got = dt.datetime.fromisoformat(record["published_at"])
        assert got == (want if isinstance(want, dt.datetime) else dt.datetime.fromisoformat(want))
    if "published_raw" in page:
        assert raw == page["published_raw"]
    for text in (record["title"], record["body"], record["source_title"] or ""):
        assert not any(ord(c) < 32 and c != "\n" for c in text), "control characters kept"
        assert "\ufffd" not in text, "mis-decoded text"
