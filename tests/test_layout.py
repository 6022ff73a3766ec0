"""The layout as data: descriptions, compilation, induction on small pages, and the
`ecnews layout` command against a real SQLite file."""

from __future__ import annotations

import datetime as dt
import time
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING

import pytest

from crawler.exitcodes import EXIT_OK, EXIT_USAGE
from crawler.layout import DEFAULT, Layout, compile_layout
from crawler.layout.induce import induce_article
from crawler.layout.prove import ArticleExample, prove
from pipelines.rules.dates import SHANGHAI
from storage import layouts
from storage.db import Database
from storage.layouts import Adoption, StoredArticle
from tests.conftest import ecnews

if TYPE_CHECKING:
    from pathlib import Path

# Every test here runs crawls in child processes: not in make test-fast.
pytestmark = pytest.mark.slow


BODY = "第一段正文，讲述一件事情。\n第二段正文，继续讲述。"


def stored(url: str, title: str, body: str = BODY) -> StoredArticle:
    return StoredArticle(
        url=url,
        category_slug="rdjj",
        title=title,
        body=body,
        published_at=dt.datetime(2025, 8, 22, 10, 30, tzinfo=SHANGHAI),
        date_precision="minute",
        source="联商网",
        source_title=None,
        author=None,
        listing_date=dt.date(2025, 8, 22),
    )


def page(title: str, date: str, *, box: str = "") -> str:
    return (
        "<html><body><h1 class='brand'>站点</h1>"
        "<aside><h1>热门</h1><p>2025-08-22 10:30</p></aside>"
        f"<div class='x1'><h1 class='t9'>{title}</h1>"
        f"<div class='m2'><em class='d'>{date}</em> <b>来源：联商网</b></div>"
        f"<section class='c3'><p>第一段正文，讲述一件事情。</p>{box}"
        "<p>第二段正文，继续讲述。</p></section></div></body></html>"
    )


def test_description_round_trips_and_compiles_once() -> None:
    again = Layout.from_json(DEFAULT.to_json())
    assert again == DEFAULT
    assert again.version == DEFAULT.version
    assert compile_layout(again) is compile_layout(DEFAULT)


@pytest.mark.parametrize(
    "date",
    ["2025-08-22 10:30", "2025年8月22日 10:30", "发布于 2025/08/22 10:30"],
    ids=["iso", "chinese", "labelled-slashes"],
)
def test_induced_from_examples_reproduces_them(date: str) -> None:
    box = "<div class='zz'><p>扫码关注我们</p></div>"
    examples = [
        ArticleExample(
            stored(f"http://h/news/rdjj/2025/0822/{n}.html", f"标题{n}"),
            [page(f"标题{n}", date, box=box)],
        )
        for n in range(1001, 1006)
    ]
    learned = induce_article(examples, DEFAULT)
    assert learned is not None
    assert learned.headline == ('//h1[@class="t9"]',)
    assert learned.content == ('//section[@class="c3"]',)
    assert learned.boxes == ('.//div[@class="zz"]',)
    proof = prove(compile_layout(learned), examples, [], 5)
    assert proof.proven, proof.failures


def test_one_disagreeing_field_refutes_the_layout() -> None:
    examples = [
        ArticleExample(
            stored(f"http://h/{n}.html", f"标题{n}"), [page(f"标题{n}", "2025-08-22 10:30")]
        )
        for n in range(5)
    ]
    examples[2].pages = [page("标题2", "2025-08-23 10:30")]
    learned = induce_article(examples, DEFAULT)
    assert learned is not None
    proof = prove(compile_layout(learned), examples, [], 5)
    assert not proof.proven
    assert "http://h/2.html: published_at" in proof.reason()


def test_layout_command_shows_pins_and_forgets(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'e.db'}"
    database = Database(url)
    learned = Layout.from_json({**DEFAULT.to_json(), "headline": ["//h1"]})
    with database.sessions.begin() as session:
        for n, layout in enumerate((DEFAULT, learned)):
            evidence = {"articles": [f"http://h/{n}.html"], "fields": ["title"], "listings": []}
            at = dt.datetime(2026, 1, 1 + n, tzinfo=dt.UTC)
            layouts.adopt(session, layout.version, layout.to_json(), evidence, at)
    database.dispose()

    shown = ecnews("layout", "show", database_url=url, tmp_path=tmp_path)
    assert shown.returncode == EXIT_OK, shown.stderr
    assert f"active layout: {learned.version}" in shown.stdout
    assert "http://h/1.html" in shown.stdout

    pinned = ecnews("layout", "pin", DEFAULT.version[:6], database_url=url, tmp_path=tmp_path)
    assert pinned.returncode == EXIT_OK, pinned.stderr
    shown = ecnews("layout", "show", database_url=url, tmp_path=tmp_path).stdout
    assert f"active layout: {DEFAULT.version} (pinned)" in shown

    forgot = ecnews("layout", "forget", DEFAULT.version, database_url=url, tmp_path=tmp_path)
    assert forgot.returncode == EXIT_OK, forgot.stderr
    shown = ecnews("layout", "show", database_url=url, tmp_path=tmp_path).stdout
    assert f"active layout: {learned.version}" in shown
    assert "forgotten" in shown

    unknown = ecnews("layout", "pin", "nosuch", database_url=url, tmp_path=tmp_path)
    assert unknown.returncode == EXIT_USAGE
    assert unknown.stderr.count("\n") == 1


def test_storing_a_layout_says_who_stored_it_first(database_url: str) -> None:
    """Workers that learn the same layout at once store it once: the first adopts it (and
    says so), the others find it active; a layout seen before is made active again; a
    forgotten one is never adopted."""
    database = Database(database_url)
    learned = Layout.from_json({**DEFAULT.to_json(), "headline": ["//h1"]})
    evidence: dict[str, object] = {"articles": [], "fields": [], "listings": []}
    outcomes = []
    try:
        for n, layout in enumerate((learned, learned, DEFAULT, learned)):
            with database.sessions.begin() as session:
                at = dt.datetime(2026, 1, 1 + n, tzinfo=dt.UTC)
                outcomes.append(
                    layouts.adopt(session, layout.version, layout.to_json(), evidence, at)
                )
                active = layouts.active_layout(session)
                assert active is not None
                assert active.version == layout.version
        with database.sessions.begin() as session:
            layouts.forget(session, learned.version, dt.datetime(2026, 2, 1, tzinfo=dt.UTC))
        with database.sessions.begin() as session:
            at = dt.datetime(2026, 2, 2, tzinfo=dt.UTC)
            outcomes.append(
                layouts.adopt(session, learned.version, learned.to_json(), evidence, at)
            )
            assert len(layouts.history(session)) == 2
    finally:
        database.dispose()
    assert outcomes == [
        Adoption.ADOPTED,
        Adoption.ALREADY,
        Adoption.ADOPTED,
        Adoption.ADOPTED,
        Adoption.FORGOTTEN,
    ]


def test_two_workers_storing_one_layout_at_once(database_url: str) -> None:
    """The second store waits for the first's insert, then finds the layout active: one
    row, one WARNING (pipelines/layout.py), whichever worker commits first."""
    database = Database(database_url)
    learned = Layout.from_json({**DEFAULT.to_json(), "headline": ["//h1"]})
    evidence: dict[str, object] = {"articles": [], "fields": [], "listings": []}
    at = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)

    def store() -> Adoption:
        with database.sessions.begin() as session:
            return layouts.adopt(session, learned.version, learned.to_json(), evidence, at)

    try:
        with database.sessions() as first, ThreadPoolExecutor(1) as pool:
            with first.begin():
                stored = layouts.adopt(first, learned.version, learned.to_json(), evidence, at)
                second = pool.submit(store)
                time.sleep(0.5)
                assert not second.done(), "the second store did not wait for the first"
            assert second.result(timeout=30) is Adoption.ALREADY
        assert stored is Adoption.ADOPTED
        with database.sessions.begin() as session:
            assert [row.version for row in layouts.history(session)] == [learned.version]
    finally:
        database.dispose()
