"""`ecnews serve` as a person uses it: a real crawl, the web view, a Chinese query in Chromium.

Set ECNEWS_SCREENSHOT=docs/search.png to refresh the README's screenshot.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from typing import TYPE_CHECKING
from urllib.parse import quote

import pytest

from tests.conftest import ROOT, crawl_env, ecnews

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

    from tests.siteserver import SiteServer

pytestmark = pytest.mark.slow

QUERY = "海外仓 备货"
EXPECTED_TITLE = "跨境电商卖家加码海外仓，提前备战下半年销售旺季"
START_TIMEOUT = 30.0
BROWSER_TIMEOUT = 90.0


def chromium() -> str:
    found = shutil.which("chromium")
    if found is None:
        if os.environ.get("CI"):
            pytest.fail("chromium is not installed: CI must install it (see .ci/run)")
        pytest.skip("chromium not installed (apt-get install chromium)")
    return found


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def wait_until_up(url: str, server: subprocess.Popen[str]) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if server.poll() is not None:
            pytest.fail(f"ecnews serve exited: {server.communicate(timeout=5)}")
        try:
            with urllib.request.urlopen(url, timeout=2):  # our own 127.0.0.1 server
                return
        except (urllib.error.URLError, ConnectionError):
            time.sleep(0.2)
    pytest.fail(f"ecnews serve did not answer at {url} within {START_TIMEOUT}s")


@pytest.fixture
def served(site: SiteServer, sqlite_url: str, tmp_path: Path) -> Iterator[str]:
    crawl = ecnews("crawl", "--base-url", site.url, "--mode", "full",
                   database_url=sqlite_url, tmp_path=tmp_path)  # fmt: skip
    assert crawl.returncode == 0, crawl.stderr[-3000:]
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "crawler.cli", "serve", "--port", str(port)],
        cwd=ROOT,
        env=crawl_env(sqlite_url, tmp_path),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        base = f"http://127.0.0.1:{port}"
        wait_until_up(base + "/", server)
        yield base
    finally:
        server.terminate()
        server.communicate(timeout=10)


def browse(browser: str, url: str, tmp_path: Path, *action: str) -> str:
    result = subprocess.run(
        [
            browser, "--headless", "--no-sandbox", "--disable-gpu",
            "--disable-background-networking", "--disable-component-update", "--disable-sync",
            "--no-first-run", f"--user-data-dir={tmp_path / 'chromium'}",
            "--window-size=1280,1000", *action, url,
        ],
        capture_output=True,
        text=True,
        timeout=BROWSER_TIMEOUT,
        check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    return result.stdout


def test_search_page_finds_the_article(served: str, tmp_path: Path) -> None:
    browser = chromium()
    url = f"{served}/ecnews/search?q={quote(QUERY)}"
    dom = browse(browser, url, tmp_path, "--dump-dom")
    assert EXPECTED_TITLE in dom
    assert "«海外仓»" in dom  # the snippet marks the hit

    screenshot = tmp_path / "search.png"
    browse(browser, url, tmp_path, f"--screenshot={screenshot}")
    assert screenshot.stat().st_size > 10_000
    if target := os.environ.get("ECNEWS_SCREENSHOT"):
        shutil.copyfile(screenshot, ROOT / target)


def test_web_view_is_read_only(served: str) -> None:
    request = urllib.request.Request(  # our own 127.0.0.1 server
        f"{served}/ecnews/articles/1/-/delete", method="POST", data=b""
    )
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(request, timeout=10)  # our own 127.0.0.1 server
    refused.value.close()
    assert refused.value.code in {403, 404, 405}
    with urllib.request.urlopen(f"{served}/ecnews/latest.json?_shape=array", timeout=10) as page:
        assert page.status == 200
