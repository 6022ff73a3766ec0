"""Every reading command goes through storage.db.open_readonly: it answers at once while
another process holds the write lock, works in a folder it cannot write, and leaves the
database file, its mtime and its journal mode as they were (issue 20, "Readers that write").

Each reader runs as the real `ecnews` command in a child process."""

from __future__ import annotations

import contextlib
import hashlib
import os
import sqlite3
import subprocess
import sys
import time
from typing import TYPE_CHECKING

import pytest
from sqlalchemy import create_engine, text

from storage.db import Database
from tests.conftest import ROOT, crawl_env
from tests.searchdata import fill

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

# Every test here starts a child process (an ecnews command, a crawl or a tool): not in make test-fast.
pytestmark = pytest.mark.process


READERS = [
    ("export",),
    ("export", "--format", "csv"),
    ("export", "--format", "atom"),
    ("runs",),
    ("search", "电商"),
    ("db", "check"),
]
IDS = ["jsonl", "csv", "atom", "runs", "search", "check"]
AT_ONCE = 10.0
"""Seconds a reader may take with the write lock held; the busy timeout is 30."""
HOLDER = """import sqlite3, sys
c = sqlite3.connect({path!r}, isolation_level=None)
c.execute("BEGIN IMMEDIATE")
c.execute("UPDATE articles SET title = title || 'x'")
print("locked", flush=True)
sys.stdin.read()
"""
"""A crawl's writer in the middle of a transaction, until its stdin closes."""
# Root passes every permission check; without these capabilities it is held to the modes.
NO_OVERRIDE = "-dac_override,-dac_read_search,-fowner"


def reader(
    *args: str, url: str, tmp_path: Path, prefix: tuple[str, ...] = ()
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*prefix, sys.executable, "-m", "crawler.cli", *args],
        cwd=ROOT,
        env=crawl_env(url, tmp_path),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.fixture
def filled(database_url: str) -> str:
    database = Database(database_url)
    fill(database, ("v1",))
    database.dispose()
    return database_url


@contextlib.contextmanager
def write_lock(url: str) -> Iterator[None]:
    """Another process (SQLite) or session (PostgreSQL) in the middle of a write."""
    if url.startswith("sqlite"):
        path = url.removeprefix("sqlite:///")
        holder = subprocess.Popen(
            [
                sys.executable,
                "-c",
                HOLDER.format(path=path),
            ],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        try:
            assert holder.stdout is not None
            assert holder.stdout.readline().strip() == "locked"
            yield
        finally:
            holder.communicate(timeout=10)  # EOF on stdin: it exits, rolling back
        return
    engine = create_engine(url)
    try:
        with engine.connect() as connection:
            connection.execute(text("UPDATE articles SET title = title || 'x'"))
            connection.execute(text("LOCK TABLE crawl_runs IN EXCLUSIVE MODE"))
            yield
            connection.rollback()
    finally:
        engine.dispose()


@pytest.mark.parametrize("command_line", READERS, ids=IDS)
def test_a_reader_answers_at_once_while_a_write_is_open(
    filled: str, tmp_path: Path, command_line: tuple[str, ...]
) -> None:
    with write_lock(filled):
        started = time.monotonic()
        result = reader(*command_line, url=filled, tmp_path=tmp_path)
        took = time.monotonic() - started
    assert result.returncode == 0, result.stderr
    assert result.stdout
    assert took < AT_ONCE, f"{command_line} took {took:.1f} s behind the write lock"


def _state(path: Path) -> tuple[str, int]:
    return hashlib.sha256(path.read_bytes()).hexdigest(), path.stat().st_mtime_ns


def _journal_mode(path: Path) -> str:
    with contextlib.closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True)) as connection:
        return str(connection.execute("PRAGMA journal_mode").fetchone()[0])


@pytest.mark.parametrize("journal", ["delete", "wal"])
def test_readers_leave_file_mtime_and_journal_mode_alone(
    sqlite_url: str, tmp_path: Path, journal: str
) -> None:
    database = Database(sqlite_url)
    fill(database, ("v1",))
    database.dispose()
    path = tmp_path / "ecnews.db"
    with contextlib.closing(sqlite3.connect(path)) as connection:
        connection.execute(f"PRAGMA journal_mode={journal}")
    before = _state(path)
    time.sleep(0.01)  # a write now would show in the mtime
    for command_line in READERS:
        result = reader(*command_line, url=sqlite_url, tmp_path=tmp_path)
        assert result.returncode == 0, result.stderr
    assert _state(path) == before
    assert _journal_mode(path) == journal


def test_every_reader_works_in_a_folder_it_cannot_write(filled: str, tmp_path: Path) -> None:
    if not filled.startswith("sqlite"):
        pytest.skip("a folder is a SQLite matter")
    folder = tmp_path
    path = folder / "ecnews.db"
    before = _state(path)
    listing = sorted(folder.iterdir())
    os.chmod(path, 0o444)  # noqa: PTH101  # as a cron user's file looks to an analyst
    os.chmod(folder, 0o555)  # noqa: PTH101
    try:
        for command_line in READERS:
            result = reader(
                *command_line,
                url=filled,
                tmp_path=tmp_path / "elsewhere",
                prefix=("setpriv", f"--bounding-set={NO_OVERRIDE}", f"--inh-caps={NO_OVERRIDE}"),
            )
            assert result.returncode == 0, (command_line, result.stderr)
            assert result.stdout
    finally:
        os.chmod(folder, 0o755)  # noqa: PTH101
        os.chmod(path, 0o644)  # noqa: PTH101
    assert _state(path) == before
    assert sorted(folder.iterdir()) == listing
