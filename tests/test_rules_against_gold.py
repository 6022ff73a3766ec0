"""The text and attribution rules against every article page of the site snapshot.

Each article page (with its further pages ``<id>_2.html``, ``<id>_3.html`` … joined in
order) is extracted with parsel the way the spider does, run through ``html_paragraphs``,
``attribute`` and ``clean_title``, and compared field by field with its gold record:
v1 pages with gold-v1.jsonl, v2 pages with gold-v2.jsonl.
"""

from __future__ import annotations

import difflib
import functools
import json
import re
from pathlib import Path
from typing import Any

import pytest
from parsel import Selector

from pipelines.rules.attribution import attribute
from pipelines.rules.text import clean_text, clean_title, html_paragraphs

SITE = Path(__file__).parent / "fixtures" / "site"
_ARTICLE = re.compile(r"^\d+\.html$")
_META_CHARSET = re.compile(rb"<meta[^>]+charset=[\"']?(?P<charset>[\w-]+)", re.IGNORECASE)
_GB = {b"gb2312", b"gbk", b"gb18030"}


def _decode(data: bytes) -> str:
    """The page's text, decoded as its meta tag says (GB2312/GBK are read as GB18030)."""
    match = _META_CHARSET.search(data[:4096])
    charset = match["charset"].lower() if match else b"utf-8"
    return data.decode("gb18030" if charset in _GB else "utf-8")


@functools.cache
def _gold(version: str) -> dict[str, dict[str, Any]]:
    """The gold records of one snapshot, by every URL path they were found at."""
    by_path: dict[str, dict[str, Any]] = {}
    for line in (SITE / f"gold-{version}.jsonl").read_text(encoding="utf-8").splitlines():
        if line.strip():
            record = json.loads(line)
            for path in record["urls"]:
                by_path[path] = record
    return by_path


def _pages() -> list[Any]:
    params = []
    for version in ("v1", "v2"):
        root = SITE / version
        for page in sorted(root.glob("news/*/*/*/*.html")):
            if _ARTICLE.match(page.name):
                path = "/" + page.relative_to(root).as_posix()
                params.append(pytest.param(version, path, id=f"{version}{path}"))
    return params


def _extract(version: str, path: str) -> dict[str, Any]:
    """title, body, source, source_title and author of the article at ``path``."""
    first = SITE / version / path.lstrip("/")
    pages = [first]
    for n in range(2, 100):
        further = first.with_name(f"{first.stem}_{n}.html")
        if not further.exists():
            break
        pages.append(further)
    selectors = [Selector(text=_decode(page.read_bytes())) for page in pages]
    paragraphs: list[str] = []
    for selector in selectors:
        paragraphs += html_paragraphs(selector.css("div.article-content").get())
    info_parts = [
        clean_text("".join(child.xpath(".//text()[not(ancestor::script)]").getall()))
        for child in selectors[0].css("div.article-info > *")
    ]
    attributed = attribute(paragraphs, info_parts)
    return {
        "title": clean_title(selectors[0].xpath("string((//h1)[1])").get()),
        "body": "\n".join(attributed.paragraphs),
        "source": attributed.source,
        "source_title": attributed.source_title,
        "author": attributed.author,
    }


def _diff(field: str, expected: Any, actual: Any) -> str:
    if isinstance(expected, str) and isinstance(actual, str):
        lines = difflib.unified_diff(
            expected.splitlines(), actual.splitlines(), "gold", "ours", lineterm=""
        )
        return f"{field}:\n" + "\n".join(lines)
    return f"{field}: gold {expected!r} != ours {actual!r}"


@pytest.mark.parametrize(("version", "path"), _pages())
def test_page_matches_gold(version: str, path: str) -> None:
    gold = _gold(version).get(path)
    if gold is None:
        pytest.skip(f"no gold-{version} record lists {path}")
    ours = _extract(version, path)
    diffs = [_diff(f, gold[f], ours[f]) for f in ours if gold[f] != ours[f]]
    assert not diffs, "\n\n".join(diffs)
