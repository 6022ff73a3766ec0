"""Progress on a terminal for runs by hand; nothing of it when cron runs the crawl."""

from __future__ import annotations

import os
import pty
import re
import subprocess
import sys
from typing import TYPE_CHECKING

import pytest

from tests.conftest import ROOT, crawl_env, ecnews

if TYPE_CHECKING:
    from pathlib import Path

    from tests.siteserver import SiteServer

pytestmark = pytest.mark.slow


# The start of a log record: it must begin a line of its own.
LOG_RECORD = re.compile(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d \[")


def crawl_on_a_terminal(site: SiteServer, sqlite_url: str, tmp_path: Path, level: str) -> str:
    """What a terminal receives from a crawl: stderr through a pty."""
    leader, follower = pty.openpty()
    env = crawl_env(sqlite_url, tmp_path)
    process = subprocess.Popen(
        [
            *(sys.executable, "-m", "crawler.cli", "crawl", "--base-url", site.url),
            *("-s", "PROGRESS_INTERVAL=0.05", "-s", f"LOG_LEVEL={level}"),
        ],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=follower,
    )
    os.close(follower)
    output = b""
    while True:
        try:
            chunk = os.read(leader, 65536)
        except OSError:  # the child closed its end
            break
        if not chunk:
            break
        output += chunk
    os.close(leader)
    assert process.wait(timeout=120) == 0
    return output.decode("utf-8", "replace")


def test_progress_line_on_a_terminal(site: SiteServer, sqlite_url: str, tmp_path: Path) -> None:
    text = crawl_on_a_terminal(site, sqlite_url, tmp_path, "WARNING")
    assert "\r\x1b[K" in text
    assert "articles new 27" in text


def test_log_lines_never_share_the_progress_line(
    site: SiteServer, sqlite_url: str, tmp_path: Path
) -> None:
    for slug in ("rdjj", "sjbg", "zcfg", "jxal"):
        site.add_fault(f"/news/{slug}/", delay_ms=300)  # time for the progress line to show
    text = crawl_on_a_terminal(site, sqlite_url, tmp_path, "INFO")
    assert text.count("\r\x1b[Kpages ") > 2, text[-2000:]
    records = list(LOG_RECORD.finditer(text))
    assert len(records) > 10
    for record in records:
        before = text[: record.start()]
        # On a new line, or at column 0 of a line just cleared of the progress line.
        assert before.endswith(("\n", "\r\x1b[K")) or not before, repr(
            text[record.start() - 200 : record.end()]
        )


def test_no_progress_line_when_not_on_a_terminal(
    site: SiteServer, sqlite_url: str, tmp_path: Path
) -> None:
    result = ecnews(
        "crawl",
        "--base-url",
        site.url,
        "-s",
        "PROGRESS_INTERVAL=0.2",
        database_url=sqlite_url,
        tmp_path=tmp_path,
    )
    assert result.returncode == 0
    assert "\x1b[K" not in result.stderr


def test_a_clean_cron_run_mails_nothing(site: SiteServer, sqlite_url: str, tmp_path: Path) -> None:
    """With the README's cron line (LOG_LEVEL=WARNING), a run that went well prints nothing,
    though the site answered a 404 and two 503s on the way."""
    result = ecnews(
        "crawl",
        "--base-url",
        site.url,
        "-s",
        "LOG_LEVEL=WARNING",
        database_url=sqlite_url,
        tmp_path=tmp_path,
    )
    assert result.returncode == 0
    assert result.stdout == ""
    assert result.stderr == ""
