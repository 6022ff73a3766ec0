"""Chinese word segmentation for the search index, the same at write time and query time.

rjieba (the Rust jieba-rs) rather than jieba: it has the same dictionary, search-mode cut
and `add_word` for our trade terms, and cuts about 15 times faster, which matters because
the writer segments every article it stores.

An article is indexed as two token streams:

* `words`: rjieba's search-mode cut (a long word and its dictionary sub-words), for ranking;
* `grams`: every Han run and every Latin/digit run as overlapping 2-grams, in order.

A query term matches either its jieba word, or the phrase of its own 2-grams in `grams`,
which holds exactly when the term is a substring of the text, whatever way jieba cut the
text around it. That is what keeps recall against a substring scan at 1.0 (measured in
tests/test_search_recall.py); words alone (cutting both sides the same way) miss the
terms jieba cuts differently in context.
"""

from __future__ import annotations

import operator
import re
import unicodedata
from dataclasses import dataclass
from functools import cache
from importlib import resources

import rjieba

_HAN = "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
_PIECE = re.compile(rf"[{_HAN}]+|[0-9a-z]+")
_HAN_ONLY = re.compile(rf"[{_HAN}]+")
USER_DICTIONARY = "userdict.txt"
DEFAULT_FREQUENCY = 1000


@cache
def _segmenter() -> rjieba.Jieba:
    segmenter = rjieba.Jieba()
    text = resources.files("storage").joinpath(USER_DICTIONARY).read_text(encoding="utf-8")
    for line in text.splitlines():
        word, _, frequency = line.strip().partition(" ")
        if word:
            segmenter.add_word(word, int(frequency or DEFAULT_FREQUENCY), None)
    return segmenter


def normalise(text: str) -> str:
    """NFKC (full-width Latin and digits become ASCII) and lower case, on both sides."""
    return unicodedata.normalize("NFKC", text).lower()


def grams(text: str) -> list[str]:
    """The 2-grams of each Han run and each Latin/digit run, in order (text normalised).

    Latin and digit runs are cut into 2-grams too, so "20" finds "2025" as a substring
    scan would; the whole run is still in `words`."""
    out: list[str] = []
    for piece in _PIECE.findall(text):
        if len(piece) == 1:
            out.append(piece)
        else:
            out += map(operator.add, piece, piece[1:])  # each character and the next
    return out


def words(text: str) -> list[str]:
    """Search-mode words, punctuation dropped, mixed tokens split into Han/Latin pieces."""
    # One regex pass over the joined tokens: the spaces keep each token's pieces apart,
    # and a Python loop over a thousand tokens per article cost more than the cut.
    return _PIECE.findall(" ".join(_segmenter().cut_for_search(text, False)))


@dataclass(frozen=True, slots=True)
class Document:
    """What the index stores for one article: two space-joined token streams."""

    words: str
    grams: str


def document(title: str, body: str) -> Document:
    text = normalise(f"{title}\n{body}")
    return Document(" ".join(words(text)), " ".join(grams(text)))


MAX_QUERY_CHARS = 200
MAX_QUERY_WORDS = 20
"""Caps on a query: every word costs a clause in the index query and a scan of each hit."""


class QueryTooLong(ValueError):
    """A query over MAX_QUERY_CHARS or MAX_QUERY_WORDS; the message says which."""


@dataclass(frozen=True, slots=True)
class Term:
    """One piece of a query looked up in the index."""

    text: str
    """The normalised text of the piece."""
    word: str | None
    """The jieba word to match in `words` (for ranking), when the term is one piece."""
    grams: tuple[str, ...]
    """Its 2-grams, matched as a phrase in `grams`."""
    prefix: bool
    """The last gram is a single character: it may begin a longer gram in the text."""


@dataclass(frozen=True, slots=True)
class Query:
    """What a query asks: every result contains each of `needles`; `terms` find the
    candidates in the index (empty: no term the index can find, scan the articles)."""

    needles: tuple[str, ...]
    terms: tuple[Term, ...]
    loose: bool = False
    """Some needle's terms find far more than it (a piece of one character: the 4 of
    6.4%): rank no window, check every candidate, newest first."""


def _term(text: str, *, exact: bool = False) -> Term:
    term_grams = tuple(grams(text))
    return Term(
        text=text,
        word=text if _PIECE.fullmatch(text) else None,
        grams=term_grams,
        prefix=not exact and len(term_grams[-1]) == 1,
    )


def parse_query(query: str) -> Query:
    """The query's needles and index terms; QueryTooLong past the caps.

    A word of Han characters only must contain each of its jieba words; a one-character
    Han word is joined to its neighbour ("电商的" rather than "的"), so a word jieba cuts
    into single characters is one needle, the whole word. Any other word (digits, Latin,
    punctuation: 6.4%, 1.32万亿, GMV, 618) must appear as it is written. Its pieces find
    the candidates: a middle piece is a whole piece of the text, the first one ends one,
    the last one begins one; a first piece of one character cannot be looked up (the
    index has no suffix match) and is left to the check of the needle.
    """
    if len(query) > MAX_QUERY_CHARS:
        raise QueryTooLong(f"query of {len(query)} characters; at most {MAX_QUERY_CHARS}")
    units = list(dict.fromkeys(normalise(query).split()))
    if len(units) > MAX_QUERY_WORDS:
        raise QueryTooLong(f"query of {len(units)} words; at most {MAX_QUERY_WORDS}")
    needles: list[str] = []
    terms: list[Term] = []
    loose = False
    for unit in units:
        if _HAN_ONLY.fullmatch(unit):
            texts = _han_words(unit)
            needles += texts
            terms += [_term(text) for text in texts if len(text) > 1]
        elif pieces := _PIECE.findall(unit):
            needles.append(unit)
            terms += _piece_terms(pieces)
            loose = loose or any(len(piece) == 1 for piece in pieces)
    return Query(tuple(dict.fromkeys(needles)), tuple(dict.fromkeys(terms)), loose)


def _han_words(unit: str) -> list[str]:
    texts: list[str] = []
    glue = False
    for token in _segmenter().cut(unit, False):
        single_han = len(token) == 1
        if texts and (glue or single_han):
            texts[-1] += token
        else:
            texts.append(token)
        glue = single_han and len(texts[-1]) == 1
    return texts


def _piece_terms(pieces: list[str]) -> list[Term]:
    last = len(pieces) - 1
    terms = []
    for i, piece in enumerate(pieces):
        if i == 0 and len(piece) == 1 and last > 0:
            continue  # ends a piece of the text: "6" of "6.4%" is in "16.4%"
        if i == 0 and last == 0 and len(piece) == 1:
            continue  # anywhere in a piece: a lone character needs the scan
        terms.append(_term(piece, exact=0 < i < last))
    return terms


def query_terms(query: str) -> list[Term]:
    """The index terms of a query (see parse_query)."""
    return list(parse_query(query).terms)
