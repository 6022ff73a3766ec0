"""Reading the archive back: its index, one capture by one seek, whole files tolerantly.

Readers never write. A record the writer had not finished when it was killed (a torn
last record) is skipped and reported; a WARC whose index stops short (killed between the
record and its index line) is scanned from where its index ends.
"""

from __future__ import annotations

import datetime as dt
import io
import json
import logging
import zlib
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, BinaryIO

from warcio.archiveiterator import ArchiveIterator
from warcio.exceptions import ArchiveLoadFailed
from warcio.timeutils import datetime_to_iso_date
from warcio.utils import BUFF_SIZE

if TYPE_CHECKING:
    from collections.abc import Iterable, Iterator
    from pathlib import Path

logger = logging.getLogger(__name__)

WARC_GLOB = "*.warc.gz"
_INDEX_SUFFIX = ".cdxj"
# What a cut gzip member or a cut record raises inside warcio.
# 304 says "as before"; 408/429 and 5xx are passing failures, retried by the crawl.
_NO_CONTENT = frozenset({304, 408, 429})
_TORN = (ArchiveLoadFailed, zlib.error, EOFError, ValueError, OSError)


@dataclass(frozen=True, slots=True)
class IndexEntry:
    """One archived response: where its record is, what it was."""

    url: str
    status: int
    digest: str
    file: str
    offset: int
    length: int
    fetched_at: dt.datetime
    revisit: tuple[str, int, int] | None = None
    """(file, offset, length) of the record that holds the payload, for a revisit."""

    @property
    def warc_date(self) -> str:
        moment = self.fetched_at.astimezone(dt.UTC).replace(tzinfo=None)
        return str(datetime_to_iso_date(moment, use_micros=True))


@dataclass(frozen=True, slots=True)
class StoredResponse:
    url: str
    status: int
    protocol: str
    headers: list[tuple[str, str]]
    body: bytes
    """As the server sent it (still compressed if it was)."""


@dataclass(slots=True)
class FileReport:
    """What reading one WARC file found."""

    records: int = 0
    torn: str | None = None
    """Why reading stopped before the end of the file: its last record is incomplete."""


def index_entries(folder: Path) -> Iterator[IndexEntry]:
    """Every archived response under `folder`, file by file in name order (names start
    with their creation time), oldest first within a file."""
    for warc in sorted(folder.glob(WARC_GLOB)):
        yield from file_entries(warc)


def file_entries(warc: Path) -> Iterator[IndexEntry]:
    index = warc.with_name(warc.name.removesuffix(".warc.gz") + _INDEX_SUFFIX)
    end = 0
    originals: dict[str, tuple[str, int, int]] = {}
    if index.exists():
        with index.open(encoding="utf-8", errors="replace") as lines:
            for number, line in enumerate(lines, 1):
                entry = _parse_line(line, warc.name)
                if entry is None:
                    logger.warning("Archive index %s line %d is incomplete: skipped", index, number)
                    continue
                end = max(end, entry.offset + entry.length)
                if entry.revisit is None and entry.digest:
                    originals.setdefault(entry.digest, (entry.file, entry.offset, entry.length))
                yield entry
    if warc.stat().st_size > end:
        # The index stops short: the rest of the file holds records it does not list.
        yield from _scan_entries(warc, end, originals)


def _parse_line(line: str, file: str) -> IndexEntry | None:
    _, _, rest = line.partition(" ")
    _, _, data = rest.partition(" ")
    try:
        fields = json.loads(data)
        revisit = fields.get("revisit")
        return IndexEntry(
            url=str(fields["url"]),
            status=int(fields["status"]),
            digest=str(fields.get("digest") or ""),
            file=str(fields.get("file") or file),
            offset=int(fields["offset"]),
            length=int(fields["length"]),
            fetched_at=dt.datetime.fromisoformat(fields["fetched_at"]),
            revisit=(str(revisit["file"]), int(revisit["offset"]), int(revisit["length"]))
            if revisit
            else None,
        )
    except (ValueError, KeyError, TypeError):
        return None


def _scan_entries(
    warc: Path, start: int, originals: dict[str, tuple[str, int, int]]
) -> Iterator[IndexEntry]:
    """Index entries for the records of `warc` from byte `start` on (an index cut short);
    `originals`: digest -> place of the payloads its index lists, for revisits."""
    with warc.open("rb") as stream:
        stream.seek(start)
        for record, offset, length in _records(stream, warc.name, start):
            if record.rec_type not in ("response", "revisit") or record.http_headers is None:
                continue
            digest = record.rec_headers.get_header("WARC-Payload-Digest") or ""
            revisit = None
            if record.rec_type == "revisit":
                revisit = originals.get(digest)
                if revisit is None:
                    continue  # its payload is in an earlier file: not resolvable here
            else:
                originals.setdefault(digest, (warc.name, offset, length))
            yield IndexEntry(
                url=record.rec_headers.get_header("WARC-Target-URI"),
                status=int(record.http_headers.get_statuscode() or 0),
                digest=digest,
                file=warc.name,
                offset=offset,
                length=length,
                fetched_at=_parse_warc_date(record.rec_headers.get_header("WARC-Date")),
                revisit=revisit,
            )


def _parse_warc_date(value: str) -> dt.datetime:
    return dt.datetime.fromisoformat(value)


class Torn(Exception):
    """A gzip member that ends before its end: the record a crash cut short."""


def _members(stream: BinaryIO, start: int) -> Iterator[tuple[int, int, bytes]]:
    """(offset, compressed length, content) of each complete gzip member from `start`;
    raises Torn at a member that is cut short or is not gzip at all."""
    offset, used, parts = start, 0, []
    inflater = zlib.decompressobj(zlib.MAX_WBITS | 16)
    pending = b""
    while chunk := pending or stream.read(BUFF_SIZE):
        pending = b""
        try:
            parts.append(inflater.decompress(chunk))
        except zlib.error as error:
            raise Torn(f"at byte {offset}: {error}") from error
        if not inflater.eof:
            used += len(chunk)
            continue
        used += len(chunk) - len(inflater.unused_data)
        yield offset, used, b"".join(parts)
        offset, used, parts = offset + used, 0, []
        pending = inflater.unused_data
        inflater = zlib.decompressobj(zlib.MAX_WBITS | 16)
    if used or any(parts):
        raise Torn(f"at byte {offset}: the last record ends early")


def _records(stream: BinaryIO, name: str, start: int = 0) -> Iterator[tuple[Any, int, int]]:
    """(record, offset, length) of each complete record; a torn tail is logged and ends it."""
    count = 0
    try:
        for offset, length, content in _members(stream, start):
            count += 1
            yield _parse(content), offset, length
    except Torn as torn:
        logger.warning("Archive %s: record %d is torn (%s): skipped", name, count + 1, torn)


def _parse(content: bytes) -> Any:
    """The WARC record (warcio's, untyped) a gzip member holds."""
    try:
        return next(iter(ArchiveIterator(io.BytesIO(content))))
    except (ArchiveLoadFailed, StopIteration, ValueError) as error:
        raise Torn(f"not a WARC record: {error}") from error


def check_file(warc: Path) -> FileReport:
    """Read every record of `warc`; a torn last record is reported, not raised."""
    report = FileReport()
    with warc.open("rb") as stream:
        try:
            # A member that inflates to its end passed gzip's CRC and length check.
            for _offset, _length, content in _members(stream, 0):
                _parse(content)
                report.records += 1
        except Torn as torn:
            report.torn = f"record {report.records + 1} is incomplete ({torn})"
    return report


def read_response(folder: Path, entry: IndexEntry) -> StoredResponse:
    """The archived response of `entry`: one seek (two for a revisit)."""
    record = _record_at(folder, entry.file, entry.offset, entry.length)
    headers = record.http_headers
    if entry.revisit is not None:
        body = _record_at(folder, *entry.revisit).raw_stream.read()
    else:
        body = record.raw_stream.read()
    return StoredResponse(
        url=entry.url,
        status=int(headers.get_statuscode() or 0),
        protocol=str(headers.protocol or "HTTP/1.1"),
        headers=[(str(k), str(v)) for k, v in headers.headers],
        body=bytes(body),
    )


def _record_at(folder: Path, file: str, offset: int, length: int) -> Any:
    """The record (warcio's ArcWarcRecord, untyped) stored at this place."""
    with (folder / file).open("rb") as stream:
        stream.seek(offset)
        data = stream.read(length)
    return next(iter(ArchiveIterator(io.BytesIO(data))))


def has_content(entry: IndexEntry) -> bool:
    """Whether the capture holds the page itself (not a 304, not a passing failure)."""
    return entry.status not in _NO_CONTENT and entry.status < 500


def index_line(entry: IndexEntry) -> str:
    """The CDXJ line of an entry: URL, 14-digit UTC time, then the fields as JSON."""
    fields: dict[str, object] = {
        "url": entry.url,
        "status": entry.status,
        "digest": entry.digest,
        "file": entry.file,
        "offset": entry.offset,
        "length": entry.length,
        "fetched_at": entry.fetched_at.isoformat(),
    }
    if entry.revisit is not None:
        file, offset, length = entry.revisit
        fields["revisit"] = {"file": file, "offset": offset, "length": length}
    stamp = entry.fetched_at.astimezone(dt.UTC).strftime("%Y%m%d%H%M%S")
    return f"{entry.url} {stamp} {json.dumps(fields, ensure_ascii=False)}\n"


def latest(
    entries: Iterable[IndexEntry], *, until: dt.datetime | None = None, ok: bool = False
) -> dict[str, IndexEntry]:
    """Per URL, the newest capture of the page itself (not a 304 or a passing failure),
    captured at or before `until`; with `ok`, the newest 2xx (a deleted page's last copy)."""
    found: dict[str, IndexEntry] = {}
    for entry in entries:
        if not has_content(entry) or (ok and not 200 <= entry.status < 300):
            continue  # unchanged, or a passing failure: the page itself is elsewhere
        if until is not None and entry.fetched_at > until:
            continue
        known = found.get(entry.url)
        if known is None or entry.fetched_at >= known.fetched_at:
            found[entry.url] = entry
    return found
