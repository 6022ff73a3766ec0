"""Another PostgreSQL session holds the rows a crawl must update (`SELECT … FOR UPDATE`
in an open transaction): the writes give up after lock_timeout, the run ends in bounded
time with exit 1 and a `failed` crawl_runs row, what it could not write is spooled, and
once the lock is released the next run's export is gold."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

import pytest
from sqlalchemy import create_engine, text

from crawler.exitcodes import EXIT_FAILED, EXIT_OK
from storage.spool import Spool
from tests.conftest import SITE
from tests.gold import compare, load_jsonl
from tests.test_reliability_support import crawl, export, last_run

if TYPE_CHECKING:
    from pathlib import Path

    from tests.siteserver import SiteServer

pytestmark = [pytest.mark.slow, pytest.mark.postgres]

# Seconds the locked run may take at most: lock_timeout per try, two tries per batch.
HANG_LIMIT = 90
TIMEOUTS = {
    "ECNEWS_PG_LOCK_TIMEOUT": "1",
    "ECNEWS_PG_STATEMENT_TIMEOUT": "5",
    "ECNEWS_PG_CONNECT_TIMEOUT": "2",
    "ECNEWS_PG_KEEPALIVE_IDLE": "2",
}


@pytest.mark.timeout(HANG_LIMIT + 240)
def test_rows_locked_by_another_session_fail_the_run_and_spool(
    site: SiteServer, postgres_url: str, tmp_path: Path
) -> None:
    first = crawl(site, postgres_url, tmp_path)
    assert first.returncode == EXIT_OK, first.stderr[-3000:]
    site.set_version("v2")

    holder = create_engine(postgres_url)
    with holder.connect() as session:
        session.execute(text("SELECT id FROM articles FOR UPDATE")).all()
        session.execute(text("SELECT id FROM categories FOR UPDATE")).all()
        started = time.monotonic()
        locked = crawl(
            site, postgres_url, tmp_path, "--mode", "full",
            "-s", "PERSIST_ATTEMPTS=2", "-s", "PERSIST_BACKOFF=0.05",
            "-s", "PERSIST_STALL_TIMEOUT=30",
            env=TIMEOUTS, timeout=HANG_LIMIT,
        )  # fmt: skip
        took = time.monotonic() - started
        session.rollback()
    holder.dispose()

    assert locked.returncode == EXIT_FAILED, locked.stderr[-3000:]
    assert took < HANG_LIMIT
    assert "items could not be written to the database" in locked.stderr
    run = last_run(postgres_url)
    assert run.status == "failed"
    assert run.reason is not None
    assert "could not be written" in run.reason
    assert len(Spool(tmp_path / "spool", postgres_url)) > 0

    fixed = crawl(site, postgres_url, tmp_path, "--mode", "full")
    assert fixed.returncode == EXIT_OK, fixed.stderr[-3000:]
    assert len(Spool(tmp_path / "spool", postgres_url)) == 0
    problems = compare(export(postgres_url), load_jsonl(SITE / "gold-v2.jsonl"))
    assert not problems, "\n".join(problems)
