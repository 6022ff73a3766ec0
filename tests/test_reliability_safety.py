"""Safety: SQL only through SQLAlchemy with bound parameters; requests only to the
configured site; the read-only role for downstream readers works as documented.

(That the database password is never logged or stored is checked where a crawl meets a
database error: tests/test_reliability_database.py::test_the_database_password_is_never_logged.)
"""

from __future__ import annotations

import ast
import re
import uuid
from typing import TYPE_CHECKING

import pytest
from scrapy.http import Request, Response
from scrapy.utils.test import get_crawler
from sqlalchemy import create_engine, func, inspect, select, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError, ProgrammingError

import crawler.settings as project_settings
from crawler.middlewares import PageRefused, SiteOnlyMiddleware, SiteRedirectMiddleware
from crawler.spiders.news import NewsSpider
from storage.db import Database
from storage.models import Article
from tests.conftest import ROOT, SITE
from tests.siteserver import SiteServer
from tests.test_reliability_database import article, feed, pipeline
from tests.test_reliability_support import crawl, export

if TYPE_CHECKING:
    from pathlib import Path

    from scrapy.crawler import Crawler

# -- SQL --------------------------------------------------------------------------------

SQL_CALLS = {"execute", "exec_driver_sql", "executescript", "executemany", "text"}
_CONSTANT = re.compile(r"^[A-Z][A-Z0-9_]*$")


def _unsafe_sql(path: Path) -> list[str]:
    """Calls that hand the database a SQL string built at run time: an f-string, `%`,
    `+` or `.format()` (an f-string of module constants only, like PRAGMA busy_timeout,
    is allowed)."""
    found = []
    for node in ast.walk(ast.parse(path.read_text("utf-8"))):
        if not isinstance(node, ast.Call) or not node.args:
            continue
        func_node = node.func
        name = (
            func_node.attr if isinstance(func_node, ast.Attribute) else getattr(func_node, "id", "")
        )
        if name not in SQL_CALLS:
            continue
        sql = node.args[0]
        built = isinstance(sql, ast.BinOp) or (
            isinstance(sql, ast.Call)
            and isinstance(sql.func, ast.Attribute)
            and sql.func.attr == "format"
        )
        if isinstance(sql, ast.JoinedStr):
            built = any(
                not (isinstance(part.value, ast.Name) and _CONSTANT.match(part.value.id))
                for part in sql.values
                if isinstance(part, ast.FormattedValue)
            )
        if built:
            found.append(f"{path.relative_to(ROOT)}:{node.lineno}: {ast.unparse(node)[:100]}")
    return found


def test_no_sql_is_built_from_strings() -> None:
    sources = [
        p for package in ("crawler", "pipelines", "storage") for p in (ROOT / package).rglob("*.py")
    ]
    assert len(sources) > 20
    problems = [problem for path in sources for problem in _unsafe_sql(path)]
    assert not problems, "\n".join(problems)


def test_the_check_catches_built_sql(tmp_path: Path) -> None:
    bad = tmp_path / "bad.py"
    bad.write_text(
        "session.execute(text(f\"SELECT * FROM articles WHERE url = '{url}'\"))\n"
        "cursor.execute('DELETE FROM pages WHERE url = %s' % url)\n"
        "conn.exec_driver_sql('SELECT {}'.format(x))\n"
        "cursor.execute(f'PRAGMA busy_timeout={TIMEOUT_MS}')\n"
    )
    bad = bad.rename(ROOT / "tests" / f"_sql_check_{uuid.uuid4().hex}.py")
    try:
        assert len(_unsafe_sql(bad)) == 3
    finally:
        bad.unlink()


INJECTIONS = [
    "'); DROP TABLE articles; --",
    '" OR "1"="1',
    "Robert'); DELETE FROM article_urls WHERE ('1'='1",
    "%s %(x)s :param $1 ? \\' \\\\",
]


@pytest.mark.process
def test_hostile_text_is_stored_as_text(database_url: str, tmp_path: Path) -> None:
    persist = pipeline(database_url, tmp_path)
    items = []
    for n, payload in enumerate(INJECTIONS):
        item = article(
            url=f"http://news.example/a/{n}.html?q={payload}", title=payload, body=payload
        )
        item.source = payload[:16]
        item.author = payload
        items.append(item)
    feed(persist, *items)
    assert persist.stats.get_value("pipeline/persist/new") == len(INJECTIONS)
    database = Database(database_url)
    try:
        with database.sessions() as session:
            titles = set(session.scalars(select(Article.title)))
            assert session.scalar(select(func.count()).select_from(Article)) == len(INJECTIONS)
        assert {"articles", "article_urls", "pages"} <= set(
            inspect(database.engine).get_table_names()
        )
    finally:
        database.dispose()
    assert titles == set(INJECTIONS)


# -- only the configured site -----------------------------------------------------------


def _crawler(base_url: str) -> Crawler:
    settings = {n: getattr(project_settings, n) for n in dir(project_settings) if n.isupper()}
    crawler = get_crawler(NewsSpider, {**settings, "NEWS_SITE_URL": base_url})
    crawler.spider = NewsSpider.from_crawler(crawler)
    return crawler


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:8081/news/rdjj/",  # another port
        "http://127.0.0.2:8080/",  # another loopback address
        "http://localhost:8080/",  # the same port by another name
        "http://10.0.0.1/",  # a private address
        "http://169.254.169.254/latest/meta-data/",  # cloud metadata
        "http://news.example.127.0.0.1.nip.io:8080/",  # a name that resolves back home
        "http://sub.127.0.0.1:8080/",  # a subdomain
        "https://127.0.0.1/",  # another scheme and port
    ],
    ids=[
        "port",
        "127.0.0.2",
        "localhost",
        "private",
        "metadata",
        "lookalike",
        "subdomain",
        "https",
    ],
)
def test_only_the_sites_host_and_port_are_requested(url: str) -> None:
    crawler = _crawler("http://127.0.0.1:8080")
    guard = SiteOnlyMiddleware.from_crawler(crawler)
    assert guard.process_request(Request("http://127.0.0.1:8080/news/rdjj/")) is None
    for request in (
        Request(url),
        Request(url, dont_filter=True),
        Request(url, meta={"allow_offsite": True}),
    ):
        with pytest.raises(PageRefused) as refused:
            guard.process_request(request)
        assert refused.value.reason == "offsite"


@pytest.mark.parametrize(
    ("location", "reason"),
    [
        ("http://127.0.0.2:8080/x.html", "offsite_redirect"),
        ("//evil.example/x.html", "offsite_redirect"),
        ("/news/rdjj/2025/0821/1002.html", None),
        ("1001.html#top", "redirect_loop"),
    ],
    ids=["other-host", "scheme-relative", "same-site", "loop"],
)
def test_redirects_are_followed_on_the_site_only(location: str, reason: str | None) -> None:
    crawler = _crawler("http://127.0.0.1:8080")
    middleware = SiteRedirectMiddleware.from_crawler(crawler)
    request = Request("http://127.0.0.1:8080/news/rdjj/2025/0822/1001.html")
    response = Response(request.url, status=302, headers={"Location": location}, request=request)
    if reason is None:
        followed = middleware.process_response(request, response)
        assert isinstance(followed, Request)
        assert followed.dont_filter, (
            "a redirect to a fetched page must not vanish in the dupefilter"
        )
        return
    with pytest.raises(PageRefused) as refused:
        middleware.process_response(request, response)
    assert refused.value.reason == reason


@pytest.mark.slow
def test_a_crawl_never_leaves_the_site(sqlite_url: str, tmp_path: Path) -> None:
    """The home page links two external sites, listings link other hosts: none is asked."""
    overlay = tmp_path / "overlay" / "news" / "rdjj"
    overlay.mkdir(parents=True)
    with (
        SiteServer(SITE, "v1", faults={}) as trap,
        SiteServer(SITE, "v1", faults={}, host="127.0.0.2") as trap2,
    ):
        page = (SITE / "v1" / "news" / "rdjj" / "index.html").read_text("utf-8")
        extra = "".join(
            f'<li><h3><a href="{url}">offsite</a></h3><span class="date">2025-08-22</span></li>'
            for url in (f"{trap.url}/news/rdjj/2025/0822/1001.html", f"{trap2.url}/x.html",
                        "http://10.0.0.1/x.html")
        )  # fmt: skip
        (overlay / "index.html").write_text(
            page.replace('<ul class="news-list">', f'<ul class="news-list">{extra}'), "utf-8"
        )
        with SiteServer(SITE, "v1", faults={}, overlay=tmp_path / "overlay") as site:
            result = crawl(site, sqlite_url, tmp_path, "--categories", "rdjj")
        assert result.returncode == 0, result.stderr[-3000:]
        assert export(sqlite_url)
        assert not trap.log
        assert not trap2.log


# -- the read-only role for downstream readers (README, PostgreSQL) -------------------------

# The README's SQL, tested as written (the role name and the database are substituted).
READER_SQL = """
CREATE ROLE ecnews_reader LOGIN PASSWORD 'change-me';
GRANT CONNECT ON DATABASE ecnews TO ecnews_reader;
GRANT USAGE ON SCHEMA public TO ecnews_reader;
GRANT SELECT ON ALL TABLES IN SCHEMA public TO ecnews_reader;
ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT SELECT ON TABLES TO ecnews_reader;
ALTER ROLE ecnews_reader SET default_transaction_read_only = on;
"""


def _readme_sql() -> str:
    """The README's block when it has one (so that what it says is what is tested)."""
    readme = (ROOT / "README.md").read_text("utf-8")
    for block in re.findall(r"```sql\n(.*?)```", readme, re.DOTALL):
        if "CREATE ROLE ecnews_reader" in block:
            return str(block)
    return READER_SQL


@pytest.mark.postgres
def test_the_read_only_role_reads_everything_and_writes_nothing(postgres_url: str) -> None:
    Database(postgres_url).dispose()  # the schema, as the crawl creates it
    role = f"ecnews_reader_{uuid.uuid4().hex[:8]}"
    database_name = make_url(postgres_url).database
    sql = (
        _readme_sql()
        .replace("ecnews_reader", role)
        .replace("DATABASE ecnews ", f'DATABASE "{database_name}" ')
    )
    owner = create_engine(postgres_url, isolation_level="AUTOCOMMIT")
    reader = create_engine(make_url(postgres_url).set(username=role, password="change-me"))
    try:
        with owner.connect() as conn:
            for statement in filter(str.strip, _strip_comments(sql).split(";")):
                conn.execute(text(statement))
            # A table a later migration adds is readable too (default privileges).
            conn.execute(text("CREATE TABLE later_table (id integer)"))
        tables = inspect(owner).get_table_names()
        assert "articles" in tables
        with reader.connect() as conn:
            for table in tables:
                conn.execute(text(f'SELECT count(*) FROM "{table}"'))
        for statement in (
            "INSERT INTO categories (slug, name) VALUES ('x', 'x')",
            "UPDATE articles SET title = 'x'",
            "DELETE FROM crawl_runs",
            "CREATE TABLE reader_table (id integer)",
        ):
            with reader.connect() as conn, pytest.raises((ProgrammingError, DBAPIError)):
                conn.execute(text(statement))
    finally:
        reader.dispose()
        with owner.connect() as conn:
            conn.execute(text("DROP TABLE IF EXISTS later_table"))
            conn.execute(text(f'DROP OWNED BY "{role}"'))
            conn.execute(text(f'DROP ROLE "{role}"'))
        owner.dispose()


def _strip_comments(sql: str) -> str:
    return "\n".join(line.split("--", 1)[0] for line in sql.splitlines())
