"""`ecnews reextract` against real crawls of the snapshot: a rule broken on purpose and
fixed, an unchanged database, a rebuild into an empty database with the site down."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

import pytest
from sqlalchemy import create_engine, text

from crawler.settings import ITEM_PIPELINES
from tests.conftest import SITE, ecnews
from tests.gold import compare, load_jsonl

if TYPE_CHECKING:
    from pathlib import Path

    from tests.siteserver import SiteServer

pytestmark = pytest.mark.slow

# The dates rule dropped: every article is stored without its date (a broken rule).
WITHOUT_DATES = json.dumps(
    {
        name: order
        for name, order in ITEM_PIPELINES.items()
        if name != "pipelines.dates.DatesPipeline"
    }
)


def _crawl(site: SiteServer, url: str, tmp_path: Path, *args: str, ok: bool = True) -> None:
    result = ecnews(
        "crawl",
        "--base-url",
        site.url,
        "--mode",
        "full",
        *args,
        database_url=url,
        tmp_path=tmp_path,
    )
    if ok:
        assert result.returncode == 0, result.stderr[-5000:]


def _export(url: str, tmp_path: Path) -> list[dict[str, object]]:
    result = ecnews("export", database_url=url, tmp_path=tmp_path)
    assert result.returncode == 0, result.stderr
    return [json.loads(line) for line in result.stdout.splitlines()]


def _reextract(url: str, tmp_path: Path, *args: str) -> str:
    result = ecnews("reextract", *args, database_url=url, tmp_path=tmp_path)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-5000:]
    return result.stdout


def _revisions(url: str) -> list[tuple[str | None, int]]:
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            rows = conn.execute(text("SELECT reason, count(*) FROM revisions GROUP BY reason"))
            return [(reason, int(count)) for reason, count in rows]
    finally:
        engine.dispose()


def test_a_fixed_rule_reaches_every_article_without_a_request(
    site: SiteServer, database_url: str, tmp_path: Path
) -> None:
    # The run fails its published_at fill-rate check, and stores every article undated.
    _crawl(site, database_url, tmp_path, "-s", f"ITEM_PIPELINES={WITHOUT_DATES}", ok=False)
    broken = _export(database_url, tmp_path)
    assert len(broken) == 27
    assert all(record["published_at"] is None for record in broken)

    site.clear_log()
    dry = _reextract(database_url, tmp_path, "--dry-run")
    assert "published_at: None -> '2025-" in dry
    assert "articles would change: 27 (by field: date_precision 27, published_at 27)" in dry
    assert _export(database_url, tmp_path) == broken, "a dry run writes nothing"
    assert _revisions(database_url) == []

    summary = _reextract(database_url, tmp_path)
    assert site.count() == 0, f"reextract sent requests: {site.log[:3]}"
    assert "articles changed: 27 (by field: date_precision 27, published_at 27)" in summary
    problems = compare(_export(database_url, tmp_path), load_jsonl(SITE / "gold-v1.jsonl"))
    assert not problems, "export differs from gold-v1:\n" + "\n".join(problems)
    assert _revisions(database_url) == [("reextract", 27)]


def test_reextract_on_an_unchanged_database_changes_nothing(
    site: SiteServer, database_url: str, tmp_path: Path
) -> None:
    _crawl(site, database_url, tmp_path)
    before = _export(database_url, tmp_path)
    site.clear_log()
    summary = _reextract(database_url, tmp_path)
    assert site.count() == 0
    assert "articles changed: 0 " in summary
    assert "revisions written: 0" in summary
    assert _export(database_url, tmp_path) == before
    assert _revisions(database_url) == []


def test_url_and_since_limit_what_is_replayed(
    site: SiteServer, sqlite_url: str, tmp_path: Path
) -> None:
    _crawl(site, sqlite_url, tmp_path, "-s", f"ITEM_PIPELINES={WITHOUT_DATES}", ok=False)
    one = "/news/zcfg/2025/0801/1023.html"
    summary = _reextract(sqlite_url, tmp_path, "--url", site.url + one)
    assert "articles changed: 1 " in summary
    dated = [r for r in _export(sqlite_url, tmp_path) if r["published_at"] is not None]
    assert [r["url"] for r in dated] == [site.url + one]


def test_rebuild_from_the_archive_alone(site: SiteServer, sqlite_url: str, tmp_path: Path) -> None:
    _crawl(site, sqlite_url, tmp_path)
    site.set_version("v2")
    _crawl(site, sqlite_url, tmp_path)
    site.stop()  # the site is down: the archive alone rebuilds the database

    rebuilt = f"sqlite:///{tmp_path / 'rebuilt.db'}"
    summary = _reextract(rebuilt, tmp_path, "--rebuild")
    assert "failed: 0" in summary
    problems = compare(_export(rebuilt, tmp_path), load_jsonl(SITE / "gold-v2.jsonl"))
    assert not problems, "rebuilt export differs from gold-v2:\n" + "\n".join(problems)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--rebuild", "--dry-run"), "--rebuild takes no other option"),
        (("--category", "nope"), "unknown category 'nope'"),
        (("--url", "http://elsewhere.example/x.html"), "no stored article matches"),
    ],
    ids=["rebuild-with-dry-run", "unknown-category", "url-not-stored"],
)
def test_user_mistakes_are_one_line(
    site: SiteServer, sqlite_url: str, tmp_path: Path, args: tuple[str, ...], message: str
) -> None:
    _crawl(site, sqlite_url, tmp_path)
    result = ecnews("reextract", *args, database_url=sqlite_url, tmp_path=tmp_path)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith(f"ecnews reextract: {message}")


def test_no_archive_is_one_line(sqlite_url: str, tmp_path: Path) -> None:
    result = ecnews("reextract", database_url=sqlite_url, tmp_path=tmp_path)
    assert result.returncode == 2
    assert result.stderr.startswith("ecnews reextract: no archive under ")
    assert "Traceback" not in result.stderr


def test_articles_the_site_deleted_are_reextracted_from_their_last_copy(
    site: SiteServer, sqlite_url: str, tmp_path: Path
) -> None:
    broken = ("-s", f"ITEM_PIPELINES={WITHOUT_DATES}")
    _crawl(site, sqlite_url, tmp_path, *broken, ok=False)
    site.set_version("v2")  # deletes articles; their pages 404 and no listing links them
    _crawl(site, sqlite_url, tmp_path, *broken, ok=False)
    site.clear_log()
    _reextract(sqlite_url, tmp_path)
    assert site.count() == 0
    problems = compare(_export(sqlite_url, tmp_path), load_jsonl(SITE / "gold-v2.jsonl"))
    assert not problems, "export differs from gold-v2:\n" + "\n".join(problems)
