"""`ecnews export`: the spec's fields, order and filters, in JSON lines and CSV."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
from dataclasses import replace
from typing import TYPE_CHECKING

import pytest

from storage.db import Database
from storage.export import FIELDS
from storage.records import ArticleRecord
from tests.conftest import ecnews
from tests.storing import store

if TYPE_CHECKING:
    from pathlib import Path

# Each test starts a child process (an ecnews command, or the writer): not in make test-fast.
pytestmark = pytest.mark.process

T0 = dt.datetime(2025, 8, 23, 6, 0, tzinfo=dt.UTC)
BASE = ArticleRecord(
    url="http://news.example/news/rdjj/2025/0822/1001.html",
    title="甲",
    body="正文甲",
    published_at=dt.datetime(2025, 8, 22, 2, 30, tzinfo=dt.UTC),
    date_precision="minute",
    source="联商网",
    source_title=None,
    author="王明",
    category_slug="rdjj",
    category_name="热点聚焦",
)
RECORDS = [
    BASE,
    replace(
        BASE,
        url=BASE.url.replace("1001", "1002"),
        title="乙",
        body="正文乙",
        published_at=dt.datetime(2025, 8, 20, 16, 0, tzinfo=dt.UTC),
        date_precision="day",
        category_slug="zcfg",
        category_name="政策法规",
        source=None,
        author=None,
    ),
    replace(BASE, url=BASE.url.replace("1001", "1000"), title="丙", body="正文丙"),
]


@pytest.fixture
def filled(sqlite_url: str) -> str:
    database = Database(sqlite_url)
    with database.sessions.begin() as session:
        for record in RECORDS:
            store(session, record, T0)
    database.dispose()
    return sqlite_url


def test_jsonl_fields_and_order(filled: str, tmp_path: Path) -> None:
    result = ecnews("export", "--format", "jsonl", database_url=filled, tmp_path=tmp_path)
    assert result.returncode == 0, result.stderr
    records = [json.loads(line) for line in result.stdout.splitlines()]
    assert all(tuple(r) == FIELDS for r in records)
    # published_at descending, then url; times in the site's +08:00, text not escaped.
    assert [r["title"] for r in records] == ["丙", "甲", "乙"]
    assert records[1]["published_at"] == "2025-08-22T10:30:00+08:00"
    assert records[2]["published_at"] == "2025-08-21T00:00:00+08:00"
    assert records[1]["first_seen_at"] == "2025-08-23T14:00:00+08:00"
    assert "正文甲" in result.stdout


@pytest.mark.parametrize(
    ("args", "titles"),
    [
        (("--since", "2025-08-22"), ["丙", "甲"]),
        (("--since", "2025-08-21"), ["丙", "甲", "乙"]),
        (("--since", "2025-08-23"), []),
        (("--category", "zcfg"), ["乙"]),
        (("--category", "rdjj", "--since", "2025-08-22"), ["丙", "甲"]),
        (("--category", "jxal"), []),
    ],
    ids=["since-day", "since-inclusive", "since-none", "category", "both", "empty-category"],
)
def test_filters(filled: str, tmp_path: Path, args: tuple[str, ...], titles: list[str]) -> None:
    result = ecnews("export", *args, database_url=filled, tmp_path=tmp_path)
    assert result.returncode == 0, result.stderr
    assert [json.loads(line)["title"] for line in result.stdout.splitlines()] == titles


def test_csv_has_the_same_records(filled: str, tmp_path: Path) -> None:
    out = tmp_path / "export.csv"
    result = ecnews(
        "export", "--format", "csv", "-o", str(out), database_url=filled, tmp_path=tmp_path
    )
    assert result.returncode == 0, result.stderr
    rows = list(csv.DictReader(io.StringIO(out.read_text("utf-8"))))
    assert tuple(rows[0]) == FIELDS
    assert [r["title"] for r in rows] == ["丙", "甲", "乙"]
    assert json.loads(rows[1]["categories"]) == ["热点聚焦"]
    assert json.loads(rows[1]["urls"]) == [BASE.url]
    assert rows[2]["source"] == ""


def test_db_upgrade_and_runs(sqlite_url: str, tmp_path: Path) -> None:
    assert ecnews("db", "upgrade", database_url=sqlite_url, tmp_path=tmp_path).returncode == 0
    result = ecnews("runs", database_url=sqlite_url, tmp_path=tmp_path)
    assert result.returncode == 0
    assert result.stdout.split()[:4] == ["id", "started", "(Asia/Shanghai)", "seconds"]
