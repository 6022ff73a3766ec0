"""`ecnews runs`: start times in the site's zone, labelled, or in the zone of --tz."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

import pytest

from crawler.exitcodes import EXIT_USAGE
from storage.db import Database
from storage.models import CrawlRun
from tests.conftest import ecnews

if TYPE_CHECKING:
    from pathlib import Path

# Every test here starts a child process (an ecnews command, a crawl or a tool): not in make test-fast.
pytestmark = pytest.mark.process


STARTED = dt.datetime(2025, 8, 21, 16, 0, 5, tzinfo=dt.UTC)


def test_start_times_in_local_time_or_the_zone_asked(sqlite_url: str, tmp_path: Path) -> None:
    database = Database(sqlite_url)
    with database.sessions.begin() as session:
        session.add(
            CrawlRun(
                started_at=STARTED,
                finished_at=STARTED + dt.timedelta(seconds=42),
                status="finished",
                mode="full",
            )
        )
    database.dispose()
    local = ecnews("runs", database_url=sqlite_url, tmp_path=tmp_path)
    assert local.returncode == 0, local.stderr
    header, row = local.stdout.splitlines()
    assert header.split()[:3] == ["id", "started", "(Asia/Shanghai)"]
    assert "2025-08-22 00:00:05+08:00" in row
    assert "42.0" in row
    utc = ecnews("runs", "--tz", "UTC", database_url=sqlite_url, tmp_path=tmp_path)
    assert utc.returncode == 0, utc.stderr
    assert "2025-08-21 16:00:05+00:00" in utc.stdout
    assert "started (UTC)" in utc.stdout
    wrong = ecnews("runs", "--tz", "Mars/Base", database_url=sqlite_url, tmp_path=tmp_path)
    assert wrong.returncode == EXIT_USAGE
    assert "'Mars/Base' is not a time zone" in wrong.stderr
