"""Search latency at 100,000 generated articles on SQLite: p50/p95 of `storage.search.search`.

Run: ``.venv/bin/python benchmarks/bench_search.py [--articles 100000] [--queries 300]``

Articles recombine the snapshot's paragraphs (gold-v1/v2 bodies), 3–8 each, under a
snapshot title. They are written by plain INSERTs and the index by one executemany of
`storage.segment.document`'s token streams, each paragraph segmented once: a paragraph's
tokens do not depend on its neighbours (a new line ends every run), which is checked on a
sample. Queries are drawn from the corpus like tests/test_search_recall.py's: jieba words,
arbitrary 2–6 character substrings, Latin/digit runs, mixed forms and word pairs. Each is
timed through the whole `search()` (MATCH, bm25 ranking, top 20, snippets).

Exits 1 when p95 is 50 ms or more.
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import random
import re
import statistics
import sys
import tempfile
import time
from functools import cache
from pathlib import Path

from sqlalchemy import text

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from storage.db import Database
from storage.search import search
from storage.segment import document, normalise, words
from tests.gold import load_jsonl

SITE = ROOT / "tests" / "fixtures" / "site"
TARGET_P95_MS = 50.0
BATCH = 2000
HAN = "\u4e00-\u9fff"


def snapshot() -> tuple[list[str], list[str]]:
    records = [*load_jsonl(SITE / "gold-v1.jsonl"), *load_jsonl(SITE / "gold-v2.jsonl")]
    titles = sorted({r["title"] for r in records})
    paragraphs = sorted({p for r in records for p in r["body"].split("\n") if p.strip()})
    return titles, paragraphs


@cache
def tokens(line: str) -> tuple[str, str]:
    doc = document(line, "")
    return doc.words, doc.grams


def indexed(title: str, body: str) -> tuple[str, str]:
    parts = [tokens(line) for line in [title, *body.split("\n")]]
    return " ".join(w for w, _ in parts if w), " ".join(g for _, g in parts if g)


def build(database: Database, count: int, rng: random.Random) -> None:
    titles, paragraphs = snapshot()
    start = dt.datetime(2024, 1, 1, tzinfo=dt.UTC)
    article_sql = text(
        "INSERT INTO articles (id, url, title, body, content_hash, dedupe_key, published_at,"
        " first_seen_at, updated_at, last_seen_at) VALUES (:id, :url, :title, :body, :hash,"
        " :key, :published, :published, :published, :published)"
    )
    index_sql = text("INSERT INTO article_search (rowid, words, grams) VALUES (:id, :w, :g)")
    for first in range(1, count + 1, BATCH):
        articles, rows = [], []
        for id_ in range(first, min(first + BATCH, count + 1)):
            title = rng.choice(titles)
            body = "\n".join(rng.sample(paragraphs, rng.randint(3, 8)))
            digest = hashlib.sha256(f"{id_}{body}".encode()).hexdigest()
            published = start + dt.timedelta(minutes=rng.randrange(60 * 24 * 600))
            articles.append(
                {
                    "id": id_,
                    "url": f"http://news.example/news/rdjj/gen/{id_}.html",
                    "title": title,
                    "body": body,
                    "hash": digest,
                    "key": digest,
                    "published": published.replace(tzinfo=None).isoformat(" "),
                }
            )
            words_, grams_ = indexed(title, body)
            rows.append({"id": id_, "w": words_, "g": grams_})
        with database.engine.begin() as connection:
            connection.execute(article_sql, articles)
            connection.execute(index_sql, rows)
    sample = articles[:20]
    for article in sample:  # the per-paragraph shortcut gives what the writer would write
        doc = document(article["title"], article["body"])
        assert (doc.words, doc.grams) == indexed(article["title"], article["body"])


def queries(count: int, rng: random.Random) -> list[str]:
    titles, paragraphs = snapshot()
    texts = [normalise(t) for t in titles + paragraphs]
    every_word = sorted({w for t in texts for w in words(t) if 2 <= len(w) <= 6})
    runs = [run for t in texts for run in re.findall(f"[{HAN}]{{6,}}", t)]
    latin = sorted({m for t in texts for m in re.findall(r"[a-z0-9]{2,}", t)})
    mixed = sorted(
        {
            m
            for t in texts
            for m in re.findall(f"[a-z0-9]+[{HAN}]{{1,3}}|[{HAN}]{{2,3}}[a-z0-9]+", t)
        }
    )
    drawn: list[str] = []
    while len(drawn) < count:
        kind = len(drawn) % 5
        if kind == 0:
            drawn.append(rng.choice(every_word))
        elif kind == 1:
            run = rng.choice(runs)
            size = rng.randint(2, 6)
            at = rng.randrange(len(run) - size + 1)
            drawn.append(run[at : at + size])
        elif kind == 2:
            drawn.append(rng.choice(latin))
        elif kind == 3:
            drawn.append(rng.choice(mixed))
        else:
            drawn.append(" ".join(rng.sample(every_word, 2)))
    return drawn


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--articles", type=int, default=100_000)
    parser.add_argument("--queries", type=int, default=300)
    parser.add_argument("--limit", type=int, default=20)
    parser.add_argument(
        "--keep", type=Path, help="keep the database in this folder (reused when there)"
    )
    args = parser.parse_args()
    rng = random.Random(11)  # noqa: S311  # reproducible data, not secrets
    with tempfile.TemporaryDirectory(prefix="ecnews-bench-search-") as scratch:
        folder = args.keep or Path(scratch)
        reuse = (folder / "search.db").exists()  # a kept database from an earlier run
        database = Database(f"sqlite:///{folder / 'search.db'}")
        began = time.perf_counter()
        if not reuse:
            build(database, args.articles, rng)
        built = time.perf_counter() - began
        drawn = queries(args.queries, rng)
        timings, results = [], []
        with database.sessions() as session:
            search(session, drawn[0], limit=args.limit)  # warm: dictionary, page cache
            for query in drawn:
                began = time.perf_counter()
                hits = search(session, query, limit=args.limit)
                timings.append((time.perf_counter() - began) * 1000)
                results.append(len(hits))
        size_mb = (folder / "search.db").stat().st_size / 1e6
        database.dispose()
    timings.sort()
    p50 = statistics.median(timings)
    p95 = timings[int(0.95 * (len(timings) - 1))]
    rows = [
        ("articles", f"{args.articles:,}"),
        ("database size", f"{size_mb:,.0f} MB"),
        ("build (inserts + index)", f"{built:.1f} s"),
        ("queries", f"{len(drawn)} (top {args.limit}, {sum(1 for r in results if r)} with hits)"),
        ("p50 latency", f"{p50:.1f} ms"),
        ("p95 latency", f"{p95:.1f} ms  (target < {TARGET_P95_MS:.0f} ms)"),
        ("max latency", f"{timings[-1]:.1f} ms"),
    ]
    width = max(len(name) for name, _ in rows)
    print("search on SQLite")
    for name, value in rows:
        print(f"  {name:<{width}}  {value}")
    return 0 if p95 < TARGET_P95_MS else 1


if __name__ == "__main__":
    raise SystemExit(main())
