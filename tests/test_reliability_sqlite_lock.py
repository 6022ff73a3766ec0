"""A SQLite database another process keeps locked, or a read-only one: the crawl says so
in one line and exits 1 within the busy timeout; once the lock clears, the next run's
export is gold."""

from __future__ import annotations

import sqlite3
import subprocess
import time
from typing import TYPE_CHECKING

import pytest
from sqlalchemy import select

from crawler.exitcodes import EXIT_FAILED, EXIT_OK
from storage.db import Database
from storage.models import CrawlRun
from tests.conftest import SITE
from tests.gold import compare, load_jsonl
from tests.test_reliability_support import crawl, export, last_run

if TYPE_CHECKING:
    from pathlib import Path

    from tests.siteserver import SiteServer

pytestmark = pytest.mark.slow

GOLD = load_jsonl(SITE / "gold-v1.jsonl")


@pytest.mark.timeout(180)
def test_a_locked_database_is_one_line_and_exit_1(
    site: SiteServer, sqlite_url: str, tmp_path: Path
) -> None:
    assert crawl(site, sqlite_url, tmp_path).returncode == EXIT_OK  # an existing database
    holder = sqlite3.connect(sqlite_url.removeprefix("sqlite:///"), isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")  # another process's write transaction
    try:
        started = time.monotonic()
        locked = crawl(site, sqlite_url, tmp_path, env={"ECNEWS_SQLITE_BUSY_TIMEOUT": "1"})
        took = time.monotonic() - started
    finally:
        holder.execute("ROLLBACK")
        holder.close()

    assert locked.returncode == EXIT_FAILED, locked.stderr
    expected = (
        f"ecnews crawl: database locked by another process: {tmp_path / 'ecnews.db'} "
        "(still locked after 1 s, ECNEWS_SQLITE_BUSY_TIMEOUT)"
    )
    assert locked.stderr.strip().splitlines() == [expected]
    assert took < 30

    fixed = crawl(site, sqlite_url, tmp_path)
    assert fixed.returncode == EXIT_OK, fixed.stderr
    assert last_run(sqlite_url).status == "ok"
    # The locked run's row, written by the first run that could write.
    database = Database(sqlite_url)
    try:
        with database.sessions() as session:
            runs = list(session.scalars(select(CrawlRun).order_by(CrawlRun.id)))
    finally:
        database.dispose()
    assert [(run.status, run.reason) for run in runs] == [
        ("ok", None),  # the run before the lock
        ("failed", expected.removeprefix("ecnews crawl: ")),
        ("ok", None),
    ]
    assert compare(export(sqlite_url), GOLD) == []


@pytest.mark.timeout(180)
def test_a_read_only_database_is_one_line_and_exit_1(site: SiteServer, tmp_path: Path) -> None:
    # Root writes through file modes: a read-only mount is what stops it.
    disk = tmp_path / "ro"
    disk.mkdir()
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", str(disk)],
        capture_output=True,
        text=True,
        check=False,
    )
    if mounted.returncode:
        pytest.skip(f"cannot mount a tmpfs: {mounted.stderr.strip()}")
    try:
        url = f"sqlite:///{disk / 'ecnews.db'}"
        Database(url).dispose()
        subprocess.run(["mount", "-o", "remount,ro", str(disk)], check=True)
        result = crawl(site, url, tmp_path)
    finally:
        subprocess.run(["umount", "-l", str(disk)], check=False)

    assert result.returncode == EXIT_FAILED, result.stderr
    expected = (
        f"ecnews crawl: database is read-only: {disk / 'ecnews.db'} "
        "(the crawl must write it and its journal)"
    )
    assert result.stderr.strip().splitlines() == [expected]
