"""`make crawl` (crawler/demo.py): the bundled snapshot, served by the crawler's own static
server, crawled into a fresh folder with port 8765 taken; a short summary on the terminal."""

from __future__ import annotations

import ast
import os
import re
import socket
import subprocess
import sys
import urllib.error
import urllib.request
from typing import TYPE_CHECKING

import pytest

from crawler.snapshot_site import SnapshotSite
from tests.conftest import ROOT

if TYPE_CHECKING:
    from pathlib import Path


def test_the_crawler_never_imports_the_tests() -> None:
    for source in (ROOT / "crawler").rglob("*.py"):
        for node in ast.walk(ast.parse(source.read_text("utf-8"))):
            names = (
                [alias.name for alias in node.names]
                if isinstance(node, ast.Import)
                else [node.module or ""]
                if isinstance(node, ast.ImportFrom)
                else []
            )
            assert not any(n == "tests" or n.startswith("tests.") for n in names), source


def _get(url: str) -> tuple[int, str, bytes]:
    class NoRedirect(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *args: object, **kwargs: object) -> None:
            return None

    opener = urllib.request.build_opener(NoRedirect)
    try:
        with opener.open(url, timeout=10) as response:
            return response.status, response.headers.get("Content-Type", ""), response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.headers.get("Location", ""), b""


@pytest.mark.parametrize(
    ("path", "status", "holds"),
    [
        ("/", 200, "text/html"),
        ("/news/rdjj/", 200, "text/html"),
        ("/news/rdjj/?page=2&spm=x", 200, "text/html"),
        ("/news/rdjj", 301, "/news/rdjj/"),
        ("/robots.txt", 200, "text/plain"),
        ("/news/", 404, ""),
        ("/no/such/page.html", 404, ""),
    ],
    ids=["home", "listing", "query-ignored", "folder-redirect", "robots", "no-listing", "404"],
)
def test_snapshot_site_layout(path: str, status: int, holds: str) -> None:
    with SnapshotSite(port=0) as site:
        got_status, header, body = _get(site.url + path)
    assert got_status == status
    assert holds in header
    if status == 200 and path.startswith("/news/"):
        assert body == (ROOT / "tests/fixtures/site/v1/news/rdjj/index.html").read_bytes()


@pytest.mark.slow
def test_make_crawl_with_its_port_taken(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        env = {
            **{k: v for k, v in os.environ.items() if k not in ("NEWS_SITE_URL", "LOG_LEVEL")},
            "DATABASE_URL": "sqlite:///data/ecnews.db",
            "PYTHONPATH": str(ROOT),
        }
        runs = [
            subprocess.run(
                [sys.executable, "-m", "crawler.demo", "--port", str(port)],
                cwd=tmp_path,
                env=env,
                capture_output=True,
                text=True,
                timeout=180,
                check=False,
            )
            for _ in range(2)
        ]
    result, again = runs
    assert result.returncode == 0, result.stderr[-3000:]
    output = (result.stdout + result.stderr).strip().splitlines()
    assert len(output) <= 15, "\n".join(output)
    text = "\n".join(output)
    assert f"port {port} was busy" in text
    assert re.search(r"total +27$", text, re.MULTILINE), text
    assert "article_view" in text
    assert re.search(
        r"^This run: \d+ pages fetched: 27 new, 0 updated, 0 unchanged; newest new: 2025-08-22 ",
        text,
        re.MULTILINE,
    ), text
    assert "ecnews search" in text
    assert "make serve" in text
    # A repeat run says what it brought, not the totals again first.
    assert again.returncode == 0, again.stderr[-3000:]
    assert re.search(
        r"^This run: nothing new \(\d+ pages fetched: 0 new", again.stdout, re.MULTILINE
    ), again.stdout
    assert "Traceback" not in text
    assert (tmp_path / "data" / "ecnews.db").is_file()
    log = (tmp_path / "data" / "ecnews-crawl.log").read_text("utf-8")
    assert "Spider closed (finished)" in log
