"""Search recall against a plain substring scan, on the snapshot's articles, both databases.

The queries are drawn from the corpus: jieba words, arbitrary 2–6 character substrings
(which cut across jieba's word boundaries), Latin and digit runs, mixed forms (618大促),
and two-word queries.
"""

from __future__ import annotations

import random
import re
from typing import TYPE_CHECKING

import pytest
from sqlalchemy import select

from storage.db import Database
from storage.models import Article
from storage.search import search
from storage.segment import document, normalise, parse_query, words
from tests.searchdata import fill

if TYPE_CHECKING:
    from collections.abc import Iterator

HAN = "\u4e00-\u9fff"
MIN_RECALL = 0.98
QUERIES_PER_KIND = 25


@pytest.fixture
def filled(database_url: str) -> Iterator[Database]:
    database = Database(database_url)
    fill(database)
    yield database
    database.dispose()


def corpus(database: Database) -> dict[int, str]:
    with database.sessions() as session:
        rows = session.execute(select(Article.id, Article.title, Article.body))
        return {id_: normalise(f"{title}\n{body}") for id_, title, body in rows}


def draw_queries(texts: list[str]) -> list[str]:
    rng = random.Random(11)
    every_word = sorted({w for text in texts for w in words(text) if 2 <= len(w) <= 6})
    runs = [run for text in texts for run in re.findall(f"[{HAN}]{{6,}}", text)]
    latin = sorted({m for text in texts for m in re.findall(r"[a-z0-9]{2,}", text)})
    mixed = sorted(
        {
            m
            for text in texts
            for m in re.findall(f"[a-z0-9]+[{HAN}]{{1,3}}|[{HAN}]{{2,3}}[a-z0-9]+", text)
        }
    )
    substrings = []
    for run in rng.sample(runs, QUERIES_PER_KIND):
        size = rng.randint(2, 6)
        at = rng.randrange(len(run) - size + 1)
        substrings.append(run[at : at + size])
    pairs = []
    for text in rng.sample(texts, QUERIES_PER_KIND):
        own = sorted({w for w in words(text) if len(w) >= 2})
        pairs.append(" ".join(rng.sample(own, 2)))
    return [
        *rng.sample(every_word, QUERIES_PER_KIND),
        *substrings,
        *rng.sample(latin, min(QUERIES_PER_KIND, len(latin))),
        *rng.sample(mixed, min(QUERIES_PER_KIND, len(mixed))),
        *pairs,
    ]


def substring_scan(texts: dict[int, str], query: str) -> set[int]:
    return {id_ for id_, text in texts.items() if all(w in text for w in query.split())}


def words_only(texts: dict[int, str], query: str) -> set[int]:
    """What cutting both sides the same way would find, for comparison."""
    wanted = set(words(normalise(query)))
    return {id_ for id_, text in texts.items() if wanted <= set(document(text, "").words.split())}


def test_recall_against_substring_scan(filled: Database) -> None:
    texts = corpus(filled)
    queries = draw_queries(sorted(texts.values()))
    assert len(queries) >= 100
    expected_total = found_total = words_found = 0
    misses: list[str] = []
    with filled.sessions() as session:
        for query in queries:
            expected = substring_scan(texts, query)
            hits = {hit.id for hit in search(session, query, limit=len(texts))}
            for hit in hits:
                text = texts[hit]
                assert all(needle in text for needle in parse_query(query).needles), (query, hit)
            expected_total += len(expected)
            found_total += len(expected & hits)
            words_found += len(expected & words_only(texts, query))
            misses += [f"{query!r} misses {sorted(expected - hits)}"] if expected - hits else []
    recall = found_total / expected_total
    print(
        f"\nrecall over {len(queries)} queries, {expected_total} expected hits: "
        f"index {recall:.4f}; jieba words alone would give {words_found / expected_total:.4f}"
    )
    assert recall >= MIN_RECALL, "\n".join(misses)


@pytest.mark.parametrize(
    ("query", "terms"),
    [
        ("电商", ["电商"]),
        ("跨境电商", ["跨境电商"]),
        ("直播带货 GMV", ["直播带货", "gmv"]),
        ("618大促", ["618大促"]),
        ("ＧＭＶ", ["gmv"]),
        ("电商的发展", ["电商的", "发展"]),
        ("，。", []),
        ("6.4%", ["6.4%"]),
        ("1.32万亿 GMV", ["1.32万亿", "gmv"]),
    ],
    ids=[
        "two-chars",
        "four-chars-user-dict",
        "two-words",
        "digits-and-han",
        "full-width",
        "glue",
        "punctuation",
        "decimal-percent",
        "decimal-han",
    ],
)
def test_query_needles(query: str, terms: list[str]) -> None:
    assert list(parse_query(query).needles) == terms
