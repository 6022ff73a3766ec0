"""Progress on a terminal for runs by hand; nothing of it when cron runs the crawl."""

from __future__ import annotations

import os
import pty
import subprocess
import sys
from typing import TYPE_CHECKING

import pytest

from tests.conftest import ROOT, crawl_env, ecnews

if TYPE_CHECKING:
    from pathlib import Path

    from tests.siteserver import SiteServer

pytestmark = pytest.mark.slow


def test_progress_line_on_a_terminal(site: SiteServer, sqlite_url: str, tmp_path: Path) -> None:
    leader, follower = pty.openpty()
    env = crawl_env(sqlite_url, tmp_path)
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "crawler.cli",
            "crawl",
            "--base-url",
            site.url,
            "-s",
            "PROGRESS_INTERVAL=0.2",
            "-s",
            "LOG_LEVEL=WARNING",
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
    text = output.decode("utf-8", "replace")
    assert "\r\x1b[K" in text
    assert "articles new 27" in text


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
