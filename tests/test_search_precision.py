"""Search precision and recall, both 1.0, against a substring scan, for the queries the
index cannot take apart safely: digits, punctuation and Latin (6.4%, 1.32万亿, GMV, 618)
and words the segmenter cuts into single characters. On SQLite and PostgreSQL.

Beside the snapshot's articles, a few hold near misses: the pieces of a query apart
("6，4%"), across a piece boundary ("61，8"), or inside a longer number ("16.4%")."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import replace
from typing import TYPE_CHECKING

import pytest
from sqlalchemy import select

import storage.search
from storage.db import Database
from storage.models import Article
from storage.records import ArticleRecord
from storage.search import search
from storage.segment import normalise
from tests.searchdata import T0, fill
from tests.storing import store

if TYPE_CHECKING:
    from collections.abc import Iterator

NEAR_MISSES = [
    "社零增速6.4%，高于预期。",
    "增速16.4%，创新高。",
    "第6，4%的商家表示满意。",
    "规模达1.32万亿元。",
    "规模达1，32万亿元，而非11.32万亿。",
    "平台GMV同比增长。",
    "xgm mvz 不是那个词。",
    "61，8 不是大促。",
    "今年618大促提前开始。",
    "好了，走吧。",
]
FIXED = ["6.4%", "1.32万亿", "GMV", "618", "gmv", "了", "6", "的了", "4%", "32万"]
BASE = ArticleRecord(
    url="http://news.example/news/rdjj/2025/0901/9000.html",
    title="近似",
    body="",
    published_at=dt.datetime(2025, 9, 1, 2, 0, tzinfo=dt.UTC),
    date_precision="minute",
    source=None,
    source_title=None,
    author=None,
    category_slug="rdjj",
    category_name="热点聚焦",
)


@pytest.fixture
def filled(database_url: str) -> Iterator[Database]:
    database = Database(database_url)
    fill(database, ("v1",))
    with database.sessions.begin() as session:
        for i, body in enumerate(NEAR_MISSES):
            url = BASE.url.replace("9000", str(9000 + i))
            store(session, replace(BASE, url=url, body=body, title=f"近似{i}"), T0)
    yield database
    database.dispose()


def corpus_queries(texts: list[str]) -> list[str]:
    """Digit/Latin tokens with punctuation inside, as the corpus writes them."""
    found = {m for text in texts for m in re.findall(r"[0-9a-z]+(?:[.%][0-9a-z%]*)+", text)}
    return sorted(found)[:40]


def test_exact_strings_precision_and_recall(filled: Database) -> None:
    with filled.sessions() as session:
        texts = {
            id_: normalise(f"{title}\n{body}")
            for id_, title, body in session.execute(select(Article.id, Article.title, Article.body))
        }
        queries = FIXED + corpus_queries(sorted(texts.values()))
        assert len(queries) > len(FIXED)
        wrong: list[str] = []
        for query in queries:
            expected = {i for i, text in texts.items() if normalise(query) in text}
            hits = {hit.id for hit in search(session, query, limit=len(texts))}
            if hits != expected:
                wrong.append(
                    f"{query!r}: {len(hits - expected)} not containing it, "
                    f"{len(expected - hits)} missed"
                )
    print(f"\n{len(queries)} queries, precision and recall 1.0 on {len(wrong) == 0}")
    assert not wrong, "\n".join(wrong)


def test_a_decimal_is_not_its_digits(filled: Database) -> None:
    with filled.sessions() as session:
        hits = search(session, "6.4%", limit=100)
    titles = {hit.title for hit in hits}
    assert {"近似0", "近似1"} <= titles
    assert "近似2" not in titles  # 6，4%: its digits, not the decimal
    assert all("«6.4%»" in hit.snippet for hit in hits)


def test_a_loose_query_is_not_cut_at_the_rank_window(
    filled: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The 4 of 6.4% finds most articles: the ones holding 6.4% may all be older than the
    window of ranked matches, and must still be found."""
    monkeypatch.setattr(storage.search, "RANK_WINDOW", 1)
    with filled.sessions() as session:
        hits = search(session, "6.4%", limit=2)
    assert len(hits) == 2
    assert all("6.4%" in normalise(f"{hit.title}\n{hit.snippet}") for hit in hits)
