"""Redesigned copies of the redesign fixture, made by program for the tests: another
redesign than the public one (other classes and ids, date format, pager text, a second
<h1>, a sidebar of dated, titled links to every category), a v2 whose page says
another date for one stored article than what was stored, and a v2 whose headlines say
more than their listing items (no layout can be proven from the listings)."""

from __future__ import annotations

import hashlib
import re
import shutil
from pathlib import Path

from tests.gold import load_jsonl

REDESIGN = Path(__file__).resolve().parent / "fixtures" / "site-redesign"

_CLASS_OR_ID = re.compile(rb'\b(class|id)="([^"]*)"')
_TIME = re.compile(rb"<time\b([^>]*)>([^<]*)</time>")
_BODY = re.compile(rb"<body>")
_MAIN_END = re.compile(rb"</main>")
_NEXT = "下一页 ›".encode()


def _renamed(match: re.Match[bytes]) -> bytes:
    words = [b"k" + hashlib.sha1(word).hexdigest()[:6].encode() for word in match.group(2).split()]
    return match.group(1) + b'="' + b" ".join(words) + b'"'


def _dated(match: re.Match[bytes]) -> bytes:
    # 2025-07-22 14:05:33 -> 2025/07/22 14:05:33, in a <span> (no <time> any more)
    return b"<span" + match.group(1) + b">" + match.group(2).replace(b"-", b"/") + b"</span>"


def _sidebar(gold: list[dict[str, object]]) -> bytes:
    """Dated, titled links to articles of every category (ASCII: the pages' encodings vary)."""
    items = b"".join(
        b'<li><a href="%s" title="Popular %d">Popular %d</a> <span>%s</span></li>'
        % (str(record["url"]).encode(), n, n, str(record["published_at"])[:10].encode())
        for n, record in enumerate(gold[::4], 1)
    )
    return b'<aside class="side"><h1>Popular</h1><ul>' + items + b"</ul></aside>"


def synthetic(target: Path) -> Path:
    """The fixture with v2 redesigned once more (v1 unchanged); returns its root."""
    shutil.copytree(REDESIGN, target)
    sidebar = _sidebar(load_jsonl(REDESIGN / "gold-v1.jsonl"))
    for page in (target / "v2").rglob("*.html"):
        html = page.read_bytes()
        html = _CLASS_OR_ID.sub(_renamed, html)
        html = _TIME.sub(_dated, html)
        html = html.replace(_NEXT, b"Next &raquo;")
        html = _BODY.sub(b'<body><h1 class="logo">ECNEWS</h1>', html, count=1)
        html = _MAIN_END.sub(sidebar + b"</main>", html, count=1)
        page.write_bytes(html)
    return target


def redated(target: Path) -> tuple[Path, str]:
    """The fixture whose v2 page of the newest stored article shows another day (the same
    time): a layout learned there disagrees with what is stored on one field."""
    shutil.copytree(REDESIGN, target)
    newest = max(load_jsonl(REDESIGN / "gold-v1.jsonl"), key=lambda r: str(r["published_at"]))
    path = str(newest["url"])
    page = target / "v2" / path.lstrip("/")
    day = str(newest["published_at"])[:10].encode()
    other = b"2025-01-0" + day[-1:]
    html = page.read_bytes().replace(day, other)
    assert html != page.read_bytes()
    page.write_bytes(html)
    return target, path


_H1 = re.compile(rb"(<h1\b[^>]*>)")


def headlined(target: Path) -> Path:
    """The fixture with a version `v2-headlined`: v2 whose article headlines carry a
    prefix the listing items' titles lack, so a cold start proves no layout (ASCII: the
    pages' encodings vary)."""
    shutil.copytree(REDESIGN, target)
    shutil.copytree(target / "v2", target / "v2-headlined")
    for page in (target / "v2-headlined").rglob("*.html"):
        html = page.read_bytes()
        if page.parent.name.isdigit():  # an article page: /news/<slug>/<yyyy>/<mmdd>/<id>.html
            page.write_bytes(_H1.sub(lambda m: m.group(1) + b"[EXCLUSIVE] ", html, count=1))
    return target
