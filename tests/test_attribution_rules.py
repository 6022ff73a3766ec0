"""Unit and property tests for pipelines/rules/attribution.py."""

from __future__ import annotations

import dataclasses

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pipelines.rules.attribution import (
    AttributedBody,
    Attribution,
    attribute,
    is_trailer,
    parse_attribution,
    parse_author,
    parse_byline,
)
from pipelines.rules.text import clean_text

# No example database: each run stands alone, not replaying failures saved by earlier runs.
PROPERTY = settings(database=None, deadline=None)

LABELS = ["来源", "文章来源", "信息来源", "新闻来源", "稿件来源", "稿源", "本文来源", "原文来源",
          "出处", "转自", "本文转自", "转载自"]  # fmt: skip
COLON_OPTIONAL = ["转自", "本文转自", "转载自"]
COLON_REQUIRED = [label for label in LABELS if label not in COLON_OPTIONAL]
SRC = Attribution("人民网", None, None)


# --- parse_attribution: labels, colons, parentheses ---------------------------------------


@pytest.mark.parametrize("label", LABELS, ids=LABELS)
@pytest.mark.parametrize("colon", ["：", ":"], ids=["full-width-colon", "ascii-colon"])
def test_every_label_with_either_colon(label: str, colon: str) -> None:
    assert parse_attribution(f"{label}{colon}人民网") == SRC


@pytest.mark.parametrize("label", COLON_OPTIONAL, ids=COLON_OPTIONAL)
@pytest.mark.parametrize("gap", ["", " ", "\u3000"], ids=["no-gap", "space", "ideographic"])
def test_colon_is_optional_after_zhuanzi(label: str, gap: str) -> None:
    assert parse_attribution(f"{label}{gap}人民网") == SRC


@pytest.mark.parametrize("label", COLON_REQUIRED, ids=COLON_REQUIRED)
def test_colon_is_required_after_other_labels(label: str) -> None:
    assert parse_attribution(f"{label}人民网") is None


@pytest.mark.parametrize(
    "line",
    [
        "（来源：经济日报）",
        "(来源:经济日报)",
        "（来源：经济日报)",
        "(来源：经济日报）",
        "（ 来源：经济日报 ）",
        "（来源：经济日报",
        "（转自经济日报）",
        "来源 ： 经济日报",
        "\u3000\u3000来源：经济日报",
        "来源：经济日报\u200b",
    ],
    ids=[
        "full-width-parens",
        "ascii-parens",
        "mixed-parens",
        "mixed-parens-reversed",
        "spaces-inside-parens",
        "unclosed-paren",
        "parens-without-colon",
        "spaces-around-colon",
        "indented",
        "zero-width",
    ],
)
def test_wrapping_is_dropped(line: str) -> None:
    assert parse_attribution(line) == Attribution("经济日报", None, None)


@pytest.mark.parametrize(
    "line",
    [
        None,
        "",
        "   ",
        "正文内容",
        "来源人民网",
        "来源于网络的数据显示，网上零售额增长",
        "数据来源：国家统计局",
        "资料来源：公司年报",
        "本报讯 来源：新华社",
        "据悉，来源：人民网的报道称",
        "“来源：人民网”",
        "作者：张强",
        "责任编辑：李华",
        "文/李娜",
    ],
    ids=[
        "none",
        "empty",
        "blank",
        "text",
        "no-colon",
        "laiyuanyu-in-text",
        "other-label-shuju",
        "other-label-ziliao",
        "label-after-text",
        "label-mid-sentence",
        "label-in-quotes",
        "author-line",
        "trailer",
        "byline",
    ],
)
def test_not_an_attribution(line: str | None) -> None:
    assert parse_attribution(line) is None


@pytest.mark.parametrize(
    "line",
    ["来源：", "来源:", "（来源：）", "转自", "来源：\u3000"],
    ids=["full-width", "ascii", "in-parens", "zhuanzi-alone", "only-space"],
)
def test_label_without_value_is_an_empty_attribution(line: str) -> None:
    assert parse_attribution(line) == Attribution(None, None, None)


# --- parse_attribution: the value rules, in order ------------------------------------------

# fmt: off
VALUE_CASES = [
    # 【X】Y
    ("bracket-source-title", "【网经社】2025年上半年中国跨境电商市场数据报告", ("网经社", "2025年上半年中国跨境电商市场数据报告", None)),
    ("bracket-title-with-quotes", "【电商人才风采录】草根“电商人”闯出农特产品新路径", ("电商人才风采录", "草根“电商人”闯出农特产品新路径", None)),
    ("bracket-empty-title", "【网经社】", ("网经社", None, None)),
    ("bracket-spaces", "【 网经社 】 报告标题", ("网经社", "报告标题", None)),
    ("bracket-before-book-title", "【网经社】《报告》", ("网经社", "《报告》", None)),
    # X《Y》
    ("book-title", "人民网《直播电商迈入规范发展新阶段》", ("人民网", "直播电商迈入规范发展新阶段", None)),
    ("book-title-space", "人民网 《标题》", ("人民网", "标题", None)),
    ("book-title-nested-marks", "光明日报《关于〈规定〉的解读》", ("光明日报", "关于〈规定〉的解读", None)),
    ("book-title-empty", "人民网《》", ("人民网", None, None)),
    # X 记者 A / X 作者：A / X 作者 A
    ("reporter", "新华社 记者 张明", ("新华社", None, "张明")),
    ("reporter-ideographic-spaces", "新华社\u3000记者\u3000张明", ("新华社", None, "张明")),
    ("reporter-no-space-before-name", "新华社 记者张明", ("新华社", None, "张明")),
    ("reporter-two-names", "新华社 记者 张明 李华", ("新华社", None, "张明 李华")),
    ("author-full-width-colon", "经济日报 作者：王五", ("经济日报", None, "王五")),
    ("author-ascii-colon", "经济日报 作者:王五", ("经济日报", None, "王五")),
    ("author-space", "经济日报 作者 王五", ("经济日报", None, "王五")),
    ("source-with-space", "中国 新闻网 记者 赵六", ("中国 新闻网", None, "赵六")),
    ("reporter-needs-space-before", "新华社记者张明", ("新华社记者张明", None, None)),
    # headline: quotation marks, book marks, sentence punctuation, length
    ("headline-curly-quotes", "新生代青年“闯”进电商赛道", (None, "新生代青年“闯”进电商赛道", None)),
    ("headline-corner-brackets", "「闯」进电商赛道", (None, "「闯」进电商赛道", None)),
    ("headline-single-quotes", "‘闯’进电商赛道", (None, "‘闯’进电商赛道", None)),
    ("headline-ascii-quotes", '"闯"进电商赛道', (None, '"闯"进电商赛道', None)),
    ("headline-only-book-title", "《规定》", (None, "《规定》", None)),
    ("headline-book-title-mid-text", "解读《规定》要点", (None, "解读《规定》要点", None)),
    ("headline-comma", "平台减负，商家受益", (None, "平台减负，商家受益", None)),
    ("headline-full-stop", "平台减负。", (None, "平台减负。", None)),
    ("headline-exclamation", "平台减负！", (None, "平台减负！", None)),
    ("headline-question", "平台减负了吗？", (None, "平台减负了吗？", None)),
    ("headline-semicolon", "减负；增效", (None, "减负；增效", None)),
    ("16-chars-is-source", "一二三四五六七八九十一二三四五六", ("一二三四五六七八九十一二三四五六", None, None)),
    ("17-chars-is-headline", "一二三四五六七八九十一二三四五六七", (None, "一二三四五六七八九十一二三四五六七", None)),
    ("ascii-16-chars-is-source", "Reuters Agency16", ("Reuters Agency16", None, None)),
    ("ascii-17-chars-is-headline", "Reuters Agency017", (None, "Reuters Agency017", None)),
    # plain source: ASCII ' . , are not in the spec's sets (outlet names hold them)
    ("plain", "联商网", ("联商网", None, None)),
    ("ascii-apostrophe", "People's Daily", ("People's Daily", None, None)),
    ("ascii-dot", "ebrun.com", ("ebrun.com", None, None)),
    ("ascii-comma", "A,B", ("A,B", None, None)),
    ("parens-in-value-kept", "新华社(北京)", ("新华社(北京)", None, None)),
]
# fmt: on


@pytest.mark.parametrize(
    ("value", "expected"), [c[1:] for c in VALUE_CASES], ids=[c[0] for c in VALUE_CASES]
)
def test_value_rules(value: str, expected: tuple[str | None, str | None, str | None]) -> None:
    assert parse_attribution(f"来源：{value}") == Attribution(*expected)


def test_value_rules_apply_inside_parentheses() -> None:
    assert parse_attribution("（来源：新华社 记者 张明）") == Attribution("新华社", None, "张明")


# --- parse_author, parse_byline, is_trailer -----------------------------------------------


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("作者：张强", "张强"),
        ("作者:张强", "张强"),
        ("（作者：张强）", "张强"),
        ("(作者:张强)", "张强"),
        ("（作者：张强)", "张强"),
        ("作者 ： 张强 ", "张强"),
        ("\u3000作者：张强", "张强"),
        ("作者：张强、李华", "张强、李华"),
        ("作者：张三(实习生)", "张三(实习生)"),
        ("作者：", None),
        ("（作者：）", None),
        ("作者张强", None),
        ("本文作者：张强", None),
        ("作者认为，平台应当减负。", None),
        ("来源：新华社 作者：张明", None),
        ("", None),
        (None, None),
    ],
    ids=[
        "full-width-colon",
        "ascii-colon",
        "full-width-parens",
        "ascii-parens",
        "mixed-parens",
        "spaces",
        "indent",
        "two-names",
        "parens-in-name-kept",
        "empty-name",
        "empty-in-parens",
        "no-colon",
        "other-label",
        "running-text",
        "attribution-line",
        "empty",
        "none",
    ],
)
def test_parse_author(line: str | None, expected: str | None) -> None:
    assert parse_author(line) == expected


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("文/李娜", "李娜"),
        ("文｜李娜", "李娜"),
        ("文|李娜", "李娜"),
        ("文 / 李娜", "李娜"),
        ("文／李娜", "李娜"),
        ("\u3000文/李娜\u3000", "李娜"),
        ("文/本报记者 李娜", "本报记者 李娜"),
        ("文/", None),
        ("文章/李娜", None),
        ("文化/旅游融合发展成为新趋势", None),
        ("文/李娜说，平台的变化肉眼可见。", None),
        ("文/" + "长" * 21, None),
        ("图/李娜", None),
        ("作者：李娜", None),
        ("", None),
        (None, None),
    ],
    ids=[
        "slash",
        "full-width-bar",
        "ascii-bar",
        "spaced-slash",
        "full-width-slash",
        "indented",
        "title-and-name",
        "no-name",
        "wenzhang",
        "text-starting-with-wen",
        "sentence-is-text",
        "too-long-is-text",
        "photo-credit",
        "author-line",
        "empty",
        "none",
    ],
)
def test_parse_byline(line: str | None, expected: str | None) -> None:
    assert parse_byline(line) == expected


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("责任编辑：李华", True),
        ("责任编辑:李华", True),
        ("编辑：赵敏", True),
        ("编辑:赵敏", True),
        ("审核：王五", True),
        ("校对：刘六", True),
        ("编辑 ： 赵敏", True),
        ("编辑：赵敏 审核：王五", True),
        ("（责任编辑：李华）", True),
        ("(编辑:赵敏)", True),
        ("【责任编辑：李华】", True),
        ("（完）", True),
        ("(完)", True),
        ("( 完 )", True),
        ("【完】", True),
        ("[完]", True),
        ("\u3000\u3000（完）", True),
        ("完", False),
        ("完了", False),
        ("工作完成了（完）", False),
        ("编辑部认为，平台应当减负。", False),
        ("责任编辑李华", False),
        ("本文编辑：赵敏", False),
        ("来源：人民网", False),
        ("", False),
        (None, False),
    ],
    ids=[
        "zeren-bianji",
        "zeren-bianji-ascii",
        "bianji",
        "bianji-ascii",
        "shenhe",
        "jiaodui",
        "spaces-around-colon",
        "combined",
        "in-full-width-parens",
        "in-ascii-parens",
        "in-lenticular-brackets",
        "wan-full-width",
        "wan-ascii",
        "wan-spaced",
        "wan-lenticular",
        "wan-square",
        "wan-indented",
        "bare-wan",
        "wan-le",
        "wan-in-text",
        "bianjibu-in-text",
        "no-colon",
        "other-label",
        "attribution",
        "empty",
        "none",
    ],
)
def test_is_trailer(line: str | None, expected: bool) -> None:
    assert is_trailer(line) is expected


# --- attribute -----------------------------------------------------------------------------

TEXT = "平台发布减负新举措。"
MORE = "专家表示，平台与商家是共生关系。"
INFO = ["热点聚焦", "发布时间：2025-08-22 10:30", "阅读："]

# fmt: off
ATTRIBUTE_CASES = [
    # (id, paragraphs, info_parts, expected paragraphs, source, source_title, author)
    ("no-attribution", [TEXT], INFO, [TEXT], None, None, None),
    ("empty", [], [], [], None, None, None),
    ("tail-source", [TEXT, "来源：人民网"], INFO, [TEXT], "人民网", None, None),
    ("tail-source-in-parens", [TEXT, "（来源：经济日报）"], INFO, [TEXT], "经济日报", None, None),
    ("info-source", [TEXT], [*INFO, "来源：联商网"], [TEXT], "联商网", None, None),
    ("info-reporter", [TEXT], ["来源：新华社\u3000记者\u3000张明"], [TEXT], "新华社", None, "张明"),
    ("info-source-and-author", [TEXT], ["来源：网经社", "作者：刘洋"], [TEXT], "网经社", None, "刘洋"),
    ("info-author-tail-source", [TEXT, "来源：光明网"], ["作者：陈静"], [TEXT], "光明网", None, "陈静"),
    ("tail-reporter", [TEXT, "来源：新华社 记者 张明"], INFO, [TEXT], "新华社", None, "张明"),
    ("tail-bracketed", [TEXT, "来源：【网经社】报告"], INFO, [TEXT], "网经社", "报告", None),
    ("tail-headline", [TEXT, "来源:新生代青年“闯”进电商赛道"], INFO, [TEXT], None, "新生代青年“闯”进电商赛道", None),
    # the tail: attribution, author and trailers after the last text paragraph, any order
    ("tail-source-then-trailer", [TEXT, "来源：人民网", "责任编辑：李华"], INFO, [TEXT], "人民网", None, None),
    ("tail-trailer-then-source", [TEXT, "责任编辑：李华", "来源：人民网"], INFO, [TEXT], "人民网", None, None),
    ("tail-source-then-wan", [TEXT, "来源：人民网", "（完）"], INFO, [TEXT], "人民网", None, None),
    ("tail-author-source-trailer", [TEXT, "（作者：张强）", "来源：人民网", "编辑：赵敏"], INFO, [TEXT], "人民网", None, "张强"),
    ("tail-only-trailers", [TEXT, "编辑：赵敏", "审核：王五", "校对：刘六", "（完）"], INFO, [TEXT], None, None, None),
    ("tail-author-info-source", [TEXT, "（作者：张强）"], ["来源：人民网"], [TEXT], "人民网", None, "张强"),
    ("tail-author-then-wan", [TEXT, "作者：张强", "（完）"], INFO, [TEXT], None, None, "张强"),
    ("only-attribution", ["来源：人民网"], INFO, [], "人民网", None, None),
    # a label, author line or trailer inside the running text is text
    ("label-in-first-paragraph", ["来源：新华社", TEXT], INFO, ["来源：新华社", TEXT], None, None, None),
    ("label-mid-body", [TEXT, "来源：新华社", MORE], INFO, [TEXT, "来源：新华社", MORE], None, None, None),
    ("author-line-mid-body", [TEXT, "作者：张强", MORE], INFO, [TEXT, "作者：张强", MORE], None, None, None),
    ("wan-mid-body", [TEXT, "（完）", MORE], INFO, [TEXT, "（完）", MORE], None, None, None),
    ("label-inside-sentence", [TEXT, "据新华社消息，来源：人民网"], INFO, [TEXT, "据新华社消息，来源：人民网"], None, None, None),
    # several attributions in the tail: the first in document order wins, all are dropped
    ("two-tail-attributions", [TEXT, "来源：甲报", "转自：乙网"], INFO, [TEXT], "甲报", None, None),
    ("empty-tail-attribution-gives-nothing", [TEXT, "来源：", "转自：乙网"], INFO, [TEXT], "乙网", None, None),
    # byline
    ("byline-with-info-source", ["文/李娜", TEXT], ["来源：亿邦动力"], [TEXT], "亿邦动力", None, "李娜"),
    ("byline-and-trailer", ["文/李娜", TEXT, "编辑：赵敏"], INFO, [TEXT], None, None, "李娜"),
    ("byline-only-in-first-paragraph", [TEXT, "文/李娜"], INFO, [TEXT, "文/李娜"], None, None, None),
    ("byline-alone", ["文/李娜"], INFO, [], None, None, "李娜"),
    # precedence: the info line (structured data) beats the body
    ("info-source-beats-tail", [TEXT, "来源：新华社"], ["来源：人民网"], [TEXT], "人民网", None, None),
    ("info-source-beats-tail-reporter", [TEXT, "来源：新华社 记者 张明"], ["来源：人民网"], [TEXT], "人民网", None, None),
    ("empty-info-source-falls-back", [TEXT, "来源：新华社"], ["来源："], [TEXT], "新华社", None, None),
    ("info-author-beats-tail-reporter", [TEXT, "来源：新华社 记者 张明"], ["作者：陈静"], [TEXT], "新华社", None, "陈静"),
    ("info-author-keeps-byline", ["文/李娜", TEXT], ["作者：陈静"], ["文/李娜", TEXT], None, None, "陈静"),
    ("info-author-keeps-tail-author", [TEXT, "（作者：张强）"], ["作者：陈静"], [TEXT, "（作者：张强）"], None, None, "陈静"),
    ("info-reporter-keeps-byline", ["文/李娜", TEXT], ["来源：新华社 记者 张明"], ["文/李娜", TEXT], "新华社", None, "张明"),
    ("info-author-beats-info-reporter", [TEXT], ["来源：新华社 记者 张明", "作者：陈静"], [TEXT], "新华社", None, "陈静"),
    # among body authors: the byline, then the tail author line, then the tail's 记者 A
    ("byline-beats-tail-author", ["文/李娜", TEXT, "作者：张强"], INFO, [TEXT, "作者：张强"], None, None, "李娜"),
    ("tail-author-beats-tail-reporter", [TEXT, "作者：张强", "来源：新华社 记者 张明"], INFO, [TEXT], "新华社", None, "张强"),
    # input is cleaned: blank paragraphs dropped, white space collapsed
    ("input-cleaned", ["\u3000\u3000" + TEXT, "", "  ", "\u00a0来源：人民网"], INFO, [TEXT], "人民网", None, None),
]
# fmt: on


@pytest.mark.parametrize(
    ("paragraphs", "info", "expected"),
    [(paragraphs, info, AttributedBody(*rest)) for _, paragraphs, info, *rest in ATTRIBUTE_CASES],
    ids=[c[0] for c in ATTRIBUTE_CASES],
)
def test_attribute(paragraphs: list[str], info: list[str], expected: AttributedBody) -> None:
    assert attribute(paragraphs, info) == expected


def test_results_are_frozen() -> None:
    with pytest.raises(dataclasses.FrozenInstanceError):
        SRC.source = "x"  # type: ignore[misc]  # misc: assigning a frozen field on purpose


# --- properties ----------------------------------------------------------------------------

LINES = st.one_of(
    st.text(max_size=30),
    st.builds(
        "".join,
        st.tuples(
            st.sampled_from(["", "（", "(", " ", "\u3000"]),
            st.sampled_from([*LABELS, "作者", "文", "责任编辑", "编辑", "审核", "校对"]),
            st.sampled_from(["", "：", ":", "/", "｜", " "]),
            st.text(max_size=25),
            st.sampled_from(["", "）", ")", "》", "】"]),
        ),
    ),
    st.sampled_from(["（完）", "(完)", "【网经社】标题", "人民网《标题》", "新华社 记者 张明"]),
)


@PROPERTY
@given(st.one_of(st.none(), LINES))
def test_parsers_never_raise_and_return_their_types(line: str | None) -> None:
    attribution = parse_attribution(line)
    assert attribution is None or isinstance(attribution, Attribution)
    if attribution is not None:
        for value in (attribution.source, attribution.source_title, attribution.author):
            assert value is None or (value and clean_text(value) == value)
    for name in (parse_author(line), parse_byline(line)):
        assert name is None or (isinstance(name, str) and name)
    assert isinstance(is_trailer(line), bool)


@PROPERTY
@given(st.lists(LINES, max_size=8), st.lists(LINES, max_size=5))
def test_attribute_keeps_body_paragraphs_in_order(paragraphs: list[str], info: list[str]) -> None:
    result = attribute(paragraphs, info)
    assert isinstance(result, AttributedBody)
    remaining = iter(p for p in map(clean_text, paragraphs) if p)
    # The result is a subsequence of the cleaned input: nothing invented or reordered.
    assert all(any(p == q for q in remaining) for p in result.paragraphs)
    for value in (result.source, result.source_title, result.author):
        assert value is None or isinstance(value, str)
