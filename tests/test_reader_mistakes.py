"""The small repros of issue 20 for the reading commands, each one line and its exit code:
characters XML cannot hold, an unknown category, a closed pipe, a query past the caps, a
file that is not a database, and `ecnews db backup`.

Each runs the real `ecnews` command in a child process."""

from __future__ import annotations

import contextlib
import sqlite3
import subprocess
import sys
import time
from dataclasses import replace
from typing import TYPE_CHECKING

import feedparser
import pytest

from crawler.exitcodes import EXIT_FAILED, EXIT_USAGE
from storage.db import Database
from tests.conftest import ROOT, crawl_env, ecnews
from tests.searchdata import T0, fill
from tests.storing import store
from tests.test_search_precision import BASE

if TYPE_CHECKING:
    from pathlib import Path


# Every test here starts a child process (an ecnews command, a crawl or a tool): not in make test-fast.
pytestmark = pytest.mark.process


def one_line(stderr: str) -> str:
    lines = stderr.strip().splitlines()
    assert len(lines) == 1, stderr[-3000:]
    assert "Traceback" not in stderr
    return lines[0]


@pytest.fixture
def filled(database_url: str) -> str:
    database = Database(database_url)
    fill(database, ("v1",))
    database.dispose()
    return database_url


def test_characters_xml_cannot_hold_leave_the_feed(sqlite_url: str, tmp_path: Path) -> None:
    database = Database(sqlite_url)
    with database.sessions.begin() as session:
        store(session, replace(BASE, title="标题\ufffe甲\x01", body="正文\uffff乙\x0b丙\ttab"), T0)
    database.dispose()
    result = ecnews("export", "--format", "atom", database_url=sqlite_url, tmp_path=tmp_path)
    assert result.returncode == 0, result.stderr
    feed = feedparser.parse(result.stdout)
    assert feed.bozo == 0, feed.get("bozo_exception")
    assert feed.entries[0].title == "标题甲"
    assert feed.entries[0].summary == "正文乙丙 tab"


@pytest.mark.parametrize(
    "command_line",
    [
        ("search", "电商"),
        ("export",),
        ("export", "--format", "csv"),
        ("export", "--format", "atom"),
    ],
    ids=["search", "jsonl", "csv", "atom"],
)
def test_an_unknown_category_is_a_usage_error(
    filled: str, tmp_path: Path, command_line: tuple[str, ...]
) -> None:
    result = ecnews(*command_line, "--category", "bogus", database_url=filled, tmp_path=tmp_path)
    assert result.returncode == EXIT_USAGE
    assert one_line(result.stderr) == (
        f"ecnews {command_line[0]}: unknown category 'bogus'; known: jxal, rdjj, sjbg, zcfg"
    )
    assert result.stdout == ""


@pytest.mark.parametrize("fmt", ["jsonl", "csv", "atom"])
def test_a_closed_pipe_ends_quietly(filled: str, tmp_path: Path, fmt: str) -> None:
    """`ecnews export | head -1`: the reader leaves after one line."""
    process = subprocess.Popen(
        [sys.executable, "-m", "crawler.cli", "export", "--format", fmt],
        cwd=ROOT,
        env=crawl_env(filled, tmp_path),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert process.stdout is not None
    assert process.stdout.readline()
    process.stdout.close()
    _, stderr = process.communicate(timeout=60)
    assert process.returncode == 0
    assert stderr == b""


def test_a_query_past_the_caps_is_one_line_at_once(filled: str, tmp_path: Path) -> None:
    started = time.monotonic()
    result = ecnews("search", *["电商"] * 20_000, database_url=filled, tmp_path=tmp_path)
    took = time.monotonic() - started
    assert result.returncode == EXIT_USAGE
    assert one_line(result.stderr) == (
        "ecnews search: query of 59999 characters; at most 200: shorten it"
    )
    assert took < 15
    many = [f"词{i}" for i in range(30)]
    result = ecnews("search", *many, database_url=filled, tmp_path=tmp_path)
    assert result.returncode == EXIT_USAGE
    assert one_line(result.stderr) == "ecnews search: query of 30 words; at most 20: shorten it"


@pytest.mark.parametrize(
    "command_line",
    [("export",), ("export", "--format", "atom"), ("runs",), ("search", "电商"), ("db", "check")],
    ids=["export", "atom", "runs", "search", "check"],
)
def test_a_file_that_is_not_a_database(tmp_path: Path, command_line: tuple[str, ...]) -> None:
    result = ecnews(*command_line, database_url="sqlite:////etc/passwd", tmp_path=tmp_path)
    assert result.returncode == EXIT_FAILED
    assert one_line(result.stderr) == (
        f"ecnews {command_line[0]}: /etc/passwd is not a SQLite database"
    )


def test_upgrading_a_file_that_is_not_a_database(tmp_path: Path) -> None:
    text = tmp_path / "notes.txt"
    text.write_text("not a database\n" * 100, "utf-8")
    before = text.read_bytes()
    result = ecnews("db", "upgrade", database_url=f"sqlite:///{text}", tmp_path=tmp_path)
    assert result.returncode == EXIT_FAILED
    assert "file is not a database" in one_line(result.stderr)
    assert text.read_bytes() == before


def _titles(path: Path) -> list[str]:
    with contextlib.closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True)) as connection:
        return [row[0] for row in connection.execute("SELECT title FROM articles ORDER BY id")]


def test_backup_copies_the_data_into_one_file(sqlite_url: str, tmp_path: Path) -> None:
    database = Database(sqlite_url)
    fill(database, ("v1",))
    database.dispose()
    source = tmp_path / "ecnews.db"
    target = tmp_path / "copy" / "backup.db"
    target.parent.mkdir()
    # A crawl's connection still open: its last write sits in the -wal file only.
    with contextlib.closing(sqlite3.connect(source, isolation_level=None)) as crawl:
        crawl.execute("PRAGMA wal_autocheckpoint=0")
        crawl.execute("UPDATE articles SET title = '改' || title")
        assert (tmp_path / "ecnews.db-wal").stat().st_size > 0
        result = ecnews("db", "backup", str(target), database_url=sqlite_url, tmp_path=tmp_path)
        assert result.returncode == 0, result.stderr
        titles = _titles(target)
        assert titles == _titles(source)
    assert len(titles) == 27
    assert all(title.startswith("改") for title in titles)
    assert sorted(p.name for p in target.parent.iterdir()) == ["backup.db"]
    with contextlib.closing(sqlite3.connect(target)) as connection:
        assert connection.execute("PRAGMA journal_mode").fetchone()[0] == "delete"
    again = ecnews("db", "backup", str(target), database_url=sqlite_url, tmp_path=tmp_path)
    assert again.returncode == EXIT_USAGE
    assert one_line(again.stderr) == (
        f"ecnews db: {target} exists; a backup never overwrites a file"
    )


def test_backup_of_postgresql_says_pg_dump(tmp_path: Path) -> None:
    result = ecnews(
        "db", "backup", str(tmp_path / "x.db"),
        database_url="postgresql+psycopg://u@127.0.0.1:1/x", tmp_path=tmp_path,
    )  # fmt: skip
    assert result.returncode == EXIT_USAGE
    assert one_line(result.stderr) == (
        "ecnews db: backup copies SQLite databases; for PostgreSQL use pg_dump"
    )
    assert not (tmp_path / "x.db").exists()
