"""The WARC archive of real crawls of the snapshot, v1 then v2: what `warcio` reads, one
record per response, revisits for identical payloads, the bytes the server sent."""

from __future__ import annotations

import json
import subprocess
import sys
from collections import Counter
from typing import TYPE_CHECKING

import pytest
from warcio.archiveiterator import ArchiveIterator

from crawler.archive.store import check_file, index_entries, read_response
from crawler.urls import url_path
from tests.conftest import SITE, ecnews

if TYPE_CHECKING:
    from pathlib import Path

    from tests.siteserver import SiteServer

pytestmark = pytest.mark.slow


def _crawl(site: SiteServer, database_url: str, tmp_path: Path) -> None:
    result = ecnews(
        "crawl",
        "--base-url",
        site.url,
        "--mode",
        "full",
        database_url=database_url,
        tmp_path=tmp_path,
    )
    assert result.returncode == 0, result.stderr[-5000:]


def _warcio(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", "from warcio.cli import main; main()", *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_v1_then_v2_archive(site: SiteServer, sqlite_url: str, tmp_path: Path) -> None:
    archive = tmp_path / "archive"
    _crawl(site, sqlite_url, tmp_path)
    site.set_version("v2")
    _crawl(site, sqlite_url, tmp_path)
    files = sorted(archive.glob("*.warc.gz"))
    assert len(files) == 2, "one file per crawl (each far below ARCHIVE_MAX_BYTES)"

    # warcio's own tools read every file, digests included.
    for file in files:
        checked = _warcio("check", "-v", str(file))
        assert checked.returncode == 0, checked.stdout + checked.stderr
        indexed = _warcio("index", str(file))
        assert indexed.returncode == 0, indexed.stderr
        assert all(json.loads(line)["warc-type"] for line in indexed.stdout.splitlines())

    # One response (or revisit) record per response the server sent, each with its request.
    kinds: Counter[str] = Counter()
    revisit_digests: list[str] = []
    response_digests: set[str] = set()
    for file in files:
        with file.open("rb") as stream:
            for record in ArchiveIterator(stream):
                kinds[record.rec_type] += 1
                digest = record.rec_headers.get_header("WARC-Payload-Digest")
                if record.rec_type == "revisit":
                    revisit_digests.append(digest)
                    assert record.rec_headers.get_header("WARC-Refers-To-Target-URI")
                elif record.rec_type == "response":
                    response_digests.add(digest)
    answered = site.count(lambda entry: entry.status != 0)
    assert kinds["response"] + kinds["revisit"] == answered
    assert kinds["request"] == answered
    # robots.txt and the unchanged listings came again with the same bytes: revisits.
    assert revisit_digests, "no revisit record for identical payloads"
    assert set(revisit_digests) <= response_digests
    assert len(list(index_entries(archive))) == answered


def test_archived_bytes_are_the_served_files(
    site: SiteServer, sqlite_url: str, tmp_path: Path
) -> None:
    archive = tmp_path / "archive"
    _crawl(site, sqlite_url, tmp_path)
    site.set_version("v2")
    _crawl(site, sqlite_url, tmp_path)
    export = ecnews("export", database_url=sqlite_url, tmp_path=tmp_path)
    assert export.returncode == 0, export.stderr
    stored_paths = {
        url_path(url) for line in export.stdout.splitlines() for url in json.loads(line)["urls"]
    }
    runs = sorted({entry.file.rsplit("-", 1)[0] for entry in index_entries(archive)})
    version_of = dict(zip(runs, ("v1", "v2"), strict=True))
    checked = 0
    for entry in index_entries(archive):
        path = url_path(entry.url)
        if entry.status != 200 or path not in stored_paths:
            continue
        served = SITE / version_of[entry.file.rsplit("-", 1)[0]] / path.lstrip("/")
        assert read_response(archive, entry).body == served.read_bytes(), entry.url
        checked += 1
    assert checked >= len(stored_paths), "every stored article's page was archived"


def test_torn_last_record_is_skipped_and_reported(
    site: SiteServer, sqlite_url: str, tmp_path: Path
) -> None:
    archive = tmp_path / "archive"
    _crawl(site, sqlite_url, tmp_path)
    (file,) = archive.glob("*.warc.gz")
    whole = check_file(file)
    assert whole.torn is None
    data = file.read_bytes()
    file.write_bytes(data[: len(data) - 100])  # the last record cut, as by a crash
    cut = check_file(file)
    assert cut.torn is not None
    assert cut.records == whole.records - 1
    # The index still lists the cut record's response; everything before it reads back.
    entries = list(index_entries(archive))
    readable = [e for e in entries if e.offset + e.length <= len(data) - 100]
    for entry in readable:
        assert read_response(archive, entry).status == entry.status
