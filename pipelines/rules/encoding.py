"""Pure helper: the text of an HTML page whose declared charset may lie.

The site declares its charset only in a meta tag, and the CMS gets it wrong: GBK bytes
under ``<meta charset="utf-8">``, UTF-8 bytes under ``charset=gb2312``, and pages pasted
together from both. ``decode_html`` reads such bytes the way a careful human would:

1. a byte-order mark wins;
2. bytes that are valid UTF-8 are UTF-8, whatever the page declares (GBK text with a
   few Chinese characters is practically never valid UTF-8; ASCII is the same in both);
3. bytes that are valid UTF-8 but for their last character, on a page declaring UTF-8 or
   nothing, were cut short (a server that sent fewer bytes than the page has): read so,
   with U+FFFD for the lost character (``cut_short``); likewise, after 4 and 5, a page
   in another declared charset;
4. otherwise bytes valid in the declared charset (GB2312 and GBK read as GB18030, their
   superset) are read so, unless it is a single-byte charset (ISO-8859-1, Windows-1252…),
   in which nearly any bytes are "valid": GB18030 is tried before it;
5. otherwise GB18030, the other encoding this site uses, if the bytes are valid in it;
6. otherwise the page mixes encodings: each line is read in the first of UTF-8, the
   declared charset and GB18030 that it is valid in (a line valid in several is read as
   declared), and bytes valid in none become U+FFFD.

It never raises and always returns text; ``Decoded.problem`` says what was wrong.
"""

from __future__ import annotations

import codecs
import functools
import re
from dataclasses import dataclass
from typing import Literal

from w3lib.encoding import (
    html_body_declared_encoding,
    http_content_type_encoding,
    read_bom,
    resolve_encoding,
)

__all__ = ["Decoded", "declared_encoding", "decode_html"]

Problem = Literal["mislabelled", "mixed", "invalid_bytes", "cut_short"]

_UTF8 = "utf-8"
_GB = "gb18030"
_LINE = re.compile(rb"[^\n]*\n|[^\n]+")


@dataclass(frozen=True, slots=True)
class Decoded:
    text: str
    encoding: str
    """The codec that read (most of) the page."""
    declared: str | None
    """What the page (or its Content-Type header) claimed, resolved (gb2312 -> gb18030)."""
    problem: Problem | None = None
    """None when the page was what it declared (or declared nothing and was UTF-8)."""


def _codec(name: str | None) -> str | None:
    """Python's canonical codec name, GB2312/GBK widened to GB18030; None if unknown."""
    if not name:
        return None
    resolved = resolve_encoding(name)
    if resolved is None:
        return None
    canonical = codecs.lookup(resolved).name
    return _GB if canonical in {"gb2312", "gbk"} else canonical


def declared_encoding(body: bytes, content_type: str | None = None) -> str | None:
    """The charset the page claims: its Content-Type header's, else its meta tag's."""
    from_header = http_content_type_encoding(content_type) if content_type else None
    return _codec(from_header) or _codec(html_body_declared_encoding(body))


@functools.cache
def _single_byte(encoding: str) -> bool:
    """Whether every byte is one character in `encoding` (Latin-1, Windows-125x, KOI8…)."""
    sample = bytes(range(0xA1, 0xFF))
    try:
        return len(sample.decode(encoding)) == len(sample)
    except (UnicodeDecodeError, LookupError):
        return False


def _strict(data: bytes, encoding: str) -> str | None:
    try:
        return data.decode(encoding)
    except (UnicodeDecodeError, LookupError):
        return None


def decode_html(body: bytes, content_type: str | None = None) -> Decoded:
    """The page's text; see the module docstring for the order of guesses."""
    declared = declared_encoding(body, content_type)
    bom, bom_bytes = read_bom(body)
    if bom is not None and bom_bytes:
        encoding = _codec(bom) or _UTF8
        return Decoded(body[len(bom_bytes) :].decode(encoding, "replace"), encoding, declared)
    text = _strict(body, _UTF8)
    if text is not None:
        lied = declared not in {None, _UTF8} and not body.isascii()
        return Decoded(text, _UTF8, declared, "mislabelled" if lied else None)
    # Not valid UTF-8: a UTF-8 page (as declared, or declaring nothing) may be cut short.
    cut = _cut_short(body, _UTF8, declared) if declared in {None, _UTF8} else None
    if cut is not None:
        return cut
    guesses = (_GB, declared) if declared and _single_byte(declared) else (declared, _GB)
    for encoding in dict.fromkeys(e for e in guesses if e):
        text = _strict(body, encoding)
        if text is not None:
            return Decoded(
                text, encoding, declared, None if encoding == declared else "mislabelled"
            )
    # Valid in nothing whole: a page in its declared charset may be cut short.
    cut = _cut_short(body, declared, declared) if declared not in {None, _UTF8} else None
    return cut or _decode_lines(body, declared)


def _cut_short(body: bytes, encoding: str, declared: str | None) -> Decoded | None:
    """A page in `encoding` whose last character was cut (the server sent too few bytes):
    read as such, its lost character a replacement character at the very end, rather
    than taken for a page mixing encodings."""
    if _single_byte(encoding):
        return None
    for dropped in (1, 2, 3):
        text = _strict(body[:-dropped], encoding)
        if text is not None:
            return Decoded(text + "\ufffd", encoding, declared, "cut_short")
    return None


def _decode_lines(body: bytes, declared: str | None) -> Decoded:
    """A page that mixes encodings, read line by line."""
    preferred = declared or _UTF8
    order = list(dict.fromkeys((preferred, _UTF8, _GB)))
    parts: list[str] = []
    used: dict[str, int] = {}
    invalid = False
    for match in _LINE.finditer(body):
        line = match.group()
        for encoding in order:
            text = _strict(line, encoding)
            if text is not None:
                if not line.isascii():
                    used[encoding] = used.get(encoding, 0) + 1
                break
        else:
            invalid = True
            text = line.decode(preferred, "replace")
        parts.append(text)
    main = max(used, key=lambda name: used[name]) if used else preferred
    problem: Problem = "invalid_bytes" if invalid else "mixed"
    return Decoded("".join(parts), main, declared, problem)
