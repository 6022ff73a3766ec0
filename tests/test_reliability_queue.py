"""The crawl's queue breaks mid-run: the run ends in bounded time with exit 1, one reason,
a `failed` crawl_runs row and its lock released; once the fault clears, the next run's
export is gold.

A full job directory is a real tmpfs filled to its last pages (the sandbox runs as root,
so a read-only directory would not stop it); Redis is a redis-server started here and
killed mid-round.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from typing import TYPE_CHECKING

import pytest

from crawler.exitcodes import EXIT_FAILED, EXIT_OK
from tests.conftest import SITE
from tests.gold import compare, load_jsonl
from tests.test_reliability_support import crawl, export, last_run

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

    from tests.siteserver import SiteServer

pytestmark = pytest.mark.slow

GOLD = load_jsonl(SITE / "gold-v1.jsonl")
# The whole run, hung or not, must end well within this.
HANG_LIMIT = 90


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A 256 KiB tmpfs with only a few pages left free: the job queue fills it mid-run."""
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


def _fill(disk: Path, leave: int) -> Path:
    """Fill `disk` but `leave` bytes; returns the filler, to delete when the fault clears."""
    filler = disk / "filler"
    usage = shutil.disk_usage(disk)
    filler.write_bytes(b"\0" * max(usage.free - leave, 0))
    return filler


@pytest.mark.timeout(HANG_LIMIT * 2 + 120)
def test_a_full_job_directory_fails_the_run_and_releases_the_lock(
    site: SiteServer, sqlite_url: str, tmp_path: Path, small_disk: Path
) -> None:
    jobdir = small_disk / "job"
    filler = _fill(small_disk, leave=16 * 1024)
    env = {"ECNEWS_JOBDIR": str(jobdir)}

    broken = crawl(site, sqlite_url, tmp_path, env=env, timeout=HANG_LIMIT)

    assert broken.returncode == EXIT_FAILED, broken.stderr
    assert "queue failed: cannot write the job directory" in broken.stderr
    assert "No space left on device" in broken.stderr
    run = last_run(sqlite_url)
    assert run.status == "failed"
    assert run.reason is not None
    assert "queue failed: cannot write the job directory" in run.reason
    assert "No space left on device" in run.reason
    assert "Traceback" not in broken.stderr

    filler.unlink()
    fixed = crawl(site, sqlite_url, tmp_path, env=env, timeout=HANG_LIMIT)
    assert fixed.returncode == EXIT_OK, fixed.stderr
    assert last_run(sqlite_url).status == "ok"
    assert compare(export(sqlite_url), GOLD) == []
