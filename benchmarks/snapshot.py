"""What the benchmark site takes from the snapshot (``tests/fixtures/site/v1``).

``load_snapshot`` cuts the page skeletons (head, header, footer, listing and article
markup) out of the v1 pages, turns every v1 article into a ``Model`` (its date format,
source/author spans, leading and trailing attribution blocks, body length) and pools the
body blocks of all of them; it also measures the proportions the generator keeps:
multi-page articles, GBK pages, syndicated copies, cross-listed articles, dead links, and
the forms listing links take.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass, field
from pathlib import Path

from w3lib.encoding import html_to_unicode

SNAPSHOT = Path(__file__).resolve().parent.parent / "tests" / "fixtures" / "site" / "v1"

_TAG = re.compile(r"<(/?)([a-zA-Z][a-zA-Z0-9]*)\b[^>]*?(/?)>")
_VOID = frozenset({"br", "img", "hr", "meta", "input", "link", "wbr"})
_ANY_TAG = re.compile(r"<[^>]+>")
SPACES = re.compile(r"[\s\u3000\xa0\u2003\u200b]+")
# Visible text of a block that is attribution, not body: it stays where the model had it.
_HEAD_TEXT = re.compile(r"^(文[/／]|记者|作者|本报记者|来源|\.article-content)")
_TAIL_TEXT = re.compile(
    r"^[（(]?(来源|稿源|转自|文章来源|原文来源|本文来源|责任编辑|编辑|作者|完[)）])|扫码|长按识别"
)
_ARTICLE_FILE = re.compile(r"^(?P<id>[0-9]+)(?:_(?P<n>[0-9]+))?\.html$")
CONTENT_OPEN = '<div class="article-content" id="content">\n'


def _read(path: Path) -> str:
    """A snapshot page as text, decoded by its meta charset (GBK pages too)."""
    _, text = html_to_unicode(None, path.read_bytes())
    return text


def _between(text: str, start: str, end: str) -> str:
    _, found, rest = text.partition(start)
    if not found:
        raise ValueError(f"snapshot markup changed: {start!r} not found")
    return rest.partition(end)[0]


def visible(fragment: str) -> str:
    """Rough visible text of an HTML fragment: tags dropped, entities and spaces folded."""
    return SPACES.sub(" ", html.unescape(_ANY_TAG.sub("", fragment))).strip()


def split_blocks(content: str) -> list[str]:
    """Top-level blocks of a content container, each with its lines as written (the
    snapshot puts every block on lines of its own)."""
    blocks: list[str] = []
    lines: list[str] = []
    depth = 0
    for line in content.split("\n"):
        lines.append(line)
        for match in _TAG.finditer(line):
            closing, name, self_closing = match.groups()
            if name.lower() not in _VOID and not self_closing:
                depth += -1 if closing else 1
        if depth <= 0:
            blocks.append("\n".join(lines))
            lines, depth = [], 0
    if lines:
        blocks.append("\n".join(lines))
    return [block for block in blocks if block.strip()]


def texty(block: str) -> bool:
    """Whether a block carries body text (and so makes an article's body its own)."""
    if re.match(r"\s*<(style|script|noscript)\b", block) or 'class="ad-box"' in block:
        return False
    if 'class="img' in block:
        return False
    return len(visible(block)) >= 15


@dataclass(slots=True)
class Model:
    """A v1 article whose shape a generated article takes."""

    title: str
    time_pattern: str | None
    """The info line's date as a format, e.g. ``发布时间：{Y}-{m}-{d} {H}:{M}``; None: no date."""
    spans: list[str]
    """Source/author lines of the info line, verbatim."""
    head: list[str]
    tail: list[str]
    body_blocks: int


@dataclass(slots=True)
class Snapshot:
    """What the generator takes from v1: skeletons, models, blocks and proportions."""

    article_top: str
    keywords_line: str
    article_mid: str
    share_line: str
    footer: str
    listing_top: str
    listing_mid: str
    index_page: str
    models: list[Model]
    blocks: list[str]
    texty: list[bool]
    titles: list[str]
    link_forms: list[tuple[str, str]]
    """(prefix kind, suffix) of every v1 listing link: root, parent, dot or plain."""
    ratios: dict[str, float]
    static_files: list[str] = field(default_factory=list)


def _time_pattern(text: str) -> str:
    """``发布时间：2025-06-26 16:00`` -> ``发布时间：{Y}-{m}-{d} {H}:{M}``; a month or day
    written with one digit (``2025年6月3日``) becomes ``{mu}`` / ``{du}`` (no zero padding)."""
    runs = re.findall(r"[0-9]+", text)
    unpadded = any(len(run) == 1 for run in runs[1:3])
    names = iter(("Y", "mu" if unpadded else "m", "du" if unpadded else "d", "H", "M", "S"))
    return re.sub(r"[0-9]+", lambda _: "{" + next(names) + "}", text)


def _model(files: list[Path]) -> tuple[Model, list[str], str]:
    """A v1 article (all its pages) as a model, its body blocks, and its text (for copies)."""
    texts = [_read(f) for f in files]
    content: list[str] = []
    for text in texts:
        content += split_blocks(_between(text, CONTENT_OPEN, '\n</div>\n<div class="'))
    start = 0
    while start < len(content) and _HEAD_TEXT.match(visible(content[start])):
        start += 1
    end = len(content)
    while end > start and _TAIL_TEXT.search(visible(content[end - 1])):
        end -= 1
    title = visible(_between(texts[0], '<h1 class="article-title">', "</h1>"))
    info = _between(texts[0], '<div class="article-info">\n', "</div>").splitlines()
    time_line = next((line for line in info if 'class="time"' in line), None)
    model = Model(
        title=title,
        time_pattern=_time_pattern(visible(time_line)) if time_line else None,
        spans=[line for line in info if 'class="source"' in line or 'class="author"' in line],
        head=content[:start],
        tail=content[end:],
        body_blocks=end - start,
    )
    # Copies differ in markup (v1's 1009/1025), not in text: compare the text only.
    text_only = "".join(visible(block) for block in content if texty(block))
    return model, content[start:end], title + SPACES.sub("", text_only)


def _link_kind(path: str) -> str:
    if path.startswith("/"):
        return "root"
    if path.startswith("../"):
        return "parent"
    return "dot" if path.startswith("./") else "plain"


def _listing_links(snapshot: Path) -> list[tuple[str, str]]:
    """(listing slug, href) of every item of every v1 listing page."""
    links = []
    for listing in sorted((snapshot / "news").glob("*/*.html")):
        if listing.name == "index.html" or listing.name.startswith("list_"):
            slug = listing.parent.name
            links += [(slug, href) for href in re.findall(r'<h3><a href="([^"]*)"', _read(listing))]
    return links


def load_snapshot(snapshot: Path = SNAPSHOT) -> Snapshot:
    pages: dict[str, list[Path]] = {}
    for path in sorted((snapshot / "news").rglob("*.html")):
        match = _ARTICLE_FILE.match(path.name)
        if match:
            pages.setdefault(str(path.parent / match["id"]), []).append(path)
    models: list[Model] = []
    blocks: dict[str, None] = {}
    seen: set[str] = set()
    copies = multi_page = gbk = 0
    for files in pages.values():
        files.sort(key=lambda p: (len(p.name), p.name))  # 1006.html before 1006_2.html
        multi_page += len(files) > 1
        gbk += b"charset=gb2312" in files[0].read_bytes()[:400]
        model, body, text = _model(files)
        copies += text in seen
        seen.add(text)
        models.append(model)
        blocks.update(dict.fromkeys(body))
    # Sub-headings read like headlines too: more distinct titles for the listings.
    titles = [m.title for m in models] + [
        visible(block)
        for block in blocks
        if re.match(r"<h[23]\b", block) and len(visible(block)) >= 10
    ]
    links = _listing_links(snapshot)
    article_ids = {Path(key).name for key in pages}
    linked = [re.search(r"/([0-9]+)\.html", href) for _, href in links]
    dead = sum(1 for m in linked if m and m.group(1) not in article_ids)
    cross = sum(
        1
        for slug, href in links
        if (m := re.search(r"(?:^|/)(rdjj|sjbg|zcfg|jxal)/", href)) and m.group(1) != slug
    )
    forms = [(_link_kind(path), rest) for path, _, rest in (h.partition(".html") for _, h in links)]

    template = _read(next(p for p in pages.values() if len(p) > 1)[0])  # has article-pages
    listing = _read(snapshot / "news" / "rdjj" / "index.html")
    article_top, _, rest = template.partition("<title>")
    keywords_line = re.search(r'<meta name="keywords"[^>]*>\n', rest)
    share_line = re.search(r'<div class="share">.*\n', template)
    if keywords_line is None or share_line is None:
        raise ValueError("snapshot markup changed: no keywords meta or share line")
    article_mid = _between(rest, '<meta name="description"', '<div class="position">')
    articles = len(pages)
    return Snapshot(
        article_top=article_top,
        keywords_line=keywords_line.group(),
        article_mid=article_mid.partition("\n")[2],
        share_line=share_line.group(),
        footer='<div class="footer">' + template.partition('<div class="footer">')[2],
        listing_top=listing.partition("<title>")[0],
        listing_mid=_between(listing, "</title>\n", '<div class="position">'),
        index_page=_read(snapshot / "index.html"),
        models=models,
        blocks=list(blocks),
        texty=[texty(block) for block in blocks],
        titles=titles,
        link_forms=forms,
        ratios={
            "multi_page": multi_page / articles,
            "gbk": gbk / articles,
            "copy": copies / articles,
            "cross_listed": cross / articles,
            "dead_link": dead / articles,
        },
        static_files=["robots.txt", "about.html", "admin/login.html"],
    )


def texty_text(block: str) -> bool:
    return texty(block) and not re.match(r"\s*<h[1-6]\b", block)
