"""`ecnews serve`: what an analyst sees first, checked through Datasette's own client on a
real SQLite file; the command line (busy port, public host) through the real command.

The browser's view of the same pages is tests/test_serve_browser.py.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import socket
from typing import TYPE_CHECKING, Any
from urllib.parse import quote
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import inspect, select, text

from crawler.commands.serve import is_loopback, web_view
from crawler.commands.serve_metadata import PRIVATE_WHEN_PUBLIC
from crawler.exitcodes import EXIT_PORT_BUSY
from storage.db import Database
from storage.models import Article, ArticleCategory, ArticleUrl, Category, Revision, Source
from storage.search import index_articles
from tests.conftest import ecnews

if TYPE_CHECKING:
    from pathlib import Path

    from datasette.app import Datasette

# Every test here starts a child process (an ecnews command, a crawl or a tool): not in make test-fast.
pytestmark = pytest.mark.process


SHANGHAI = ZoneInfo("Asia/Shanghai")
# Around midnight in China, where the UTC day and the site's day differ.
PUBLISHED = {
    "/a/2330": dt.datetime(2025, 8, 21, 23, 30, tzinfo=SHANGHAI),
    "/a/0030": dt.datetime(2025, 8, 22, 0, 30, tzinfo=SHANGHAI),
    "/a/0000": dt.datetime(2025, 8, 22, 0, 0, tzinfo=SHANGHAI),
    "/a/0759": dt.datetime(2025, 8, 22, 7, 59, tzinfo=SHANGHAI),
    "/a/0800": dt.datetime(2025, 8, 22, 8, 0, tzinfo=SHANGHAI),
    "/a/2359": dt.datetime(2025, 8, 22, 23, 59, tzinfo=SHANGHAI),
    "/a/next-0030": dt.datetime(2025, 8, 23, 0, 30, tzinfo=SHANGHAI),
    "/a/june": dt.datetime(2025, 6, 1, 23, 30, tzinfo=SHANGHAI),
}
EDITED = "/a/0030"
SEEN = dt.datetime(2025, 8, 23, 1, 0, tzinfo=dt.UTC)


def seed(database: Database) -> None:
    """PUBLISHED articles; the first two in both categories; EDITED has an earlier version
    and a second address."""
    with database.sessions.begin() as session:
        source = Source(name="新华网")
        rdjj, zcfg = Category(slug="rdjj", name="热点聚焦"), Category(slug="zcfg", name="政策法规")
        session.add_all([source, rdjj, zcfg])
        session.flush()
        for n, (url, published) in enumerate(PUBLISHED.items()):
            article = Article(
                url=url,
                title=f"标题{n} {url}",
                body=f"第一段{n}。\n第二段{n}。",
                content_hash=f"hash{n}",
                dedupe_key=f"key{n}",
                published_at=published,
                date_precision="minute",
                source_id=source.id if n % 2 else None,
                author="张三" if n == 0 else None,
                first_seen_at=SEEN,
                updated_at=SEEN,
                last_seen_at=SEEN,
            )
            session.add(article)
            session.flush()
            session.add(
                ArticleUrl(url=url, article_id=article.id, first_seen_at=SEEN, last_seen_at=SEEN)
            )
            categories = [rdjj, zcfg] if n < 2 else [rdjj if n % 2 else zcfg]
            session.add_all(
                ArticleCategory(article_id=article.id, category_id=c.id) for c in categories
            )
            if url == EDITED:
                session.add(
                    ArticleUrl(
                        url=f"{url}?print=1",
                        article_id=article.id,
                        first_seen_at=SEEN,
                        last_seen_at=SEEN,
                    )
                )
                session.add(
                    Revision(
                        article_id=article.id,
                        title="旧标题",
                        body="旧的第一段。\n旧的第二段。",
                        content_hash="old",
                        published_at=published,
                        date_precision="minute",
                        source_name="新华网",
                        valid_from=dt.datetime(2025, 8, 21, 17, 0, tzinfo=dt.UTC),
                        replaced_at=dt.datetime(2025, 8, 22, 16, 30, tzinfo=dt.UTC),
                    )
                )
        session.flush()
        index_articles(session, list(session.scalars(select(Article.id))))


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    path = tmp_path / "ecnews.db"
    database = Database(f"sqlite:///{path}")
    seed(database)
    database.dispose()
    return path


def tables_of(path: Path) -> list[str]:
    database = Database(f"sqlite:///{path}", migrate=False)
    with database.engine.connect() as connection:
        found = inspect(connection)
        tables = [*found.get_table_names(), *found.get_view_names()]
    database.dispose()
    return tables


def get(datasette: Datasette, path: str) -> Any:
    return asyncio.run(datasette.client.get(path))


def get_json(datasette: Datasette, path: str) -> Any:
    if "_shape=" not in path:
        path += ("&" if "?" in path else "?") + "_shape=objects"
    response = get(datasette, path)
    assert response.status_code == 200, response.text[:2000]
    return response.json()


@pytest.fixture
def view(db_path: Path) -> Datasette:
    return web_view(db_path, tables_of(db_path))


def view_rows(path: Path) -> list[dict[str, Any]]:
    database = Database(f"sqlite:///{path}", migrate=False)
    with database.engine.connect() as connection:
        rows = connection.execute(
            text("SELECT id, published_at, published_date FROM article_view")
        ).mappings()
        found = [dict(row) for row in rows]
    database.dispose()
    return found


def test_the_date_facet_counts_the_days_the_rows_show(view: Datasette, db_path: Path) -> None:
    page = get_json(view, "/ecnews/article_view.json?_facet_size=max&_size=max")
    facet = {r["value"]: r["count"] for r in page["facet_results"]["published_date"]["results"]}
    rows = view_rows(db_path)
    expected: dict[str, int] = {}
    for row in rows:
        # Every row's day is the date of its own local time, and the facet counts that day.
        assert row["published_date"] == row["published_at"][:10]
        expected[row["published_date"]] = expected.get(row["published_date"], 0) + 1
    assert facet == expected
    assert facet == {"2025-06-01": 1, "2025-08-21": 1, "2025-08-22": 5, "2025-08-23": 1}
    # Following a facet value lists exactly that day's articles.
    day = get_json(view, "/ecnews/article_view.json?published_date=2025-08-22&_size=max")
    assert sorted(r["published_at"] for r in day["rows"]) == [
        "2025-08-22T00:00:00+08:00",
        "2025-08-22T00:30:00+08:00",
        "2025-08-22T07:59:00+08:00",
        "2025-08-22T08:00:00+08:00",
        "2025-08-22T23:59:00+08:00",
    ]


def test_front_page_is_the_articles_newest_first(view: Datasette) -> None:
    front = get(view, "/")
    assert front.status_code == 302
    location = front.headers["location"]
    assert location.startswith("/ecnews/article_view?")
    page = get_json(view, location.replace("article_view?", "article_view.json?") + "&_size=max")
    assert page["columns"] == [
        "id",
        "title",
        "published_at",
        "published_date",
        "source",
        "categories",
    ]
    published = [row["published_at"] for row in page["rows"]]
    assert published == sorted(published, reverse=True)
    assert all(p.endswith("+08:00") for p in published)
    assert set(page["facet_results"]) == {"published_date", "source", "categories"}
    html = get(view, location).text
    assert "Every article, newest first" in html
    assert 'href="/-/articles/' in html  # titles lead to the article page


def test_category_facet_counts_each_listing_and_filters(view: Datasette) -> None:
    page = get_json(view, "/ecnews/article_view.json")
    facet = {
        r["value"]: (r["label"], r["count"]) for r in page["facet_results"]["categories"]["results"]
    }
    # 8 articles, 2 of them in both categories.
    assert facet == {"rdjj": ("热点聚焦 (rdjj)", 5), "zcfg": ("政策法规 (zcfg)", 5)}
    both = get_json(view, "/ecnews/article_view.json?_category=rdjj&_category=zcfg&_size=max")
    assert sorted(row["id"] for row in both["rows"]) == [1, 2]
    one = get_json(view, "/ecnews/article_view.json?_category=zcfg&_size=max")
    assert len(one["rows"]) == 5
    assert all("zcfg" in row["categories"].split(",") for row in one["rows"])


def test_an_article_page_reads_like_an_article(view: Datasette) -> None:
    response = get(view, "/-/articles/2")
    assert response.status_code == 200
    html = response.text
    for expected in (
        '<h1 class="ecnews-title">标题1 /a/0030</h1>',
        "2025-08-22T00:30:00+08:00",
        "新华网",
        "热点聚焦",
        "政策法规",
        "<p>第一段1。</p>",
        "<p>第二段1。</p>",
        "/a/0030?print=1",
        "旧标题",
        "<p>旧的第二段。</p>",
        "2025-08-23T00:30:00+08:00",  # the earlier version was replaced then (local)
    ):
        assert expected in html, expected
    assert get(view, "/-/articles/999").status_code == 404


def test_internal_tables_sit_behind_operations(view: Datasette) -> None:
    database = get_json(view, "/ecnews.json")
    shown = {t["name"] for t in database["tables"] if not t["hidden"]}
    for internal in (
        "pages",
        "listings",
        "held_changes",
        "crawl_runs",
        "alembic_version",
        "article_search",
    ):
        assert internal not in shown
    assert {"articles", "revisions", "sources", "categories"} <= shown
    operations = get(view, "/-/operations").text
    for internal in ("pages", "listings", "held_changes", "crawl_runs", "alembic_version"):
        assert f'href="/ecnews/{internal}"' in operations


def test_canned_queries_show_results_before_sql(view: Datasette) -> None:
    html = get(view, f"/ecnews/search?q={quote('第二段1')}").text
    assert "标题1 /a/0030" in html
    assert "ecnews_match(:q)" not in html  # the SQL stays behind "show"
    assert "<title>Search</title>" in html
    above_results = get(view, "/ecnews/latest").text.split("<table", 1)[0]
    assert "<textarea" not in above_results
    assert "<pre" not in above_results
    assert "_show_sql=1" in above_results  # one click away


def test_the_chart_queries_count_per_local_day(view: Datasette) -> None:
    config = view.plugin_config("datasette-dashboards")["articles"]["charts"]
    last_90 = get_json(
        view, "/ecnews.json?_shape=objects&sql=" + quote(config["last_90_days"]["query"])
    )["rows"]
    days = sorted({row["day"] for row in last_90})
    assert len(days) == 90
    assert days[-1] == "2025-08-23"
    assert len(last_90) == 90 * 2  # every day, every category, 0 where none
    per_day = {}
    for row in last_90:
        per_day[row["day"]] = per_day.get(row["day"], 0) + row["articles"]
    # 5 articles on the 22nd, one of them in both categories.
    assert per_day["2025-08-22"] == 6
    assert per_day["2025-08-21"] == 2
    assert per_day["2025-08-23"] == 1
    whole = get_json(
        view, "/ecnews.json?_shape=objects&sql=" + quote(config["whole_span"]["query"])
    )["rows"]
    assert whole[0]["day"] == "2025-06-01"


def test_private_tables_are_refused_whatever_the_sql(db_path: Path) -> None:
    view = web_view(db_path, tables_of(db_path), PRIVATE_WHEN_PUBLIC)
    assert get(view, "/ecnews/crawl_runs").status_code == 403
    refused = get(view, "/ecnews.json?sql=" + quote("select * from crawl_runs"))
    assert refused.status_code == 400
    assert "prohibited" in refused.text or "not authorized" in refused.text
    assert "crawl_runs" in get(view, "/-/operations").text
    assert get(view, "/ecnews/pages.json").status_code == 200
    assert get_json(view, "/ecnews/article_view.json")["rows"]


@pytest.mark.parametrize(
    ("host", "loopback"),
    [
        ("127.0.0.1", True),
        ("127.0.0.2", True),
        ("::1", True),
        ("localhost", True),
        ("0.0.0.0", False),
        ("192.0.2.1", False),
        ("news.example", False),
    ],
    ids=["v4", "v4-other", "v6", "name", "all", "lan", "hostname"],
)
def test_loopback_hosts(host: str, loopback: bool) -> None:
    assert is_loopback(host) is loopback


@pytest.fixture
def busy_port() -> Any:
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen(1)
        yield holder.getsockname()[1]


def test_busy_port_is_one_line_and_its_own_exit_code(
    db_path: Path, tmp_path: Path, busy_port: int
) -> None:
    result = ecnews(
        "serve", "--port", str(busy_port), database_url=f"sqlite:///{db_path}", tmp_path=tmp_path
    )
    assert result.returncode == EXIT_PORT_BUSY == 5
    assert result.stderr.strip().splitlines() == [
        (
            f"ecnews serve: cannot listen on 127.0.0.1:{busy_port}: Address already in use"
            " (choose another with --port)"
        )
    ]
    assert "serving" not in result.stderr


def test_public_host_warns_that_every_table_is_public(
    db_path: Path, tmp_path: Path, busy_port: int
) -> None:
    # The busy port stops the command before it listens: nothing is ever published here.
    result = ecnews(
        "serve",
        "--host",
        "0.0.0.0",
        "--port",
        str(busy_port),
        database_url=f"sqlite:///{db_path}",
        tmp_path=tmp_path,
    )
    assert result.returncode == EXIT_PORT_BUSY
    warning = result.stderr.splitlines()[0]
    assert warning == (
        "ecnews serve: warning: --host 0.0.0.0 publishes every table to anyone who can reach"
        " this machine; crawl_runs stays hidden (--show-runs publishes it)"
    )
