"""No process outlives its crawl: a crawl SIGKILLed at any moment, its writer process
starting or not, leaves nothing running and no one holding its output pipe."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid
from typing import TYPE_CHECKING

import pytest

from tests.conftest import ROOT, crawl_env, processes_with

if TYPE_CHECKING:
    from pathlib import Path

    from tests.siteserver import SiteServer

# Every test here runs crawls in child processes: not in make test-fast.
pytestmark = pytest.mark.slow


MOMENTS = [round(0.15 * n, 2) for n in range(20)]  # 0 … 2.85 s after start
WRITER_STARTING = -1.0
"""Not a delay: the moment the writer process appears, while it imports and connects."""
GONE_WITHIN = 5.0
CRAWL_MARK = "ECNEWS_TEST_CRAWL"


def _start(
    site: SiteServer, database_url: str, tmp_path: Path, mark: str
) -> subprocess.Popen[bytes]:
    env = crawl_env(database_url, tmp_path, ECNEWS_SPOOL_DIR=str(tmp_path / "spool"))
    env[CRAWL_MARK] = mark
    return subprocess.Popen(
        [sys.executable, "-m", "crawler.cli", "crawl", "--base-url", site.url, "--mode", "full"],
        cwd=ROOT,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )


@pytest.mark.parametrize(
    "moment",
    [*MOMENTS, WRITER_STARTING],
    ids=[*(f"{m:.2f}s" for m in MOMENTS), "writer-starting"],
)
def test_sigkilled_crawl_leaves_no_process(
    site: SiteServer, database_url: str, tmp_path: Path, moment: float
) -> None:
    mark = uuid.uuid4().hex
    crawl = _start(site, database_url, tmp_path, mark)
    if moment == WRITER_STARTING:
        _wait_for_writer(mark)
    else:
        time.sleep(moment)
    crawl.kill()
    crawl.wait(10)
    try:
        _assert_nothing_left(crawl, mark)
    finally:
        for pipe in (crawl.stdout, crawl.stderr):
            if pipe is not None:
                pipe.close()


def _assert_nothing_left(crawl: subprocess.Popen[bytes], mark: str) -> None:
    assert crawl.stdout is not None
    assert crawl.stderr is not None
    # Nobody else holds the pipes: reading them ends (a holder would block this forever).
    for pipe in (crawl.stdout, crawl.stderr):
        os.set_blocking(pipe.fileno(), False)
    deadline = time.monotonic() + GONE_WITHIN
    left = processes_with(CRAWL_MARK, mark)
    open_pipes = [crawl.stdout, crawl.stderr]
    while left or open_pipes:
        assert time.monotonic() < deadline, f"left behind: {left}, pipes open: {len(open_pipes)}"
        time.sleep(0.1)
        left = processes_with(CRAWL_MARK, mark)
        open_pipes = [pipe for pipe in open_pipes if _still_open(pipe.fileno())]


def _still_open(fd: int) -> bool:
    """Whether the pipe's write end is still held (no EOF yet)."""
    while True:
        try:
            chunk = os.read(fd, 65536)
        except BlockingIOError:
            return True
        if not chunk:
            return False


def _wait_for_writer(mark: str) -> None:
    deadline = time.monotonic() + 60
    while not any("spawn_main" in c for c in processes_with(CRAWL_MARK, mark).values()):
        assert time.monotonic() < deadline, "the crawl never started its writer process"
        time.sleep(0.01)
