"""Stored data never gets worse: the suspect-page rules, held poorer versions, and the
merge guard, on a real SQLite file and a real PostgreSQL."""

from __future__ import annotations

import datetime as dt
from dataclasses import replace
from typing import TYPE_CHECKING

import pytest
from scrapy.exceptions import DropItem
from scrapy.utils.test import get_crawler
from sqlalchemy import func, select

from pipelines.items import ArticleItem
from pipelines.rules import headline_agrees, is_cut
from pipelines.suspect import SuspectPagePipeline
from storage.batch import BatchWriter, Outcome
from storage.db import Database
from storage.models import Article, ArticleUrl, HeldChange, Revision
from storage.records import ArticleRecord
from tests.conftest import project_settings

if TYPE_CHECKING:
    from collections.abc import Iterator

T0 = dt.datetime(2025, 8, 23, 6, 0, tzinfo=dt.UTC)
SITE = "http://news.example"
BODY = "\n".join(f"第{n}段：跨境电商卖家加码海外仓，提前备战下半年销售旺季。" for n in range(12))
TITLE = "跨境电商卖家加码海外仓，提前备战下半年销售旺季"

RECORD = ArticleRecord(
    url=f"{SITE}/news/rdjj/2025/0722/1006.html",
    title=TITLE,
    body=BODY,
    published_at=dt.datetime(2025, 7, 22, 2, 30, tzinfo=dt.UTC),
    date_precision="minute",
    source="联商网",
    source_title=None,
    author=None,
    category_slug="rdjj",
    category_name="热点聚焦",
    listing_title=TITLE,
)


# -- the rules -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("headline", "listed", "agrees"),
    [
        (TITLE, (TITLE, TITLE), True),
        (TITLE, (None, "跨境电商卖家加码海外仓，提前备…"), True),
        (TITLE, ("跨境电商卖家加码海外仓 提前备战下半年销售旺季", None), True),
        ("跨境电商卖家加码海外仓，备战下半年旺季", (TITLE, None), True),
        ("ＧＭＶ同比增长３０％", ("GMV同比增长30%", None), True),
        ("系统繁忙", (TITLE, TITLE), False),
        ("页面不存在", ("报告：超六成中小电商商家已在经营中使用AI工具", None), False),
        ("访问出错了", ("网络销售领域专项整治行动启动", "网络销售领域…"), False),
        (None, (TITLE, None), True),
        (TITLE, (None, None), True),
        ("", ("", ""), True),
        ("618_大促 活动——开启！", ("618大促活动开启", None), True),
        ("iPhone 17 降价", (None, "IPHONE17降价"), True),
        ("《电商法》修订：第3条", ("电商法修订第3条", None), True),
    ],
    ids=[
        "same",
        "listing-cut-short",
        "punctuation-differs",
        "edited-headline",
        "full-width-forms",
        "busy-notice",
        "not-found-notice",
        "error-notice-vs-cut-text",
        "no-headline",
        "no-listing",
        "empty",
        "underscore-and-dashes",
        "case-folded",
        "book-title-marks",
    ],
)
def test_headline_agrees(
    headline: str | None, listed: tuple[str | None, str | None], agrees: bool
) -> None:
    assert headline_agrees(headline, *listed) is agrees


@pytest.mark.parametrize(
    ("tail", "cut"),
    [
        ("<p>正文</p></div>\n</body>\n</html>\n", False),
        ("<p>正文</p></div></BODY></HTML>", False),
        ("<p>正文在这里被截\ufffd", True),
        ("<p>正文在这里被截\ufffd\n", True),
        ('<p>正文</p></div>\n<div class="wrap">', False),
        ("<p>\ufffd是页面里本来就有的字符，不在结尾。</p></body></html>", False),
        ("", False),
        (None, False),
    ],
    ids=[
        "whole",
        "upper-case",
        "mid-character",
        "mid-character-then-newline",
        "malformed-but-whole",
        "replacement-char-inside",
        "empty",
        "none",
    ],
)
def test_is_cut(tail: str | None, cut: bool) -> None:
    assert is_cut(tail) is cut


def _item(url: str = RECORD.url, **fields: object) -> ArticleItem:
    item = ArticleItem(
        url=url,
        category_slug="rdjj",
        category_name="热点聚焦",
        listing_title=TITLE,
        listing_text=TITLE,
        title_raw=TITLE,
        title=TITLE,
        body=BODY,
        page_tails=["</div></body></html>"],
    )
    for name, value in fields.items():
        setattr(item, name, value)
    return item


@pytest.fixture
def suspect() -> SuspectPagePipeline:
    return SuspectPagePipeline.from_crawler(get_crawler(settings_dict=project_settings()))


@pytest.mark.parametrize(
    ("fields", "reason"),
    [
        ({"title_raw": "系统繁忙", "title": "系统繁忙"}, "headline_mismatch"),
        ({"body": "系统繁忙，请稍后再试。", "published_raw": None}, "short_body"),
        ({"content_chrome": ["h1", "nav"]}, "content_holds_page"),
        ({"page_tails": ["</div></body></html>", "<p>被截断的正\ufffd"]}, "page_cut"),
    ],
    ids=["headline", "short-notice", "page-in-container", "cut-page"],
)
def test_suspect_pages_are_dropped_and_counted(
    suspect: SuspectPagePipeline, fields: dict[str, object], reason: str
) -> None:
    with pytest.raises(DropItem, match=reason):
        suspect.process_item(_item(**fields))
    assert suspect.stats.get_value("news/article/suspect") == 1
    assert suspect.stats.get_value(f"news/article/suspect/{reason}") == 1


@pytest.mark.parametrize(
    "fields",
    [
        {},
        {"body": "短讯：某平台发布新规。", "published_raw": "2025-08-22 10:30"},
        {"page_tails": ["<p>页面没有闭合标签"]},
    ],
    ids=["article", "short-but-dated", "malformed-but-whole"],
)
def test_a_good_page_passes(suspect: SuspectPagePipeline, fields: dict[str, object]) -> None:
    item = _item(**fields)
    assert suspect.process_item(item) is item
    assert not suspect.stats.get_value("news/article/suspect")


def test_the_same_body_under_other_headlines_is_suspect(suspect: SuspectPagePipeline) -> None:
    suspect.process_item(_item())
    copy = _item(f"{SITE}/news/zcfg/2025/0722/2006.html")  # syndicated: same listing title
    assert suspect.process_item(copy) is copy
    republished = _item(
        f"{SITE}/news/sjbg/2025/0722/3006.html",
        listing_title="报告：超六成中小电商商家已在经营中使用AI工具",
        listing_text="报告：超六成中小电商商家已在经营中使用AI工具",
        title_raw=None,
    )
    assert suspect.process_item(republished) is republished  # two headlines may share it
    third = _item(
        f"{SITE}/news/jxal/2025/0722/4006.html",
        listing_title="直播电商新规落地，平台责任进一步压实",
        listing_text="直播电商新规落地，平台责任进一步压实",
        title_raw=None,
    )
    with pytest.raises(DropItem, match="repeated_body"):
        suspect.process_item(third)


# -- storage ---------------------------------------------------------------------------


@pytest.fixture
def db(database_url: str) -> Iterator[Database]:
    database = Database(database_url)
    yield database
    database.dispose()


def store(db: Database, record: ArticleRecord, at: dt.datetime = T0) -> Outcome | None:
    with db.sessions.begin() as session:
        return BatchWriter(session).write([record], at)[0]


def count(db: Database, model: type) -> int:
    with db.sessions() as session:
        return int(session.scalar(select(func.count()).select_from(model)) or 0)


def stored_body(db: Database) -> str:
    with db.sessions() as session:
        return session.scalars(select(Article.body)).one()


@pytest.mark.parametrize(
    "poorer",
    [
        {"body": BODY.split("\n")[0]},
        {"body": BODY[: len(BODY) * 3 // 4]},
        {"published_at": None, "date_precision": None},
        {"source": None},
    ],
    ids=["body-shrunk", "body-cut-short", "date-lost", "source-lost"],
)
def test_a_much_poorer_version_is_held_then_applied_if_it_stays(
    db: Database, poorer: dict[str, object]
) -> None:
    assert store(db, RECORD) is Outcome.NEW
    worse = replace(RECORD, **poorer)  # type: ignore[arg-type]  # poorer: ArticleRecord fields
    assert store(db, worse, T0 + dt.timedelta(hours=1)) is Outcome.HELD
    assert store(db, worse, T0 + dt.timedelta(hours=2)) is Outcome.HELD
    assert stored_body(db) == BODY
    assert count(db, Revision) == 0
    with db.sessions() as session:
        held = session.scalars(select(HeldChange)).one()
    assert held.times == 2
    # Still served a day after it was first held: the site means it.
    assert store(db, worse, T0 + dt.timedelta(hours=26)) is Outcome.UPDATED
    assert count(db, Revision) == 1
    assert count(db, HeldChange) == 0


def test_the_site_recovering_forgets_a_held_version(db: Database) -> None:
    store(db, RECORD)
    assert store(db, replace(RECORD, body="短。"), T0 + dt.timedelta(hours=1)) is Outcome.HELD
    assert store(db, RECORD, T0 + dt.timedelta(hours=2)) is Outcome.UNCHANGED
    assert count(db, HeldChange) == 0
    # A poorer version seen again later starts its wait anew.
    assert store(db, replace(RECORD, body="短。"), T0 + dt.timedelta(hours=27)) is Outcome.HELD


def test_an_ordinary_edit_is_applied_at_once(db: Database) -> None:
    store(db, RECORD)
    edited = replace(RECORD, body=BODY.replace("第3段", "第三段"))
    assert store(db, edited, T0 + dt.timedelta(hours=1)) is Outcome.UPDATED
    assert stored_body(db) == edited.body


def test_urls_listed_under_different_headlines_are_never_merged(db: Database) -> None:
    notice = replace(
        RECORD, url=f"{SITE}/news/rdjj/2025/0901/9001.html", title="系统繁忙", body="系统繁忙。"
    )
    assert store(db, notice) is Outcome.NEW
    other = replace(
        notice,
        url=f"{SITE}/news/sjbg/2025/0805/1016.html",
        listing_title="报告：超六成中小电商商家已在经营中使用AI工具",
    )
    assert store(db, other) is Outcome.NEW
    assert count(db, Article) == 2
    # Syndicated copies, listed under the same headline, are still one article.
    copy = replace(RECORD, url=f"{SITE}/news/zcfg/2025/0722/1025.html")
    store(db, RECORD)
    assert store(db, copy) is Outcome.MERGED
    with db.sessions() as session:
        titles = set(session.scalars(select(ArticleUrl.listing_title)))
    assert titles == {TITLE, "报告：超六成中小电商商家已在经营中使用AI工具"}
    assert count(db, Article) == 3


# -- what real sites do is never refused -------------------------------------------------

REWORDED = "平台压实直播带货责任，新规明确三类义务"


@pytest.mark.parametrize(
    "fields",
    [
        # A two-sentence flash: no date on the page, the listing dates it.
        {"body": "快讯：某平台发布新规。细则下月起施行。", "listing_date_raw": "2025-08-22"},
        # The listing shortened the headline to a few words of its own.
        {"listing_title": "直播新规", "listing_text": "直播新规", "info_parts": ["来源：测试网"]},
        # The listing reworded it.
        {"listing_title": REWORDED, "listing_text": REWORDED, "published_raw": "2025-08-22"},
    ],
    ids=["short-flash-dated-on-listing", "listing-headline-shortened", "listing-reworded"],
)
def test_real_pages_are_taken(suspect: SuspectPagePipeline, fields: dict[str, object]) -> None:
    item = _item(**fields)
    assert suspect.process_item(item) is item
    assert not suspect.stats.get_value("news/article/suspect")


def test_a_syndicated_body_keeps_every_copy(suspect: SuspectPagePipeline) -> None:
    """The same body under three headlines, each page with its own <h1>: all are taken,
    whichever order they are fetched in (the first published is often fetched last)."""
    headlines = [TITLE, "报告：超六成中小电商商家已在经营中使用AI工具", REWORDED]
    for n, headline in enumerate(headlines):
        copy = _item(
            f"{SITE}/news/zcfg/2025/0722/{2006 + n}.html",
            listing_title=headline,
            listing_text=headline,
            title_raw=headline,
            title=headline,
        )
        assert suspect.process_item(copy) is copy
