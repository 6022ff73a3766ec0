"""Which capture a replay answers with, and what a cut WARC file still gives back."""

from __future__ import annotations

import datetime as dt
import time
from typing import TYPE_CHECKING

import pytest

from crawler.archive.capture import Capture
from crawler.archive.store import IndexEntry, check_file, index_entries, latest, read_response
from crawler.archive.writer import HANDOFF_CAPTURES, ArchiveWriter

if TYPE_CHECKING:
    from pathlib import Path

T0 = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
URL = "http://127.0.0.1:1/news/a.html"


def _entry(status: int, minute: int) -> IndexEntry:
    return IndexEntry(
        URL, status, "sha1:X", "f.warc.gz", minute * 100, 10, T0 + dt.timedelta(minutes=minute)
    )


@pytest.mark.parametrize(
    ("statuses", "until", "ok", "chosen"),
    [
        ([200, 200], None, False, 1),
        ([200, 304], None, False, 0),
        ([200, 503], None, False, 0),
        ([200, 429], None, False, 0),
        ([200, 404], None, False, 1),
        ([200, 404], None, True, 0),
        ([200, 200], 0, False, 0),
        ([304], None, False, None),
    ],
    ids=[
        "newest-wins",
        "304-means-as-before",
        "5xx-is-passing",
        "429-is-passing",
        "404-is-the-page-now",
        "last-copy-skips-404",
        "until-cuts-later-captures",
        "only-304-no-capture",
    ],
)
def test_latest_capture(
    statuses: list[int], until: int | None, ok: bool, chosen: int | None
) -> None:
    entries = [_entry(status, minute) for minute, status in enumerate(statuses)]
    cutoff = None if until is None else T0 + dt.timedelta(minutes=until)
    found = latest(entries, until=cutoff, ok=ok).get(URL)
    assert found == (None if chosen is None else entries[chosen])


def _capture(body: bytes, status: int = 200) -> Capture:
    return Capture(
        url=URL,
        method="GET",
        request_headers=[("User-Agent", "test")],
        status=status,
        protocol="HTTP/1.1",
        response_headers=[("Content-Type", "text/html"), ("Transfer-Encoding", "chunked")],
        body=body,
        fetched_at=dt.datetime.now(dt.UTC),
    )


@pytest.mark.process  # the archive writer is a child process
def test_writer_round_trip_revisit_and_cut_files(tmp_path: Path) -> None:
    writer = ArchiveWriter(tmp_path, queue_size=8)
    writer.start()
    page = "<html>页面</html>".encode()
    for capture in (_capture(page), _capture(page), _capture(b"", 304)):
        assert writer.put(capture)
    assert writer.close(timeout=30)
    assert writer.failed is None
    assert (writer.records, writer.revisits) == (3, 1)
    entries = list(index_entries(tmp_path))
    assert [e.revisit is not None for e in entries] == [False, True, False]
    stored = read_response(tmp_path, entries[1])
    assert stored.body == page  # the revisit's payload, from the first record
    assert ("X-Archive-Orig-Transfer-Encoding", "chunked") in stored.headers

    (file,) = tmp_path.glob("*.warc.gz")
    whole = check_file(file)
    assert (whole.records, whole.torn) == (6, None)
    data = file.read_bytes()
    for cut in (1, 20, entries[2].offset - entries[1].offset):
        file.write_bytes(data[:-cut])
        report = check_file(file)
        assert report.torn is not None, cut
        assert report.records < whole.records
    # An index that stops short: the scan of the file's tail finds the records it lacks.
    file.write_bytes(data)
    index = file.with_name(file.name.removesuffix(".warc.gz") + ".cdxj")
    lines = index.read_text("utf-8").splitlines(keepends=True)
    index.write_text(lines[0] + lines[1][:10], "utf-8")
    assert [e.status for e in index_entries(tmp_path)] == [200, 200, 304]


@pytest.mark.process  # the archive writer is a child process
def test_writer_hands_captures_over_in_batches_and_loses_none(tmp_path: Path) -> None:
    """Full batches go as they fill, a partial one on flush or close; every capture is
    written once, in order, and a queue with no room says so instead of growing."""
    writer = ArchiveWriter(tmp_path, queue_size=HANDOFF_CAPTURES * 4)
    count = HANDOFF_CAPTURES * 4 + 5
    captures = [_capture(f"<p>{n}</p>".encode()) for n in range(count)]
    # Not started: nothing drains the queue, so the put that finds it full is refused.
    accepted = 0
    while accepted < count and writer.put(captures[accepted]):
        accepted += 1
    assert HANDOFF_CAPTURES * 3 <= accepted < count
    writer.start()
    try:
        for capture in captures[accepted:]:
            deadline = time.monotonic() + 30
            while not writer.put(capture):
                assert time.monotonic() < deadline, "the child never made room"
                time.sleep(0.01)
        deadline = time.monotonic() + 30
        while not writer.flush():  # the partial batch, once the child has made room
            assert time.monotonic() < deadline, "the child never made room"
            time.sleep(0.01)
    finally:
        assert writer.close(timeout=30)
    assert (writer.failed, writer.records, writer.lost) == (None, count, 0)
    bodies = [read_response(tmp_path, entry).body for entry in index_entries(tmp_path)]
    assert bodies == [capture.body for capture in captures]
