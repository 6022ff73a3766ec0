"""The writer process dying or stalling mid-crawl (the real command, the real process).

Either way the crawl spools every record it had handed over and not seen committed,
closes, and exits 1 within a bounded time; the next normal run brings the database to
gold. (The database going away mid-batch: tests/test_reliability_database.py.)
"""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from crawler.exitcodes import EXIT_FAILED
from tests.conftest import SITE
from tests.gold import compare, load_jsonl
from tests.siteserver import SiteServer
from tests.test_reliability_support import crawl, export, start_crawl

if TYPE_CHECKING:
    import subprocess

pytestmark = pytest.mark.slow

GOLD = load_jsonl(SITE / "gold-v1.jsonl")


def _article_paths() -> list[str]:
    return [
        path.relative_to(SITE / "v1").as_posix()
        for path in (SITE / "v1" / "news").rglob("*.html")
        if path.parent.name.isdigit()
    ]


def _writer_pid(crawl_pid: int) -> int:
    """The crawl's writer: its child started by multiprocessing's spawn."""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        children = Path(f"/proc/{crawl_pid}/task/{crawl_pid}/children").read_text().split()
        for child in children:
            cmdline = Path(f"/proc/{child}/cmdline").read_bytes()
            if b"spawn_main" in cmdline:
                return int(child)
        time.sleep(0.05)
    raise AssertionError("no writer process")


def _stored(site: SiteServer, count: int) -> None:
    deadline = time.monotonic() + 60
    while len([r for r in site.log if "/20" in r.path]) < count:
        assert time.monotonic() < deadline, "the crawl never got going"
        time.sleep(0.02)


def _slow_site() -> SiteServer:
    return SiteServer(SITE, "v1", faults={f"/{p}": {"delay_ms": 200} for p in _article_paths()})


def _fault_mid_crawl(
    site: SiteServer, tmp_path: Path, fault: signal.Signals, *args: str
) -> tuple[int, float, str]:
    """Crawl v1 slowly, hit the writer with `fault` once 8 articles were served; return
    the exit code, the seconds from the fault to the exit, and the crawl's log."""
    db = f"sqlite:///{tmp_path / 'ecnews.db'}"
    process: subprocess.Popen[str] = start_crawl(site.url, db, tmp_path, *args)
    try:
        writer = _writer_pid(process.pid)
        _stored(site, 8)
        os.kill(writer, fault)
        hit = time.monotonic()
        code = process.wait(timeout=90)
        took = time.monotonic() - hit
    finally:
        if process.poll() is None:
            process.kill()
        if Path(f"/proc/{writer}").exists():  # the watchdog should have killed it already
            os.kill(writer, signal.SIGKILL)
    return code, took, (tmp_path / "crawl-bg.log").read_text("utf-8")


def _next_run_reaches_gold(site: SiteServer, tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'ecnews.db'}"
    result = crawl(site, db, tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    problems = compare(export(db), GOLD)
    assert not problems, "\n".join(problems)


def test_a_killed_writer_fails_the_run_and_loses_nothing(tmp_path: Path) -> None:
    with _slow_site() as site:
        code, took, log = _fault_mid_crawl(site, tmp_path, signal.SIGKILL)
        assert code == EXIT_FAILED, log[-3000:]
        assert took < 30
        assert "writer process died" in log
        _next_run_reaches_gold(site, tmp_path)


def test_a_stalled_writer_is_killed_and_the_run_fails(tmp_path: Path) -> None:
    with _slow_site() as site:
        code, took, log = _fault_mid_crawl(
            site, tmp_path, signal.SIGSTOP, "-s", "PERSIST_STALL_TIMEOUT=3"
        )
        assert code == EXIT_FAILED, log[-3000:]
        assert took < 30, "bounded by the stall timeout"
        assert "writer process stalled" in log
        _next_run_reaches_gold(site, tmp_path)
