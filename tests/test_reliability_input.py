"""Property tests: bad input never raises and never reaches storage unstorable.

The pure helpers have their own property tests (test_text_rules, test_attribution_rules,
test_dates, test_urls). These cover what sits on top of them, on arbitrary input:

- the charset repair (pipelines/rules/encoding.py) and the response check middleware;
- the spider's article extraction on arbitrary bytes served as HTML;
- the whole item pipeline on arbitrary items: it either drops an item (DropItem, with a
  counted reason) or hands on one that satisfies the article schema and that the
  database stores, SQLite and PostgreSQL alike.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import TYPE_CHECKING, Any

import pytest
from hypothesis import HealthCheck, assume, event, given, settings
from hypothesis import strategies as st
from itemadapter import ItemAdapter
from scrapy.exceptions import DropItem
from scrapy.http import HtmlResponse, Request, Response, TextResponse
from scrapy.utils.test import get_crawler
from w3lib.encoding import read_bom

import crawler.settings as project_settings
from crawler.middlewares import ResponseCheckMiddleware
from crawler.spiders.news import NewsSpider
from pipelines.attribution import AttributionPipeline
from pipelines.check import SCHEMA as CHECK_SCHEMA
from pipelines.check import compile_schema
from pipelines.dates import DatesPipeline
from pipelines.items import ArticleItem
from pipelines.persist import to_record
from pipelines.rules.encoding import decode_html
from pipelines.text import TextPipeline
from pipelines.validate import ValidatePipeline
from storage.db import Database
from storage.writer import BatchTransactions, WriteFailed, WriterOptions
from tests.conftest import postgres_database

if TYPE_CHECKING:
    from collections.abc import Iterator

    from scrapy.crawler import Crawler

PROPERTY = settings(
    database=None,
    deadline=None,
    max_examples=60,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
SITE = "http://news.example"
# What reaches the database (raw fields other than published_raw stay in the item).
STORED_FIELDS = ("url", "title", "body", "published_raw", "source", "source_title", "author")
SCHEMA = json.loads(CHECK_SCHEMA.read_text("utf-8"))
VALIDATE, _ = compile_schema(CHECK_SCHEMA)
# What a page may claim. (A page that claims Big5 and is valid Big5 is read as Big5.)
CHARSETS = ["utf-8", "gb2312", "gbk", "gb18030", "latin-1", "windows-1252", "bogus", ""]

# Pieces of the site's markup, text with every kind of junk in it, and broken tags.
JUNK_TEXT = st.text(
    alphabet=st.one_of(
        st.characters(codec="utf-8"),
        st.sampled_from("\x00\x01\x07\x0b\x0c\x1b\x7f\u200b\ufeff\u3000\xa0\ufffd电商来源：作者"),
    ),
    max_size=30,
)
MARKUP = st.sampled_from(
    [
        '<div class="article">', '<h1 class="article-title">', "</h1>", "<h1>",
        '<div class="article-info">', '<span class="time">', '<span class="source">',
        "</span>", '<div class="article-content" id="content">', "</div>", "<p>", "</p>",
        "<br>", "<table><tr><td>", "</td><td>", "</td></tr></table>", "<script>", "</script>",
        '<div class="article-pages"><a href="9_2.html">2</a></div>', "<!--", "-->",
        "来源：", "作者：", "发布时间：2025-02-30 ", "2025-08-22 10:30", "&nbsp;", "&#0;",
        "&#xD800;", "<", ">", "&", '<meta charset="utf-8">',
        '<meta http-equiv="Content-Type" content="text/html; charset=gb2312">',
    ]
)  # fmt: skip
HTMLISH = st.lists(st.one_of(MARKUP, JUNK_TEXT), max_size=60).map("".join)


def _settings() -> dict[str, Any]:
    return {
        name: getattr(project_settings, name) for name in dir(project_settings) if name.isupper()
    }


@pytest.fixture(scope="module")
def crawler() -> Crawler:
    return get_crawler(NewsSpider, {**_settings(), "NEWS_SITE_URL": SITE})


@pytest.fixture(scope="module")
def spider(crawler: Crawler) -> NewsSpider:
    return NewsSpider.from_crawler(crawler)


# -- charsets ----------------------------------------------------------------------------


@PROPERTY
@given(
    st.binary(max_size=400), st.sampled_from([None, *(f"text/html; charset={c}" for c in CHARSETS)])
)
def test_decode_html_never_raises(body: bytes, content_type: str | None) -> None:
    decoded = decode_html(body, content_type)
    assert isinstance(decoded.text, str)
    if decoded.problem in {None, "mislabelled"} and read_bom(body)[0] is None:
        assert decoded.text == body.decode(decoded.encoding)


@PROPERTY
@given(
    st.text(alphabet=st.characters(min_codepoint=0x4E00, max_codepoint=0x9FA5), min_size=2),
    st.sampled_from(CHARSETS),
)
def test_gbk_text_is_read_right_whatever_the_page_declares(text: str, declared: str) -> None:
    page = f'<meta charset="{declared}"><p>{text}</p>'
    try:
        body = page.encode("gb18030")
    except UnicodeEncodeError:  # pragma: no cover - every CJK ideograph is in GB18030
        return
    # GBK bytes that happen to be valid UTF-8 are read as UTF-8 (rule 2): nothing to check.
    assume(not _valid_utf8(body))
    assert decode_html(body).text == page


@PROPERTY
@given(st.text(min_size=1), st.sampled_from(CHARSETS))
def test_utf8_text_is_read_right_whatever_the_page_declares(text: str, declared: str) -> None:
    page = f'<meta charset="{declared}"><p>{text}</p>'
    body = page.encode("utf-8")
    assert decode_html(body).text == page


def _valid_utf8(data: bytes) -> bool:
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


@PROPERTY
@given(
    st.binary(max_size=400), st.sampled_from(["text/html", "text/html; charset=gbk", "text/plain"])
)
def test_response_check_never_raises(crawler: Crawler, body: bytes, content_type: str) -> None:
    middleware = ResponseCheckMiddleware.from_crawler(crawler)
    response = HtmlResponse(f"{SITE}/a.html", body=body, headers={"Content-Type": content_type})
    checked = middleware.process_response(Request(response.url), response)
    assert isinstance(checked, Response)
    if isinstance(checked, TextResponse):
        assert isinstance(checked.text, str)


# -- the spider on arbitrary pages -------------------------------------------------------


def _article_item() -> ArticleItem:
    return ArticleItem(
        url=f"{SITE}/news/rdjj/2025/0822/9.html",
        category_slug="rdjj",
        category_name="热点聚焦",
        listing_title="列表标题",
        listing_date_raw="2025-08-22",
    )


def _extract(spider: NewsSpider, body: bytes, content_type: str) -> list[Any]:
    url = f"{SITE}/news/rdjj/2025/0822/9.html"
    response = HtmlResponse(
        url, body=body, headers={"Content-Type": content_type}, request=Request(url)
    )
    middleware = ResponseCheckMiddleware.from_crawler(spider.crawler)
    checked = middleware.process_response(Request(url), response)
    return list(spider.parse_article(checked, _article_item()))


@PROPERTY
@given(
    st.one_of(st.binary(max_size=600), HTMLISH.map(lambda h: h.encode("utf-8", "surrogatepass")))
)
def test_article_extraction_never_raises(spider: NewsSpider, body: bytes) -> None:
    for output in _extract(spider, body, "text/html"):
        assert isinstance(output, ArticleItem | Request)


# -- the item pipeline on arbitrary items --------------------------------------------------


def _content_nodes(htmls: list[str]) -> list[Any]:
    """The content containers the spider would hand on: parsed with the whole page."""
    nodes = []
    for html in htmls:
        body = f'<html><body><div class="article-content">{html}</div></body></html>'
        response = HtmlResponse(
            f"{SITE}/a.html", body=body.encode("utf-8", "surrogatepass"), encoding="utf-8"
        )
        found = response.selector.root.xpath('//div[@class="article-content"]')
        nodes.extend(found[:1])
    return nodes


ITEMS = st.builds(
    ArticleItem,
    url=st.just(f"{SITE}/news/rdjj/2025/0822/"),
    category_slug=st.just("rdjj"),
    category_name=st.just("热点聚焦"),
    page_urls=st.just([f"{SITE}/news/rdjj/2025/0822/1.html"]),
    listing_title=st.one_of(st.none(), JUNK_TEXT),
    listing_text=st.one_of(st.none(), JUNK_TEXT),
    listing_date_raw=st.one_of(st.none(), JUNK_TEXT, st.sampled_from(["2025-08-22", "2025-02-30"])),
    title_raw=st.one_of(st.none(), JUNK_TEXT, st.text(min_size=600, max_size=700)),
    published_raw=st.one_of(st.none(), JUNK_TEXT, st.sampled_from(["2025-02-30", "2099-01-01"])),
    info_parts=st.lists(st.one_of(JUNK_TEXT, JUNK_TEXT.map(lambda t: "来源：" + t)), max_size=4),
    content=st.lists(HTMLISH, max_size=2).map(_content_nodes),
    etag=st.one_of(st.none(), JUNK_TEXT, st.just("x" * 600)),
    last_modified=st.one_of(st.none(), JUNK_TEXT, st.just("y" * 100)),
)
LONG_ATTRIBUTION = st.builds(
    lambda text, value: [f"<p>{text}</p><p>来源：【{value}】标题</p><p>作者：{value}</p>"],
    JUNK_TEXT,
    st.text(min_size=513, max_size=1000),
)


class _Chain:
    """The cleaning pipelines, in settings order, ending before persistence."""

    def __init__(self, crawler: Crawler) -> None:
        assert crawler.stats is not None
        self.stages = [
            TextPipeline(),
            AttributionPipeline(crawler.stats),
            DatesPipeline(crawler.stats),
            ValidatePipeline(crawler.stats),
        ]

    def __call__(self, item: ArticleItem) -> ArticleItem | None:
        try:
            for stage in self.stages:
                item = stage.process_item(item)
        except DropItem:
            return None
        return item


@pytest.fixture(
    scope="module", params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
)
def persist(
    tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest
) -> Iterator[BatchTransactions]:
    """What the writer process runs, in this process: the property test stores one item per
    example, and a process round trip per example would only slow it down."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path_factory.mktemp('items') / 'items.db'}"
        database = Database(url)
        yield BatchTransactions(database, WriterOptions(attempts=1, backoff=0))
        database.dispose()
        return
    with postgres_database() as url:
        database = Database(url)
        yield BatchTransactions(database, WriterOptions(attempts=1, backoff=0))
        database.dispose()


_counter = iter(range(10**9))


@settings(PROPERTY, max_examples=150)
@given(st.one_of(ITEMS, ITEMS.flatmap(lambda i: LONG_ATTRIBUTION.map(lambda c: _with(i, c)))))
def test_pipeline_drops_or_stores_every_item(
    crawler: Crawler, persist: BatchTransactions, item: ArticleItem
) -> None:
    item.url += f"{next(_counter)}.html"  # one article per example
    clean = _Chain(crawler)(item)
    event("dropped" if clean is None else "stored")
    if clean is None:
        return
    assert clean.title
    assert clean.body
    record = ItemAdapter(clean).asdict()
    VALIDATE({k: v for k, v in record.items() if k in SCHEMA["properties"]})
    for field in STORED_FIELDS:
        value = record[field]
        if isinstance(value, str):
            assert "\x00" not in value, field
            assert not any("\ud800" <= c <= "\udfff" for c in value), field
    stored = to_record(clean, dt.datetime.now(dt.UTC))
    assert stored is not None
    [result] = persist.write([stored], dt.datetime.now(dt.UTC), replay=False)
    assert not isinstance(result, WriteFailed), result


def _with(item: ArticleItem, content: list[str]) -> ArticleItem:
    item.content = _content_nodes(content)
    return item
