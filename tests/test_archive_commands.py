"""`ecnews archive stats` and `ecnews archive prune` on the archive of real crawls."""

from __future__ import annotations

import json
import re
from collections import Counter
from typing import TYPE_CHECKING

import pytest

from crawler.archive.store import check_file, index_entries, read_response
from tests.conftest import ecnews

if TYPE_CHECKING:
    from pathlib import Path

    from tests.siteserver import SiteServer

pytestmark = pytest.mark.slow


def _ok(*args: str, url: str, tmp_path: Path) -> str:
    result = ecnews(*args, database_url=url, tmp_path=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr[-5000:]
    return result.stdout


def _stat(output: str, name: str) -> int:
    found = re.search(rf"^{name}:\s+(\d+)", output, re.MULTILINE)
    assert found, output
    return int(found.group(1))


def test_stats_then_prune_keeps_every_stored_page(
    site: SiteServer, sqlite_url: str, tmp_path: Path
) -> None:
    archive = tmp_path / "archive"
    for version in ("v1", "v2"):
        site.set_version(version)
        _ok("crawl", "--base-url", site.url, "--mode", "full", url=sqlite_url, tmp_path=tmp_path)
    export = _ok("export", url=sqlite_url, tmp_path=tmp_path)

    stats = _ok("archive", "stats", url=sqlite_url, tmp_path=tmp_path)
    assert _stat(stats, "files") == 2
    assert _stat(stats, "records") == len(list(index_entries(archive))) > 0
    assert "oldest:   20" in stats
    assert "newest:   20" in stats

    nothing = _ok("archive", "prune", url=sqlite_url, tmp_path=tmp_path)
    assert nothing.startswith("nothing pruned")
    before = list(index_entries(archive))

    pruned = _ok("archive", "prune", "--keep-latest", "1", url=sqlite_url, tmp_path=tmp_path)
    assert pruned.startswith("removed ")
    after = list(index_entries(archive))
    assert 0 < len(after) < len(before)
    per_url = Counter(entry.url for entry in after)
    # Beyond the newest, only a page's last copy with content survives (a 304 was newest).
    assert max(per_url.values()) <= 3
    for file in archive.glob("*.warc.gz"):
        assert check_file(file).torn is None
    for entry in after:
        assert read_response(archive, entry).status == entry.status
    # Every stored article's page still has a 200 capture.
    kept_200 = {entry.url for entry in after if entry.status == 200}
    for line in export.splitlines():
        assert json.loads(line)["url"] in kept_200

    # The pruned archive still reextracts the unchanged database to itself, offline.
    site.clear_log()
    summary = _ok("reextract", url=sqlite_url, tmp_path=tmp_path)
    assert "articles changed: 0 " in summary
    assert site.count() == 0
    assert _ok("export", url=sqlite_url, tmp_path=tmp_path) == export


def test_prune_refuses_zero(sqlite_url: str, tmp_path: Path) -> None:
    (tmp_path / "archive").mkdir()
    result = ecnews(
        "archive", "prune", "--keep-latest", "0", database_url=sqlite_url, tmp_path=tmp_path
    )
    assert result.returncode == 2
    assert result.stderr.strip() == "ecnews archive: --keep-latest must be at least 1"
