"""Pure helpers for ``source``, ``source_title`` and ``author``, and the body tail they sit in.

The rules are the data contract's (docs/spec/extraction.md, "source, source_title,
author" and "body").  Every parser takes ``str | None`` and never raises on junk.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

from pipelines.rules.text import clean_text

if TYPE_CHECKING:
    from collections.abc import Sequence

__all__ = [
    "AttributedBody",
    "Attribution",
    "attribute",
    "is_trailer",
    "parse_attribution",
    "parse_author",
    "parse_byline",
]

_OPEN = "[（(]"
_CLOSE = re.compile(r"\s*[）)]$")
# The label must open the line (after an optional parenthesis): a label inside running
# text is text.  The colon is optional only after 转自 / 转载自 / 本文转自.
_ATTRIBUTION = re.compile(
    rf"^(?P<open>{_OPEN})?\s*"
    r"(?:(?:(?:文章|信息|新闻|稿件|本文|原文)?来源|稿源|出处)\s*[:：]|(?:本文转自|转载自|转自)\s*[:：]?)"
    r"\s*(?P<value>.*)$",
    re.DOTALL,
)
_AUTHOR = re.compile(rf"^(?P<open>{_OPEN})?\s*作者\s*[:：]\s*(?P<value>.*)$", re.DOTALL)
_BYLINE = re.compile(r"^文\s*[/／|｜]\s*(?P<value>.+)$", re.DOTALL)
_TRAILER = re.compile(
    r"^[（(\[【]?\s*(?:(?:责任)?编辑|审核|校对)\s*[:：]"  # 责任编辑：… 编辑：… 审核：… 校对：…
    r"|^[（(\[【]\s*完\s*[）)\]】]$"  # （完） (完) 【完】 [完]
)

# The value rules, tried in the spec's order.
_BRACKETED = re.compile(r"^【\s*(?P<source>[^】]*?)\s*】\s*(?P<title>.*)$", re.DOTALL)
_BOOK_TITLE = re.compile(r"^(?P<source>[^《》]+?)\s*《(?P<title>.*)》$", re.DOTALL)
_REPORTER = re.compile(r"^(?P<source>.+?)\s+(?:记者|作者\s*[:：]?)\s*(?P<author>\S.*)$", re.DOTALL)
# An outlet's name holds no quotation marks, book marks or sentence punctuation.  The
# sets are the spec's: ASCII ' (People's Daily) and . (ebrun.com) occur in names.
_HEADLINE_MARK = re.compile('[“”「」‘’"《》，。！？；]')
_MAX_SOURCE_LEN = 16

# A first paragraph "文/…" longer than a name or holding a sentence is text, not a byline.
_MAX_BYLINE_LEN = 20
_SENTENCE_MARK = re.compile("[，。！？；]")


@dataclass(frozen=True, slots=True)
class Attribution:
    """One attribution line, read by the spec's value rules."""

    source: str | None
    source_title: str | None
    author: str | None


@dataclass(frozen=True, slots=True)
class AttributedBody:
    """The body without its attribution, author and trailer paragraphs, and what they gave."""

    paragraphs: list[str]
    source: str | None
    source_title: str | None
    author: str | None


def _unwrap(match: re.Match[str]) -> str:
    """The labelled value, without the closing parenthesis when the line opened with one."""
    value = match["value"].strip()
    return _CLOSE.sub("", value) if match["open"] else value


def parse_attribution(text: str | None) -> Attribution | None:
    """The attribution in an attribution line (``来源：…`` and its variants), else None.

    A line with a label but no value is still an attribution line, with every field None.
    """
    match = _ATTRIBUTION.match(clean_text(text))
    return _read_value(_unwrap(match)) if match else None


def _read_value(value: str) -> Attribution:
    """What follows the label, read by the first of the spec's rules that matches."""
    if (m := _BRACKETED.match(value)) and m["source"]:
        return Attribution(m["source"], m["title"].strip() or None, None)
    if m := _BOOK_TITLE.match(value):
        return Attribution(m["source"], m["title"].strip() or None, None)
    if m := _REPORTER.match(value):
        return Attribution(m["source"], None, m["author"].strip())
    if _HEADLINE_MARK.search(value) or len(value) > _MAX_SOURCE_LEN:
        return Attribution(None, value, None)
    return Attribution(value or None, None, None)


def parse_author(text: str | None) -> str | None:
    """``A`` from an author line ``作者：A`` / ``（作者：A）``, else None."""
    match = _AUTHOR.match(clean_text(text))
    return (_unwrap(match) or None) if match else None


def parse_byline(text: str | None) -> str | None:
    """``A`` from a first-paragraph byline ``文/A`` / ``文｜A``, else None."""
    match = _BYLINE.match(clean_text(text))
    if match is None:
        return None
    name = match["value"]
    if len(name) > _MAX_BYLINE_LEN or _SENTENCE_MARK.search(name):
        return None
    return name


def is_trailer(text: str | None) -> bool:
    """Whether the paragraph is an editorial trailer (``责任编辑：…``, ``（完）``, …)."""
    return _TRAILER.match(clean_text(text)) is not None


def _has_value(attribution: Attribution | None) -> bool:
    return attribution is not None and (
        attribution.source is not None or attribution.source_title is not None
    )


def attribute(paragraphs: Sequence[str], info_parts: Sequence[str]) -> AttributedBody:
    """Decide source, source_title and author, and drop the paragraphs that gave them.

    Precedence (the info line is the page's structured data, so it wins over the body):

    * attribution: the first info-line part that is an attribution with a value, else the
      first attribution paragraph (in document order) of the body tail;
    * author: the info line's ``作者：A``, then the info-line attribution's ``记者 A``, then
      the first paragraph's byline ``文/A``, then the tail's first ``作者：A`` paragraph,
      then the ``记者 A`` of the tail attribution when that is the one chosen.

    Removed from the body: every attribution paragraph and every trailer of the tail (even
    when the info line's attribution won: they are not article text), and the byline or
    tail author paragraph only when it is the one that gave ``author``.
    """
    body = [p for p in map(clean_text, paragraphs or ()) if p]
    parts = [p for p in map(clean_text, info_parts or ()) if p]

    info_attribution = next((a for a in map(parse_attribution, parts) if _has_value(a)), None)
    info_author = next((a for a in map(parse_author, parts) if a), None)

    # The tail: scan from the end while paragraphs are attribution, author or trailer.
    drop: set[int] = set()
    tail_attribution: Attribution | None = None
    tail_author: tuple[int, str] | None = None
    index = len(body) - 1
    while index >= 0:
        paragraph = body[index]
        if (found := parse_attribution(paragraph)) is not None:
            drop.add(index)
            if _has_value(found):
                tail_attribution = found  # backwards: the first in document order wins
        elif (name := parse_author(paragraph)) is not None:
            tail_author = (index, name)
        elif is_trailer(paragraph):
            drop.add(index)
        else:
            break
        index -= 1
    tail_start = index + 1

    chosen = info_attribution or tail_attribution
    byline = parse_byline(body[0]) if tail_start > 0 else None
    author_from: int | None = None  # the paragraph that gave the author, if any
    author = info_author or (info_attribution.author if info_attribution else None)
    if author is None and byline is not None:
        author, author_from = byline, 0
    if author is None and tail_author is not None:
        author_from, author = tail_author
    if author is None and tail_attribution is not None and chosen is tail_attribution:
        author = tail_attribution.author
    if author_from is not None:
        drop.add(author_from)

    return AttributedBody(
        paragraphs=[p for i, p in enumerate(body) if i not in drop],
        source=chosen.source if chosen else None,
        source_title=chosen.source_title if chosen else None,
        author=author,
    )
