"""A database filled with the snapshot's articles, stored the way the crawler stores them."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

from storage.records import ArticleRecord
from tests.conftest import SITE
from tests.gold import load_jsonl
from tests.storing import store

if TYPE_CHECKING:
    from typing import Any

    from storage.db import Database

HOST = "http://news.example"
T0 = dt.datetime(2025, 8, 26, 6, 0, tzinfo=dt.UTC)


def record(gold: dict[str, Any], url: str | None = None) -> ArticleRecord:
    path = url or gold["urls"][0]
    published = gold["published_at"]
    return ArticleRecord(
        url=HOST + path,
        title=gold["title"],
        body=gold["body"],
        published_at=dt.datetime.fromisoformat(published) if published else None,
        date_precision=gold["date_precision"],
        source=gold["source"],
        source_title=gold["source_title"],
        author=gold["author"],
        category_slug=path.split("/")[2],
        category_name=gold["categories"][0] if gold["categories"] else None,
    )


def fill(database: Database, versions: tuple[str, ...] = ("v1", "v2")) -> None:
    """Store every gold record of each version in turn (v2 edits some of v1's articles),
    each of its URLs, so inserts, updates and merges all happen."""
    for step, version in enumerate(versions):
        with database.sessions.begin() as session:
            for gold in load_jsonl(SITE / f"gold-{version}.jsonl"):
                for url in gold["urls"]:
                    store(session, record(gold, url), T0 + dt.timedelta(days=step))
