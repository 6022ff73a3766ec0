"""Pure helpers that tell whether a fetched page is the article its listing promised.

A site under load or mid-redesign can answer 200 with something else: a "system busy"
notice inside its normal layout, the same error text for many URLs, a content
container that grew to the whole page, a body cut short by a lying Content-Length.
Storing such a page would replace a good article with a worse one, or merge unrelated
articles into one. These rules spot the class, never particular strings.
"""

from __future__ import annotations

import re
import unicodedata

__all__ = ["headline_agrees", "is_cut", "text_length"]

_WHITE_SPACE = re.compile(r"\s+")
# Share of the shorter headline's character pairs the other must hold: an edited headline
# keeps most of its words; an error page's headline shares none.
_AGREEMENT = 0.5
# The last characters of a page where a replacement character means a cut multibyte one.
_TAIL = 16


# \W is everything but str.isalnum() (Unicode categories L* and N*) and "_": what is left
# after removing it and "_" is the letters and digits, at C speed.
_NOT_LETTER_OR_DIGIT = re.compile(r"[\W_]+")


def _letters(text: str) -> str:
    """Letters and digits only, width-folded: punctuation and spacing never disagree."""
    return _NOT_LETTER_OR_DIGIT.sub("", unicodedata.normalize("NFKC", text).casefold())


def _pairs(text: str) -> set[str]:
    return {text[i : i + 2] for i in range(len(text) - 1)} or ({text} if text else set())


def headline_agrees(headline: str | None, *listed: str | None) -> bool:
    """Whether the page's headline is one the listing linked (its `title` attribute or
    text, which may be cut short with "…"). True when there is nothing to compare."""
    page = _letters(headline or "")
    candidates = [_letters(text) for text in listed if text]
    candidates = [text for text in candidates if text]
    if not page or not candidates:
        return True
    for text in candidates:
        if text in page or page in text:
            return True
        mine, theirs = _pairs(page), _pairs(text)
        if len(mine & theirs) >= _AGREEMENT * min(len(mine), len(theirs)):
            return True
    return False


def text_length(text: str | None) -> int:
    """Characters other than white space."""
    return len(_WHITE_SPACE.sub("", text)) if text else 0


def is_cut(tail: str | None) -> bool:
    """Whether a page whose text ends with `tail` was cut inside a multibyte character (a
    replacement character at its very end): the server sent fewer bytes than the page
    has. (A page cut on a character boundary parses as a shorter page: storage holds a
    version that is a cut-short copy of the stored one.)"""
    return tail is not None and "\ufffd" in tail.rstrip()[-_TAIL:]
