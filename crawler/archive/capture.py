"""One fetch as the server answered it, and the WARC 1.1 records that keep it.

Each record is its own gzip member, so a file cut anywhere still reads back up to the
last complete record (``warcio`` and every WARC tool read such files).
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import io
import zlib
from dataclasses import dataclass
from http import HTTPStatus

from warcio.statusandheaders import StatusAndHeaders
from warcio.timeutils import datetime_to_iso_date
from warcio.warcwriter import WARCWriter

# Level 6: nearly level 9's size at a third of its time (warcio's own wrapper uses 9).
_GZIP_LEVEL = 6
# Headers that describe the transfer, not the payload: Scrapy has already undone them
# (a chunked body is stored whole), so they are kept under another name, as pywb does.
_TRANSFER_HEADERS = frozenset({"transfer-encoding"})
_RENAMED_PREFIX = "X-Archive-Orig-"


@dataclass(frozen=True, slots=True)
class Capture:
    """A request and the response the server sent for it, before any decoding."""

    url: str
    method: str
    request_headers: list[tuple[str, str]]
    status: int
    protocol: str
    """As the response line said it, e.g. ``HTTP/1.1``."""
    response_headers: list[tuple[str, str]]
    body: bytes
    """The payload as received: still compressed if the server compressed it."""
    fetched_at: dt.datetime
    """An aware UTC moment."""


@dataclass(frozen=True, slots=True)
class Original:
    """Where an earlier capture's payload is: a revisit record points at it."""

    url: str
    warc_date: str
    file: str
    offset: int
    length: int


def payload_digest(body: bytes) -> str:
    """The WARC-Payload-Digest of a body (``sha1:`` + base32, as warcio writes it)."""
    return "sha1:" + base64.b32encode(hashlib.sha1(body).digest()).decode("ascii")  # noqa: S324  # WARC's customary digest, not a security use


def warc_date(moment: dt.datetime) -> str:
    return str(
        datetime_to_iso_date(moment.astimezone(dt.UTC).replace(tzinfo=None), use_micros=True)
    )


def records(capture: Capture, digest: str, original: Original | None) -> tuple[bytes, bytes]:
    """The gzipped response (or revisit) record and the gzipped request record."""
    builder = WARCWriter(io.BytesIO(), gzip=False, warc_version="1.1")
    date = warc_date(capture.fetched_at)
    status_line = f"{capture.status} {_reason(capture.status)}".strip()
    http_headers = StatusAndHeaders(
        status_line, _stored_headers(capture.response_headers), protocol=capture.protocol
    )
    if original is None:
        response = builder.create_warc_record(
            capture.url,
            "response",
            payload=io.BytesIO(capture.body),
            length=len(capture.body),
            http_headers=http_headers,
            warc_headers_dict={"WARC-Date": date, "WARC-Payload-Digest": digest},
        )
    else:
        response = builder.create_revisit_record(
            capture.url,
            digest,
            original.url,
            original.warc_date,
            http_headers=http_headers,
            warc_headers_dict={"WARC-Date": date},
        )
    path = capture.url.split("://", 1)[-1].partition("/")[2]
    request = builder.create_warc_record(
        capture.url,
        "request",
        payload=io.BytesIO(b""),
        length=0,
        http_headers=StatusAndHeaders(
            f"{capture.method} /{path} HTTP/1.1",
            capture.request_headers,
            is_http_request=True,
        ),
        warc_headers_dict={
            "WARC-Date": date,
            "WARC-Concurrent-To": response.rec_headers.get_header("WARC-Record-ID"),
        },
    )
    return _gzipped(builder, response), _gzipped(builder, request)


def _gzipped(builder: WARCWriter, record: object) -> bytes:
    out = io.BytesIO()
    builder.out = out
    builder.write_record(record)
    compressor = zlib.compressobj(_GZIP_LEVEL, zlib.DEFLATED, zlib.MAX_WBITS + 16)
    return compressor.compress(out.getvalue()) + compressor.flush()


def _stored_headers(headers: list[tuple[str, str]]) -> list[tuple[str, str]]:
    return [
        (f"{_RENAMED_PREFIX}{name}" if name.lower() in _TRANSFER_HEADERS else name, value)
        for name, value in headers
    ]


def _reason(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return ""
