"""A redesign costs no article and no field (issue 15, docs/layout.md): over real HTTP, the
redesign fixture crawled as cron would, into SQLite and PostgreSQL; the same on a second
redesign made by program (tests/redesigns.py); a layout that disagrees with one stored
field is never adopted."""

from __future__ import annotations

import json
import re
from typing import TYPE_CHECKING, Any

import pytest
from sqlalchemy import create_engine, text

from crawler.exitcodes import EXIT_FAILED, EXIT_OK, EXIT_USAGE
from tests.conftest import ecnews
from tests.gold import compare, load_jsonl
from tests.redesigns import REDESIGN, headlined, redated, synthetic
from tests.siteserver import SiteServer
from tests.test_cron import ARTICLE

if TYPE_CHECKING:
    import subprocess
    from pathlib import Path

pytestmark = pytest.mark.slow

_LOUD = re.compile(r"\b(WARNING|ERROR|CRITICAL)\b")


def crawl(
    site: SiteServer, db: str, tmp_path: Path, version: str, mode: str
) -> subprocess.CompletedProcess[str]:
    site.set_version(version)
    return ecnews(
        "crawl", "--base-url", site.url, "--mode", mode, database_url=db, tmp_path=tmp_path
    )


def export(db: str, tmp_path: Path) -> list[dict[str, object]]:
    result = ecnews("export", database_url=db, tmp_path=tmp_path)
    assert result.returncode == 0, result.stderr
    return [json.loads(line) for line in result.stdout.splitlines()]


def loud_lines(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if _LOUD.search(line)]


def rows(db: str, query: str) -> list[tuple[Any, ...]]:
    """The rows of one query, on a connection of its own."""
    engine = create_engine(db)
    try:
        with engine.connect() as connection:
            return [tuple(row) for row in connection.execute(text(query))]
    finally:
        engine.dispose()


def revised_urls(db: str) -> set[str]:
    query = "SELECT a.url FROM revisions r JOIN articles a ON a.id = r.article_id"
    return {re.sub(r"^https?://[^/]+", "", str(url)) for (url,) in rows(db, query)}


def layouts(db: str) -> list[tuple[str, str]]:
    return [(str(v), str(e)) for v, e in rows(db, "SELECT version, evidence FROM layouts")]


def edited_in_v2() -> set[str]:
    v1 = {r["url"]: r for r in load_jsonl(REDESIGN / "gold-v1.jsonl")}
    v2 = {r["url"]: r for r in load_jsonl(REDESIGN / "gold-v2.jsonl")}
    return {
        str(url)
        for url, record in v1.items()
        if url in v2 and (record["title"], record["body"]) != (v2[url]["title"], v2[url]["body"])
    }


def cron_sequence(root: Path, db: str, tmp_path: Path) -> None:
    """v1, then v2 incremental, v2 full, v2 incremental: what the issue measures."""
    with SiteServer(root, "v1") as site:
        first = crawl(site, db, tmp_path, "v1", "incremental")
        assert first.returncode == EXIT_OK, first.stderr[-3000:]
        redesigned = crawl(site, db, tmp_path, "v2", "incremental")
        assert redesigned.returncode == EXIT_OK, redesigned.stderr[-3000:]
        changed = [line for line in loud_lines(redesigned.stderr) if "layout" in line]
        assert len(changed) == 1, loud_lines(redesigned.stderr)
        assert "site layout changed: relearned from" in changed[0]
        assert "all fields reproduced" in changed[0]
        full = crawl(site, db, tmp_path, "v2", "full")
        assert full.returncode == EXIT_OK, full.stderr[-3000:]
        last = crawl(site, db, tmp_path, "v2", "incremental")
        assert last.returncode == EXIT_OK, last.stderr[-3000:]
        assert not loud_lines(last.stderr), loud_lines(last.stderr)
    problems = compare(export(db, tmp_path), load_jsonl(REDESIGN / "gold-v2.jsonl"))
    assert not problems, "\n".join(problems)
    assert revised_urls(db) == edited_in_v2()
    stored = layouts(db)
    assert len(stored) == 1, stored
    assert "articles" in stored[0][1]


def test_redesign_is_relearned_from_stored_articles(database_url: str, tmp_path: Path) -> None:
    cron_sequence(REDESIGN, database_url, tmp_path)
    operate_the_layout(database_url, tmp_path)


def operate_the_layout(db: str, tmp_path: Path) -> None:
    """`ecnews layout show` names the learned layout and its evidence; `pin` and `forget`
    steer it; an unknown version is one line and exit 2."""
    ((version, _),) = layouts(db)
    shown = ecnews("layout", "show", database_url=db, tmp_path=tmp_path)
    assert shown.returncode == EXIT_OK, shown.stderr
    assert f"active layout: {version}" in shown.stdout
    assert re.search(r"proven on \d+ stored articles", shown.stdout), shown.stdout
    pinned = ecnews("layout", "pin", version[:8], database_url=db, tmp_path=tmp_path)
    assert pinned.returncode == EXIT_OK, pinned.stderr
    assert "(pinned)" in ecnews("layout", "show", database_url=db, tmp_path=tmp_path).stdout
    unknown = ecnews("layout", "forget", "no-such-version", database_url=db, tmp_path=tmp_path)
    assert unknown.returncode == EXIT_USAGE
    assert unknown.stderr.strip().count("\n") == 0, unknown.stderr
    forgotten = ecnews("layout", "forget", version, database_url=db, tmp_path=tmp_path)
    assert forgotten.returncode == EXIT_OK, forgotten.stderr
    after = ecnews("layout", "show", database_url=db, tmp_path=tmp_path).stdout
    assert "active layout: the shipped one" in after
    assert f"{version}" in after
    assert "forgotten" in after


def test_another_redesign_is_relearned_too(sqlite_url: str, tmp_path: Path) -> None:
    """Other classes and ids, another date format, another pager text, two <h1>s, a sidebar
    of dated, titled links to every category: nothing of it is known to the code."""
    cron_sequence(synthetic(tmp_path / "site"), sqlite_url, tmp_path)


@pytest.mark.parametrize("redesign", ["public", "synthetic"])
def test_cold_start_on_a_redesigned_site(redesign: str, sqlite_url: str, tmp_path: Path) -> None:
    """A new install facing a layout it does not know: learned from what the listings say,
    proven, and every article of v2 stored exactly (the one taken down before v2 aside)."""
    root = REDESIGN if redesign == "public" else synthetic(tmp_path / "site")
    with SiteServer(root, "v2") as site:
        result = crawl(site, sqlite_url, tmp_path, "v2", "incremental")
        assert result.returncode == EXIT_OK, result.stderr[-3000:]
        assert "site layout unknown: learned from" in result.stderr
        again = crawl(site, sqlite_url, tmp_path, "v2", "incremental")
        assert again.returncode == EXIT_OK, again.stderr[-3000:]
        assert not loud_lines(again.stderr), loud_lines(again.stderr)
    gold = load_jsonl(REDESIGN / "gold-v2.jsonl")
    problems = compare(export(sqlite_url, tmp_path), gold)
    taken_down = [p for p in problems if p.startswith("missing gold article")]
    assert len(taken_down) == 1, "\n".join(problems)
    assert problems == taken_down, "\n".join(problems)


def generic_articles(db: str) -> int:
    ((count,),) = rows(db, "SELECT count(*) FROM articles WHERE layout_version = 'generic'")
    return int(count)


def revision_reasons(db: str) -> list[str]:
    return [str(reason) for (reason,) in rows(db, "SELECT reason FROM revisions")]


def test_generic_articles_are_replaced_once_a_layout_is_proven(
    sqlite_url: str, tmp_path: Path
) -> None:
    """No layout provable (headlines that are not the listings' titles): every article is
    stored as the generic extractor reads it, marked, and the run fails loudly. The next
    incremental run, on pages a layout can be proven on, reads them all again (no 304, no
    "already known") and replaces each with the exact article."""
    root = headlined(tmp_path / "site")
    with SiteServer(root, "v2-headlined") as site:
        first = crawl(site, sqlite_url, tmp_path, "v2-headlined", "incremental")
        assert first.returncode == EXIT_FAILED, first.stderr[-3000:]
        assert "generic extractor" in first.stderr
        stored = generic_articles(sqlite_url)
        assert stored == len(export(sqlite_url, tmp_path)) > 0
        site.clear_log()
        second = crawl(site, sqlite_url, tmp_path, "v2", "incremental")
        assert second.returncode == EXIT_OK, second.stderr[-3000:]
        refetched = {r.path for r in site.log if r.status == 200 and ARTICLE.match(r.path)}
        assert len(refetched) >= stored
        third = crawl(site, sqlite_url, tmp_path, "v2", "incremental")
        assert third.returncode == EXIT_OK, third.stderr[-3000:]
        assert not loud_lines(third.stderr), loud_lines(third.stderr)
    assert generic_articles(sqlite_url) == 0
    assert set(revision_reasons(sqlite_url)) <= {"layout"}
    problems = compare(export(sqlite_url, tmp_path), load_jsonl(REDESIGN / "gold-v2.jsonl"))
    taken_down = [p for p in problems if p.startswith("missing gold article")]
    assert len(taken_down) == 1, "\n".join(problems)
    assert problems == taken_down, "\n".join(problems)


def test_a_layout_that_disagrees_on_one_field_is_not_adopted(
    sqlite_url: str, tmp_path: Path
) -> None:
    root, path = redated(tmp_path / "site")
    with SiteServer(root, "v1") as site:
        assert crawl(site, sqlite_url, tmp_path, "v1", "incremental").returncode == EXIT_OK
        before = export(sqlite_url, tmp_path)
        result = crawl(site, sqlite_url, tmp_path, "v2", "incremental")
    assert result.returncode == EXIT_FAILED
    assert "could not be proven" in result.stderr
    assert f"{path}: published_at" in result.stderr
    assert layouts(sqlite_url) == []
    assert export(sqlite_url, tmp_path) == before, "nothing is stored from an unproven layout"
