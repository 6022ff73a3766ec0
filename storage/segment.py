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

import re
import unicodedata
from dataclasses import dataclass
from functools import cache
from importlib import resources

import rjieba

_HAN = "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
_PIECE = re.compile(rf"[{_HAN}]+|[0-9a-z]+")
_IS_HAN = re.compile(rf"[{_HAN}]")
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


def _grams(piece: str) -> list[str]:
    if len(piece) == 1:
        return [piece]
    return [piece[i : i + 2] for i in range(len(piece) - 1)]


def grams(text: str) -> list[str]:
    """The 2-grams of each Han run and each Latin/digit run, in order (text normalised).

    Latin and digit runs are cut into 2-grams too, so "20" finds "2025" as a substring
    scan would; the whole run is still in `words`."""
    return [gram for piece in _PIECE.findall(text) for gram in _grams(piece)]


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


@dataclass(frozen=True, slots=True)
class Term:
    """One word of a query: every result contains `text`."""

    text: str
    """The normalised substring every result must contain."""
    word: str | None
    """The jieba word to match in `words` (for ranking), when the term is one piece."""
    grams: tuple[str, ...]
    """Its 2-grams, matched as a phrase in `grams`."""
    prefix: bool
    """The last gram is a single character: it may begin a longer gram in the text."""


def _term(text: str) -> Term:
    term_grams = tuple(grams(text))
    single_piece = _PIECE.fullmatch(text) is not None
    last = term_grams[-1]
    return Term(
        text=text,
        word=text if single_piece else None,
        grams=term_grams,
        prefix=len(last) == 1,
    )


def query_terms(query: str) -> list[Term]:
    """The query's words as jieba cuts them (all must match).

    A one-character Han word is joined to its neighbour ("电商的" rather than "的"):
    alone it could only match as a gram's prefix, and would miss it at a gram's end.
    """
    terms: list[Term] = []
    for unit in normalise(query).split():
        for chunk in re.split(rf"[^{_HAN}0-9a-z]+", unit):
            if not chunk:
                continue
            texts: list[str] = []
            glue = False
            for token in _segmenter().cut(chunk, False):
                single_han = len(token) == 1 and _IS_HAN.match(token) is not None
                if texts and (glue or single_han):
                    texts[-1] += token
                else:
                    texts.append(token)
                glue = single_han and len(texts[-1]) == 1
            terms.extend(_term(text) for text in texts)
    return terms
