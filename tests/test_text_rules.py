"""Unit and property tests for pipelines/rules/text.py: clean_text, clean_title, html_paragraphs."""

from __future__ import annotations

import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pipelines.rules.text import clean_text, clean_title, html_paragraphs

# No example database: each run stands alone, not replaying failures saved by earlier runs.
PROPERTY = settings(database=None, deadline=None)

ZERO_WIDTH = "\u200b\u200c\u200d\u2060\ufeff"


# --- clean_text ---------------------------------------------------------------------------

CLEAN_TEXT_CASES = [
    ("none", None, ""),
    ("empty", "", ""),
    ("plain", "正文", "正文"),
    ("strip-ascii-spaces", "  正文  ", "正文"),
    ("collapse-spaces", "a   b", "a b"),
    ("tab-newline-cr", "a\t\n\r b", "a b"),
    ("nbsp-inside", "a\u00a0b", "a b"),
    ("nbsp-indent", "\u00a0\u00a0\u00a0\u00a0正文", "正文"),
    ("ideographic-space-indent", "\u3000\u3000正文", "正文"),
    ("ideographic-space-inside", "正\u3000\u3000文", "正 文"),
    ("em-space-indent", "\u2003\u2003正文", "正文"),
    ("other-unicode-spaces", "a\u2002b\u2009c\u202fd", "a b c d"),
    ("line-paragraph-separators", "a\u2028b\u2029c", "a b c"),
    ("zwsp", "a\u200bb", "ab"),
    ("zwnj", "a\u200cb", "ab"),
    ("zwj", "a\u200db", "ab"),
    ("word-joiner", "a\u2060b", "ab"),
    ("bom", "\ufeffa", "a"),
    ("zero-width-between-spaces", "a \u200b b", "a b"),
    ("only-zero-width", "\u200b", ""),
    ("nul", "a\x00b", "ab"),
    ("c0-controls", "a\x01b\x08c", "abc"),
    ("c0-escape-and-unit-separator", "a\x1bb\x1fc", "abc"),
    ("vt-ff-are-space", "a\x0bb\x0cc", "a b c"),
    ("del", "a\x7fb", "ab"),
    ("c1-controls", "a\x80b\x9fc", "abc"),
    ("nel-is-space", "a\x85b", "a b"),
    ("lone-surrogate", "a\ud800b", "ab"),
    ("full-width-punctuation-kept", "（全角）：，。！？", "（全角）：，。！？"),
    ("half-width-punctuation-kept", "(half),:!?", "(half),:!?"),
    ("full-width-letters-kept", "ＡＢＣ１２３", "ＡＢＣ１２３"),
    ("entities-not-decoded-again", "&nbsp;&amp;&lt;", "&nbsp;&amp;&lt;"),
    ("quotes-kept", "“引号”‘单’「角」", "“引号”‘单’「角」"),
    ("dash-kept", "1—5月", "1—5月"),
    ("astral-kept", "\U0001f600 emoji", "\U0001f600 emoji"),
]


@pytest.mark.parametrize(
    ("raw", "expected"), [c[1:] for c in CLEAN_TEXT_CASES], ids=[c[0] for c in CLEAN_TEXT_CASES]
)
def test_clean_text(raw: str | None, expected: str) -> None:
    assert clean_text(raw) == expected


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (None, None),
        ("", None),
        ("   ", None),
        ("\u3000\u200b\u00a0", None),
        ("  标题\u3000正文 ", "标题 正文"),
        ("文旅&数码", "文旅&数码"),
        ("关店100家并裁员,“潘多拉”的魔盒失效了?", "关店100家并裁员,“潘多拉”的魔盒失效了?"),
    ],
    ids=["none", "empty", "blank", "only-invisible", "cleaned", "ampersand", "as-published"],
)
def test_clean_title(raw: str | None, expected: str | None) -> None:
    assert clean_title(raw) == expected


# --- html_paragraphs ----------------------------------------------------------------------

HTML_CASES = [
    # input and container
    ("none", None, []),
    ("empty", "", []),
    ("blank", "   \n\t", []),
    ("empty-container", '<div class="article-content" id="content"></div>', []),
    (
        "container",
        '<div class="article-content" id="content"><p>一</p><p>二</p></div>',
        ["一", "二"],
    ),
    ("bare-paragraphs", "<p>一</p><p>二</p>", ["一", "二"]),
    ("bare-text", "裸文本", ["裸文本"]),
    ("text-around-blocks", "裸文本<p>段落</p>尾巴", ["裸文本", "段落", "尾巴"]),
    # blocks
    (
        "headings",
        "<h1>一</h1><h2>二</h2><h3>三</h3><h4>四</h4><h5>五</h5><h6>六</h6>",
        ["一", "二", "三", "四", "五", "六"],
    ),
    ("ul", "<ul><li>甲</li><li>乙</li></ul>", ["甲", "乙"]),
    ("ol", "<ol><li>甲</li><li>乙</li></ol>", ["甲", "乙"]),
    ("li-with-blocks", "<ol><li><p>甲</p></li><li><span>乙</span></li></ol>", ["甲", "乙"]),
    ("nested-list", "<ul><li>甲<ul><li>甲一</li></ul></li></ul>", ["甲", "甲一"]),
    ("blockquote", "<blockquote>引文</blockquote>", ["引文"]),
    ("blockquote-with-paragraphs", "<blockquote><p>一</p><p>二</p></blockquote>", ["一", "二"]),
    ("div-direct-text", "<div>直接文字</div>", ["直接文字"]),
    ("div-text-and-blocks", "<div>前<p>中</p>后</div>", ["前", "中", "后"]),
    ("nested-sections", "<section><section><p>深</p></section></section>", ["深"]),
    (
        "nested-divs",
        '<div class="para">\n  <p>一</p>\n</div><div><div>二</div></div>',
        ["一", "二"],
    ),
    ("section-text-and-div", "<section>节<div>块</div></section>", ["节", "块"]),
    ("pre", "<pre>预  格式</pre>", ["预 格式"]),
    ("hr-splits", "<div>上<hr>下</div>", ["上", "下"]),
    ("dl", "<dl><dt>术语</dt><dd>释义</dd></dl>", ["术语", "释义"]),
    (
        "html5-blocks",
        "<article><header>头</header><p>文</p><footer>脚</footer></article>",
        ["头", "文", "脚"],
    ),
    # inline elements never split
    (
        "inline-never-split",
        (
            "<p>a<span>b</span><strong>c</strong><b>d</b><a href='/x'>e</a><em>f</em>"
            "<font color='#333'>g</font><i>h</i><u>i</u><sub>j</sub><sup>k</sup></p>"
        ),
        ["abcdefghijk"],
    ),
    ("strong-mid-word", "<p>起<strong>初，小杨</strong>对直播</p>", ["起初，小杨对直播"]),
    ("nested-spans", "<p><span><span><span>套</span>娃</span></span></p>", ["套娃"]),
    ("unknown-tag-inline", "<p>文<custom-tag>自定义</custom-tag>字</p>", ["文自定义字"]),
    ("block-inside-inline", "<span>行内<p>块</p>行内</span>", ["行内", "块", "行内"]),
    # <br>
    ("br-splits", "<p>一<br>二<br/>三</p>", ["一", "二", "三"]),
    ("br-then-indent", "<p>一<br />\n\t\t二</p>", ["一", "二"]),
    ("br-with-emsp-indent", "<p>&emsp;&emsp;一<br>&emsp;&emsp;二</p>", ["一", "二"]),
    ("br-only-paragraph", "<p><br></p>", []),
    ("br-only-div", "<div><br/></div>", []),
    ("consecutive-br", "<p>一<br><br><br>二</p>", ["一", "二"]),
    ("br-inside-inline", "<p><strong>粗<br>体</strong></p>", ["粗", "体"]),
    # tables
    ("table-row", "<table><tr><td>甲</td><td>乙</td></tr></table>", ["甲 | 乙"]),
    (
        "table-th-header",
        (
            "<table><tbody><tr><th>指标</th><th>数值</th></tr><tr><td>GMV</td><td>1</td></tr>"
            "</tbody></table>"
        ),
        ["指标 | 数值", "GMV | 1"],
    ),
    (
        "thead-tfoot",
        "<table><thead><tr><th>头</th></tr></thead><tfoot><tr><td>脚</td></tr></tfoot></table>",
        ["头", "脚"],
    ),
    (
        "cells-with-p-and-span",
        "<table><tr><td><p>5.0%</p></td><td><span>6.3%</span></td></tr></table>",
        ["5.0% | 6.3%"],
    ),
    (
        "cell-two-paragraphs",
        "<table><tr><td><p>第一</p><p>第二</p></td><td>乙</td></tr></table>",
        ["第一 第二 | 乙"],
    ),
    ("cell-br", "<table><tr><td>上<br>下</td><td>乙</td></tr></table>", ["上 下 | 乙"]),
    (
        "cell-indents",
        "<table><tr><td>&nbsp;甲&nbsp;</td><td>\u3000乙</td></tr></table>",
        ["甲 | 乙"],
    ),
    (
        "empty-cell-keeps-place",
        "<table><tr><td>甲</td><td></td><td>丙</td></tr></table>",
        ["甲 | | 丙"],
    ),
    ("empty-corner-cell", "<table><tr><th></th><th>2025</th></tr></table>", ["| 2025"]),
    (
        "all-empty-row-dropped",
        "<table><tr><td> </td><td>&nbsp;</td></tr><tr><td>有</td></tr></table>",
        ["有"],
    ),
    ("table-caption", "<table><caption>表题</caption><tr><td>甲</td></tr></table>", ["表题", "甲"]),
    (
        "table-in-wrapper-div",
        "<p>前</p><div class='table-wrap'><table><tr><td>甲</td></tr></table></div><p>后</p>",
        ["前", "甲", "后"],
    ),
    (
        "script-in-cell",
        "<table><tr><td>甲<script>x()</script></td><td>乙</td></tr></table>",
        ["甲 | 乙"],
    ),
    ("stray-text-in-row", "<table><tr><td>甲</td>夹带<td>乙</td></tr></table>", ["甲 | 夹带 | 乙"]),
    ("cells-without-table", "<td>孤</td><td>格</td>", ["孤", "格"]),
    # images and captions
    (
        "image-then-caption",
        (
            '<p class="img" style="text-align:center;"><img src="/a.jpg" alt="替代文字" /></p>'
            '<p class="img-caption">图为工坊。</p>'
        ),
        ["图为工坊。"],
    ),
    ("inline-image", '<p>文<img src="/a.jpg" alt="x">字</p>', ["文字"]),
    ("figcaption", '<figure><img src="/a.jpg"><figcaption>图注</figcaption></figure>', ["图注"]),
    # no text: script, style, noscript, ads, share, QR codes
    ("script-only", "<script>document.write('<p>广告</p>');</script>", []),
    ("script-inside-paragraph", "<p>前<script>var a = 1;</script>后</p>", ["前后"]),
    ("script-tail", "<script>x</script>尾巴", ["尾巴"]),
    ("style", "<style>.a { color: red; }</style><p>正文</p>", ["正文"]),
    ("noscript-block", "<noscript><p>请启用JavaScript</p></noscript><p>正文</p>", ["正文"]),
    ("noscript-inline", "<p>前<noscript>无脚本</noscript>后</p>", ["前后"]),
    (
        "template-iframe-video",
        "<template><p>模板</p></template><iframe>框</iframe><video>不支持</video>",
        [],
    ),
    (
        "ad-box",
        '<div class="ad-box"><p>扫码关注</p><p><img src="/qr.jpg" alt="二维码"></p></div>',
        [],
    ),
    ("ad-box-tail", '<p>前</p><div class="ad-box"><span>广告</span></div>尾', ["前", "尾"]),
    ("ad-box-splits-div", '<div>前<div class="ad-box">广告</div>后</div>', ["前", "后"]),
    (
        "class-ad-ads-adv",
        '<div class="ad">a</div><div class="ads">b</div><div class="adv">c</div>',
        [],
    ),
    (
        "class-advert-adbox-multi",
        '<div class="advert-slot">a</div><div class="adbox">b</div><p class="x ad">c</p>',
        [],
    ),
    ("class-share", '<div class="share">分享到</div><div class="article-share">微博</div>', []),
    ("class-share-variants", '<div class="share_box">a</div><span class="shareBtn">b</span>', []),
    ("class-qrcode", '<div class="qrcode"><img src="/q.jpg"></div><div class="wx-qr">c</div>', []),
    ("erweima-and-id", '<div class="erweima">二维码</div><div id="ad">id 广告</div>', []),
    (
        "nested-qrcode-in-ad",
        '<div class="ad-box"><div class="qrcode"><img src="/q.jpg"></div><p>扫码</p></div>',
        [],
    ),
    (
        "ad-lookalike-classes-kept",
        (
            '<p class="header">头</p><p class="shadow">影</p><p class="lead">导</p>'
            '<p class="reading">读</p><p class="badge">章</p>'
        ),
        ["头", "影", "导", "读", "章"],
    ),
    ("inline-ad-span", '<p>文<span class="ad">广告</span>字</p>', ["文字"]),
    # entities, invisible characters, indents
    ("named-entities", "<p>&ldquo;引&rdquo; &amp; &lt;b&gt; &mdash;&mdash;</p>", ["“引” & <b> ——"]),
    ("double-encoded-entity", "<p>&amp;nbsp;</p>", ["&nbsp;"]),
    ("numeric-zero-width", "<p>&#8203;零&#8203;宽&#xFEFF;</p>", ["零宽"]),
    ("literal-zero-width", "<p>a\u200bb\u2060c</p>", ["abc"]),
    ("ideographic-indent", "<p>\u3000\u3000缩进</p>", ["缩进"]),
    ("nbsp-indent", "<p>&nbsp; &nbsp; 缩进</p>", ["缩进"]),
    ("emsp-indent", "<p>&emsp;&emsp;缩进</p>", ["缩进"]),
    ("blank-paragraphs-dropped", "<p>　</p><p>&nbsp;</p><p><span>&nbsp;</span></p><p></p>", []),
    ("newline-tab-indent", "<p>\n\t\t换行缩进</p>", ["换行缩进"]),
    ("numeric-nbsp", "<p>第一条&#160;内容</p>", ["第一条 内容"]),
    ("amp", "<p>文旅&amp;数码</p>", ["文旅&数码"]),
    ("bare-lt-gt", "<p>1 < 2 & 3 > 2</p>", ["1 < 2 & 3 > 2"]),
    # malformed markup loses no text
    ("unclosed-p", "<p>一<p>二", ["一", "二"]),
    ("unclosed-strong", "<p>一<strong>二</p><p>三</p>", ["一二", "三"]),
    ("unclosed-p-in-div", "<div>一<p>二</div>三", ["一", "二", "三"]),
    ("stray-end-tags", "<p>一</p></div></section><p>二</p>", ["一", "二"]),
    ("text-after-body-end", "<p>一</p></body></html>尾巴", ["一", "尾巴"]),
    ("document-tags", "<html><body><p>一</p></body></html>二", ["一", "二"]),
    ("unclosed-divs", "<div><div><p>未闭合", ["未闭合"]),
    ("comment", "<p>a<!-- 注释 -->b</p>", ["ab"]),
    ("unclosed-comment", "<p>a<!-- 未闭合注释", ["a"]),
    ("cdata", "<![CDATA[x]]>后", ["后"]),
    ("xml-declaration", '<?xml version="1.0" encoding="gbk"?><p>声明</p>', ["声明"]),
    ("meta-charset-ignored", '<meta charset="gb2312"><p>中文</p>', ["中文"]),
    ("nul", "<p>a\x00b</p>", ["ab"]),
    ("control-chars", "<p>a\x01b\x0cc</p>", ["ab c"]),
    ("lone-surrogate", "<p>a\ud800b</p>", ["ab"]),
    ("broken-tag", "<p <p>>x</p>", [">x"]),
    ("angle-brackets", "<<<>>>", ["<<<>>>"]),
    ("lone-end-tag", "</p>", []),
]


@pytest.mark.parametrize(
    ("html", "expected"), [c[1:] for c in HTML_CASES], ids=[c[0] for c in HTML_CASES]
)
def test_html_paragraphs(html: str | None, expected: list[str]) -> None:
    assert html_paragraphs(html) == expected


def test_html_paragraphs_huge_text_node_is_kept_whole() -> None:
    text = "字" * 6_000_000  # 18 MB of UTF-8, over libxml2's default 10 MB node limit
    assert html_paragraphs(f"<p>{text}</p>") == [text]


def test_html_paragraphs_deep_nesting() -> None:
    assert html_paragraphs("<div>" * 5000 + "深" + "</div>" * 5000) == ["深"]


def test_html_paragraphs_is_fast() -> None:
    para = "<p>&emsp;&emsp;<span>平台</span>数据显示，<strong>网上零售额</strong>同比增长。</p>"
    html = f'<div class="article-content" id="content">{para * 60}</div>'
    assert len(html.encode()) > 5000
    html_paragraphs(html)
    runs = 200
    started = time.perf_counter()
    for _ in range(runs):
        html_paragraphs(html)
    per_call = (time.perf_counter() - started) / runs
    assert per_call < 0.005  # typically ~0.3 ms; generous for slow CI machines


# --- properties ---------------------------------------------------------------------------

TAGS = [
    "p",
    "div",
    "section",
    "span",
    "strong",
    "a",
    "br",
    "table",
    "tr",
    "td",
    "th",
    "li",
    "ul",
    "h3",
    "script",
    "style",
    "noscript",
    "img",
    "font",
    "em",
]
HTML_PIECES = st.one_of(
    st.text(max_size=20),
    st.sampled_from(TAGS).map(lambda t: f"<{t}>"),
    st.sampled_from(TAGS).map(lambda t: f"</{t}>"),
    st.sampled_from(
        [
            '<div class="ad-box">',
            "<br/>",
            "&nbsp;",
            "&emsp;",
            "&amp;",
            "&#8203;",
            "<!--",
            "-->",
            "\u3000",
            "\x00",
            "<",
            ">",
            '"',
            "&",
            "<p class='img'>",
        ]
    ),
)
HTMLISH = st.lists(HTML_PIECES, max_size=40).map("".join)


@PROPERTY
@given(st.text())
def test_clean_text_never_raises_and_is_idempotent(text: str) -> None:
    cleaned = clean_text(text)
    assert isinstance(cleaned, str)
    assert clean_text(cleaned) == cleaned
    assert cleaned == cleaned.strip()
    assert "  " not in cleaned
    assert not any(c in cleaned for c in ZERO_WIDTH)


@PROPERTY
@given(st.one_of(st.none(), st.text()))
def test_clean_title_is_none_or_clean_text(text: str | None) -> None:
    title = clean_title(text)
    assert title is None or (isinstance(title, str) and title and clean_text(title) == title)


@PROPERTY
@given(st.one_of(st.none(), st.text(), HTMLISH))
def test_html_paragraphs_never_raises_and_gives_clean_lines(html: str | None) -> None:
    paragraphs = html_paragraphs(html)
    assert isinstance(paragraphs, list)
    for paragraph in paragraphs:
        assert isinstance(paragraph, str)
        assert paragraph
        assert clean_text(paragraph) == paragraph
        assert "\n" not in paragraph


@PROPERTY
@given(st.text(alphabet=st.characters(blacklist_characters="<>&"), min_size=1))
def test_html_paragraphs_of_plain_text_is_its_clean_text(text: str) -> None:
    expected = clean_text(text)
    assert html_paragraphs(f"<p>{text}</p>") == ([expected] if expected else [])
