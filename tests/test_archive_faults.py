"""The archive's faults, on real crawls: SIGKILL mid-write, a disk that refuses writes."""

from __future__ import annotations

import json
import os
import random
import resource
import shutil
import signal
import subprocess
import sys
import time
from typing import TYPE_CHECKING

import pytest

from crawler.archive.store import check_file, index_entries, read_response
from tests.conftest import ROOT, SITE, crawl_env, ecnews
from tests.gold import compare, load_jsonl

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

    from tests.siteserver import SiteServer

pytestmark = pytest.mark.slow

KILLS = 10


def _start_crawl(site: SiteServer, database_url: str, tmp_path: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "crawler.cli", "crawl", "--base-url", site.url, "--mode", "full"],
        cwd=ROOT,
        env=crawl_env(database_url, tmp_path),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,  # its own group: the kill takes its writer process too
    )


def test_sigkill_during_archive_writes(site: SiteServer, sqlite_url: str, tmp_path: Path) -> None:
    archive = tmp_path / "archive"
    # Moments counted in the site's requests: the k-th request of a run has arrived, so
    # the archive is being written (a crawl of v1 makes ~40).
    moments = random.Random(18).sample(range(1, 38), KILLS)
    for moment in moments:
        site.clear_log()
        crawl = _start_crawl(site, sqlite_url, tmp_path)
        deadline = time.monotonic() + 60
        while site.count() < moment and crawl.poll() is None and time.monotonic() < deadline:
            time.sleep(0.005)
        os.killpg(crawl.pid, signal.SIGKILL)
        crawl.wait(timeout=30)
        # Every file reads back: its complete records, a torn last one reported.
        for file in archive.glob("*.warc.gz"):
            report = check_file(file)
            assert report.records or report.torn or not file.stat().st_size, file
        # Every index line points at a whole record (it is written after the record).
        for entry in index_entries(archive):
            assert read_response(archive, entry).status == entry.status, (moment, entry)
    assert len(list(archive.glob("*.warc.gz"))) >= 1

    result = ecnews(
        "crawl",
        "--base-url",
        site.url,
        "--mode",
        "full",
        database_url=sqlite_url,
        tmp_path=tmp_path,
    )
    assert result.returncode == 0, result.stderr[-5000:]
    export = ecnews("export", database_url=sqlite_url, tmp_path=tmp_path)
    records = [json.loads(line) for line in export.stdout.splitlines()]
    problems = compare(records, load_jsonl(SITE / "gold-v1.jsonl"))
    assert not problems, "export differs from gold-v1:\n" + "\n".join(problems)


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A 256 KiB tmpfs: less than the archive of one crawl of the snapshot."""
    mount = tmp_path / "disk"
    mount.mkdir()
    result = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=256k", "tmpfs", str(mount)],
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode:
        if os.environ.get("CI"):
            pytest.fail(f"cannot mount a tmpfs: {result.stderr.strip()}")
        pytest.skip(f"cannot mount a tmpfs: {result.stderr.strip()}")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def test_a_full_archive_disk_ends_the_run(
    site: SiteServer, sqlite_url: str, tmp_path: Path, small_disk: Path
) -> None:
    filler = small_disk / "filler"
    filler.write_bytes(b"\0" * max(shutil.disk_usage(small_disk).free - 48 * 1024, 0))
    archive = small_disk / "archive"
    result = ecnews(
        "crawl",
        "--base-url",
        site.url,
        "--mode",
        "full",
        database_url=sqlite_url,
        tmp_path=tmp_path,
        env={"ECNEWS_ARCHIVE_DIR": str(archive)},
        timeout=120,
    )
    assert result.returncode == 1, result.stderr[-5000:]
    assert "cannot write the archive" in result.stderr
    assert "No space left on device" in result.stderr
    assert "Traceback" not in result.stderr
    for file in archive.glob("*.warc.gz"):
        assert check_file(file).records  # what fitted reads back

    filler.unlink()  # room again: the next run archives and stores everything
    again = ecnews(
        "crawl",
        "--base-url",
        site.url,
        "--mode",
        "full",
        database_url=sqlite_url,
        tmp_path=tmp_path,
        env={"ECNEWS_ARCHIVE_DIR": str(archive)},
    )
    assert again.returncode == 0, again.stderr[-5000:]
    export = ecnews("export", database_url=sqlite_url, tmp_path=tmp_path)
    records = [json.loads(line) for line in export.stdout.splitlines()]
    problems = compare(records, load_jsonl(SITE / "gold-v1.jsonl"))
    assert not problems, "export differs from gold-v1:\n" + "\n".join(problems)


def _small_files(limit: int) -> None:
    """A disk that takes `limit` bytes per file, then refuses (EFBIG, as ENOSPC would)."""
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))


@pytest.mark.postgres
def test_a_disk_that_refuses_the_archive_ends_the_run(
    site: SiteServer, postgres_url: str, tmp_path: Path
) -> None:
    # PostgreSQL: the crawl's own files stay small, so the archive is what hits the limit.
    result = subprocess.run(
        [sys.executable, "-m", "crawler.cli", "crawl", "--base-url", site.url, "--mode", "full"],
        cwd=ROOT,
        env=crawl_env(postgres_url, tmp_path),
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
        preexec_fn=lambda: _small_files(40_000),  # limits in the child only
    )
    assert result.returncode == 1, result.stderr[-5000:]
    assert "cannot write the archive" in result.stderr
    assert "File too large" in result.stderr
    assert "Traceback" not in result.stderr
    # What was written before the limit reads back.
    for file in (tmp_path / "archive").glob("*.warc.gz"):
        assert check_file(file).records


def test_a_stuck_archive_disk_is_a_stall_not_a_hang(
    site: SiteServer, sqlite_url: str, tmp_path: Path
) -> None:
    # The writer thread's first read never returns (a FIFO nobody writes to, as a hung
    # disk would): the queue fills, responses wait for room, and the deadline ends it.
    archive = tmp_path / "archive"
    archive.mkdir()
    (archive / "ecnews-0-stuck-1-00001.warc.gz").write_bytes(b"")
    os.mkfifo(archive / "ecnews-0-stuck-1-00001.cdxj")
    started = time.monotonic()
    result = ecnews(
        "crawl",
        "--base-url",
        site.url,
        "--mode",
        "full",
        "-s",
        "ARCHIVE_QUEUE_SIZE=2",
        "-s",
        "ARCHIVE_STALL_TIMEOUT=3",
        database_url=sqlite_url,
        tmp_path=tmp_path,
        timeout=120,
    )
    assert time.monotonic() - started < 90
    assert result.returncode == 1, result.stderr[-5000:]
    assert "the archive disk took more than 3 s to take a record" in result.stderr
    assert "archive_stalled" in result.stderr
    assert "Traceback" not in result.stderr
