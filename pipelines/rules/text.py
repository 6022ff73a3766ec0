"""Pure text helpers for ``title`` and ``body``: in-paragraph cleaning and body paragraphs.

Every helper takes ``str | None`` and never raises on junk (None, empty, malformed HTML,
NUL bytes, control characters, lone surrogates, huge strings).  The rules are the data
contract's (docs/spec/extraction.md, "title" and "body").
"""

from __future__ import annotations

import re
from html import unescape
from typing import Any

from lxml import etree

__all__ = ["clean_text", "clean_title", "element_paragraphs", "html_paragraphs"]

# Characters that are never text: zero-width marks (the spec's list), C0 controls that are
# not white space, DEL, C1 controls other than NEL (U+0085, a line break) and lone
# surrogates (they cannot be encoded to UTF-8, so they would break storage later).
_INVISIBLE = re.compile(
    "[\u200b-\u200d\u2060\ufeff\x00-\x08\x0e-\x1f\x7f-\x84\x86-\x9f\ud800-\udfff]"
)
# Python's \s covers ASCII white space, U+00A0, U+3000, U+2000-U+200A, U+2028/9, U+0085 ….
_WHITESPACE = re.compile(r"\s+")

# Before parsing: libxml2 turns most C0 controls into U+FFFD and rejects NUL and lone
# surrogates, so drop them first; VT and FF are white space and become a space.
_UNPARSABLE = re.compile("[\x00-\x08\x0e-\x1f\x7f\ud800-\udfff]")
_C0_SPACE = re.compile("[\x0b\x0c]")
# A stray </body> or </html> inside the fragment makes libxml2 drop the text after it.
_DOCUMENT_TAG = re.compile(r"</?(?:html|body)(?=[\s/>])[^>]*>", re.IGNORECASE)

_PARSER = etree.HTMLParser(
    encoding="utf-8",  # we always feed UTF-8 bytes, so a <meta charset> inside is ignored
    remove_comments=True,  # a comment's neighbours then merge into one text node
    remove_pis=True,
    no_network=True,
    # An article body can legitimately hold a text node over libxml2's 10 MB default
    # limit; truncating it would silently lose text.
    huge_tree=True,
)

# Elements whose text is one or more paragraphs of their own.  Every other element
# (span, strong, b, a, em, font, i, u, sub, sup, custom tags, …) is inline and never splits.
_BLOCK = frozenset(
    {"p", "div", "section", "article", "aside", "header", "footer", "main", "nav", "center"}
    | {"h1", "h2", "h3", "h4", "h5", "h6", "hgroup", "blockquote", "pre", "address", "hr"}
    | {"ul", "ol", "li", "dl", "dt", "dd", "dir", "menu", "figure", "figcaption"}
    | {"table", "caption", "thead", "tbody", "tfoot", "td", "th"}
    | {"form", "fieldset", "legend", "details", "summary", "dialog"}
)
# Elements that hold no reader-visible article text (their .tail still does).
_SKIP = frozenset(
    {"script", "style", "noscript", "template", "head", "title", "meta", "link"}
    | {"iframe", "object", "embed", "svg", "math", "canvas", "audio", "video", "map"}
    | {"button", "input", "select", "textarea"}
)
# One hyphen/underscore-separated word of a class or id that marks an ad/share/QR box:
# ad, ads…, adv, advert…, adbox, share…, bdshare… (Baidu's share bar), qr, qrcode…, erweima
# (二维码).  Whole words only, so header, shadow, lead or badge are not matched.
_BOILERPLATE_WORD = re.compile(
    r"^(?:ad|ads\w*|adv|advert\w*|adbox|(?:bd)?share\w*|qr|qrcode\w*|erweima)$"
)
_WORD_SPLIT = re.compile(r"[\s_-]+")

_CELLS = frozenset(("td", "th"))
# What ends the paragraph before it and starts a new one after it.
_BREAKING = _BLOCK | {"br", "tr"}

# For _flatten only: regexes are no HTML parser, but they never give up on depth.
_MAX_DEPTH = 2048
_SKIPPED_CONTENT = re.compile(
    r"<(script|style|noscript|template)\b.*?</\1\s*>", re.IGNORECASE | re.DOTALL
)
_BREAK_TAG = re.compile(rf"</?(?:{'|'.join(sorted(_BREAKING))})(?=[\s/>])[^>]*>", re.IGNORECASE)
_ANY_TAG = re.compile(r"<[^>]*>")


def clean_text(text: str | None) -> str:
    """One paragraph's text per the spec: invisible characters dropped, every white-space
    run (U+00A0 and U+3000 included) one space, stripped; all else kept as published."""
    if not text:
        return ""
    return _WHITESPACE.sub(" ", _INVISIBLE.sub("", text)).strip()


def clean_title(text: str | None) -> str | None:
    """The headline cleaned like a paragraph; None when nothing is left."""
    return clean_text(text) or None


def html_paragraphs(html: str | None) -> list[str]:
    """The body paragraphs of the content container's outer HTML, in document order."""
    if not html:
        return []
    text = _DOCUMENT_TAG.sub("", _C0_SPACE.sub(" ", _UNPARSABLE.sub("", html)))
    root = _parse(text)
    if root is None:
        return _flatten(text)
    out: list[str] = []
    _collect(root, out)
    return out


def element_paragraphs(element: Any) -> list[str]:
    """The body paragraphs of a content container the page's own parse already holds (an
    lxml element), in document order: ``html_paragraphs`` without serialising the node and
    parsing it again. The element's tail (text after the container) is not the body's."""
    if element is None or _skipped(element):
        return []
    out: list[str] = []
    _collect(element, out)
    return out


def _parse(text: str) -> Any:
    """The parsed fragment, or None when libxml2 gave up part-way (text would be lost)."""
    data = ("<html><body>" + text + "</body></html>").encode("utf-8")
    try:
        root = etree.fromstring(data, _PARSER)
    except (etree.ParserError, etree.XMLSyntaxError, ValueError):
        return None  # not expected after sanitising: libxml2 recovers from any markup
    # Only markup nested deeper than libxml2's limit (2048 elements, e.g. thousands of
    # unclosed <font>s from a Word paste) stops the parser; that needs that many tags.
    if text.count("<") >= _MAX_DEPTH and any(
        error.type == etree.ErrorTypes.ERR_RESOURCE_LIMIT for error in _PARSER.error_log
    ):
        return None
    return root


def _flatten(text: str) -> list[str]:
    """Fallback for markup libxml2 cannot hold: split at block tags, strip the others."""
    text = _SKIPPED_CONTENT.sub("", text)
    return [
        line
        for piece in _BREAK_TAG.split(text)
        if (line := clean_text(unescape(_ANY_TAG.sub("", piece))))
    ]


def _is_boilerplate(element: Any) -> bool:
    marks = f"{element.get('class') or ''} {element.get('id') or ''}".lower()
    if marks == " ":
        return False  # the common case: no class, no id
    return any(_BOILERPLATE_WORD.match(word) for word in _WORD_SPLIT.split(marks))


def _skipped(element: Any) -> bool:
    tag = element.tag
    # Comments and processing instructions (callable tag) hold no text; their tail does.
    return not isinstance(tag, str) or tag.lower() in _SKIP or _is_boilerplate(element)


def _collect(root: Any, out: list[str]) -> None:
    """Walk ``root`` and append its cleaned, non-empty paragraphs to ``out``.

    Iterative rather than recursive so that pathologically deep markup cannot hit
    Python's recursion limit.  The stack holds elements to open and ``(element, is_block)``
    markers to close; an element's tail is added after it closes, into its parent's flow.
    """
    buffer: list[str] = []

    def flush() -> None:
        paragraph = clean_text("".join(buffer))
        buffer.clear()
        if paragraph:
            out.append(paragraph)

    stack: list[Any] = [root]
    while stack:
        item = stack.pop()
        if isinstance(item, tuple):
            element, is_block = item
            if is_block:
                flush()
            if element is not root and element.tail:
                buffer.append(element.tail)
            continue
        element = item
        # Comments and processing instructions have a callable tag: "" here.
        tag = element.tag.lower() if isinstance(element.tag, str) else ""
        is_block = tag in _BREAKING  # a skipped ad box still ends the paragraph before it
        if is_block:
            flush()
        stack.append((element, is_block))
        if tag == "br" or (element is not root and _skipped(element)):
            continue
        if tag == "tr":
            if row := _row_text(element):
                out.append(row)
        else:
            if element.text:
                buffer.append(element.text)
            stack.extend(reversed(element))
    flush()


def _row_text(row: Any) -> str:
    """A table row as one paragraph: its cells' texts joined with `` | ``.

    An empty cell keeps its place (``A | | C``) so that columns stay aligned with the
    header row; a row whose cells are all empty gives no paragraph.  Text that malformed
    markup left between the cells is kept as a cell of its own rather than lost.
    """
    cells: list[str] = []
    if row.text and row.text.strip():
        cells.append(row.text)
    for child in row:
        if not _skipped(child):
            parts: list[str] = []
            _collect(child, parts)  # a cell may hold <p>s or <br>s: one space between them
            if parts or child.tag.lower() in _CELLS:
                cells.append(" ".join(parts))
        if child.tail and child.tail.strip():
            cells.append(child.tail)
    if not any(cells):
        return ""
    return clean_text(" | ".join(cells))
