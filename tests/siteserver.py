"""A real HTTP server for the site snapshot in ``tests/fixtures/site`` (stdlib only).

Used by the crawl and end-to-end tests, by ``make crawl`` and by benchmarks::

    with SiteServer(Path("tests/fixtures/site"), "v1") as site:
        crawl(site.url + "/")
        site.set_version("v2")          # same port, fault counters kept
        assert site.requests_for("/robots.txt")

    python -m tests.siteserver --root tests/fixtures/site --version v1 [--port 8765]

It behaves like the real site (see ``tests/fixtures/site/README.md``):

- every URL path is a file of ``<root>/<version>/``; ``/`` and any ``…/`` URL serve that
  folder's ``index.html``; a folder URL without its slash is a 301 to it (query kept); any
  other missing path is a 404 with a small HTML page. The query string never selects a
  file. Paths are percent-decoded before lookup; dot segments are not resolved; a leading
  ``//`` is collapsed to ``/`` (http.server does it, as Apache's MergeSlashes would).
- bytes are served unchanged with ``Content-Type: text/html`` (no charset) for ``.html``,
  ``text/plain`` for ``.txt`` (``robots.txt``), others by extension (``application/pdf``,
  ``image/jpeg`` …), ``application/octet-stream`` when unknown.
- ``Last-Modified`` comes from ``manifest.json`` (``snapshots.<version>.files[]``); files
  not in it (and all ``overlay`` files) use their mtime. ``ETag`` is strong: the quoted
  SHA-256 hex of the bytes, so it equals the manifest's ``sha256``.
- ``304 Not Modified`` answers a matching ``If-None-Match`` (weak comparison, lists, ``*``),
  or, only when there is none, an ``If-Modified-Since`` at or after ``Last-Modified``.
- GET and HEAD; other methods get http.server's own 501. HTTP/1.1 keep-alive with exact
  ``Content-Length``. Everything is loaded into memory at ``start()`` / ``set_version()``.
- listens on loopback only; silent unless ``verbose=True`` (access lines on stderr).

Faults are keyed by URL path (query ignored), from ``<root>/faults.json`` unless ``faults``
is given, or added with ``add_fault(path, **fault)`` (which replaces that path's fault and
restarts its counter). A path's counter counts every request for it since the server
started or since ``reset_faults()``; ``set_version()`` keeps it. For request number *n*:

``delay_ms: D``
    every response (of any kind) is sent D ms late.
``reset: N``
    requests 1…N: the connection is closed with a TCP RST and no response at all.
``truncate: N``
    the next N requests: the full ``Content-Length`` is announced, half the body is sent,
    then the connection is closed.
``fail_first: N, status: S, retry_after: R``
    the next N requests are answered with status S (default 503) and a small HTML page,
    with ``Retry-After: R`` (seconds) when R is given, e.g. for 429/503.
``redirect: "URL", status: S``
    every other request is answered with S (default 302; must be 3xx) and
    ``Location: URL`` as given: relative, off-site or a loop, the server does not check.
``body_bytes: N``
    the path serves a generated, valid UTF-8 HTML page of exactly N bytes (ETag
    ``"gen-N"``), streamed in 64 KiB chunks so it is never held in memory, even once.
``content_type: "…"``
    overrides the ``Content-Type`` of the path's 200 responses.
``length_in_chars: true``
    a broken server's ``Content-Length``: the page's length in characters, not bytes, and
    only that many bytes are sent (a UTF-8 page with Chinese text arrives cut short).

The windows follow one another (reset, then truncate, then fail_first), so
``{"reset": 1, "fail_first": 2}`` resets request 1, fails 2 and 3, serves 4. ``redirect``
and ``fail_first`` cannot share a path (they would share ``status``).

Every request that gets as far as a method is appended to ``log`` as a ``LoggedRequest``
*before* its response is written (so a client that has its answer always finds it logged);
``time`` is when it arrived (``time.time()``), ``status`` is 0 for a ``reset``.
"""

import argparse
import contextlib
import hashlib
import html
import ipaddress
import json
import logging
import mimetypes
import signal
import socket
import struct
import sys
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import formatdate, parsedate_to_datetime
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import FrameType, TracebackType
from typing import Any, Self
from urllib.parse import unquote, urlsplit

logger = logging.getLogger(__name__)

DEFAULT_ROOT = Path(__file__).resolve().parent / "fixtures" / "site"

# Generated pages and unknown dates get a fixed, plausible Last-Modified.
_FIXED_DATE = "Wed, 01 Jan 2025 00:00:00 GMT"

# Explicit where the README fixes the type; mimetypes' answer varies with /etc/mime.types.
_CONTENT_TYPES = {
    ".html": "text/html",
    ".htm": "text/html",
    ".txt": "text/plain",
    ".pdf": "application/pdf",
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
    ".png": "image/png",
    ".gif": "image/gif",
    ".css": "text/css",
    ".js": "text/javascript",
    ".json": "application/json",
    ".xml": "application/xml",
}

_GEN_HEAD = (
    b'<!DOCTYPE html>\n<html><head><meta charset="utf-8"><title>big</title></head>\n<body>\n'
)
_GEN_TAIL = b"</body></html>\n"
_GEN_UNIT = "<p>这是一段用于测试超大页面的填充文字。</p>\n".encode()
_GEN_CHUNK = _GEN_UNIT * (64 * 1024 // len(_GEN_UNIT))  # whole units: never splits a character

_FAULT_KEYS = frozenset(
    {
        "fail_first",
        "status",
        "retry_after",
        "delay_ms",
        "reset",
        "truncate",
        "redirect",
        "body_bytes",
        "content_type",
        "length_in_chars",
    }
)


@dataclass(frozen=True, slots=True)
class LoggedRequest:
    """One request as the server saw it."""

    method: str
    path: str
    """The URL path as sent (still percent-encoded), without the query."""
    query: str
    status: int
    """The status answered; 0 when the connection was reset without a response."""
    if_none_match: str | None
    if_modified_since: str | None
    user_agent: str | None
    time: float
    """When the request arrived, as ``time.time()``."""


@dataclass(frozen=True, slots=True)
class Fault:
    """A parsed fault spec; see the module docstring."""

    fail_first: int = 0
    status: int = 503
    retry_after: int | None = None
    delay_ms: float = 0
    reset: int = 0
    truncate: int = 0
    redirect: str | None = None
    redirect_status: int = 302
    body_bytes: int | None = None
    content_type: str | None = None
    length_in_chars: bool = False

    @classmethod
    def parse(cls, path: str, spec: Mapping[str, Any]) -> Self:
        unknown = set(spec) - _FAULT_KEYS
        if unknown:
            raise ValueError(f"fault for {path}: unknown keys {sorted(unknown)}")
        if "redirect" in spec and "fail_first" in spec:
            raise ValueError(f"fault for {path}: redirect and fail_first both use 'status'")
        if "retry_after" in spec and "fail_first" not in spec:
            raise ValueError(f"fault for {path}: retry_after needs fail_first")
        if "status" in spec and "fail_first" not in spec and "redirect" not in spec:
            raise ValueError(f"fault for {path}: status needs fail_first or redirect")
        redirect = spec.get("redirect")
        if redirect is not None and not isinstance(redirect, str):
            raise ValueError(f"fault for {path}: redirect must be a URL string")
        content_type = spec.get("content_type")
        if content_type is not None and not isinstance(content_type, str):
            raise ValueError(f"fault for {path}: content_type must be a string")
        delay = spec.get("delay_ms", 0)
        if isinstance(delay, bool) or not isinstance(delay, int | float) or delay < 0:
            raise ValueError(f"fault for {path}: delay_ms must be a number >= 0")
        status = _int(spec, "status", path, 100, 599)
        if redirect is not None and status is not None and not 300 <= status < 400:
            raise ValueError(f"fault for {path}: a redirect status must be 3xx")
        return cls(
            fail_first=_int(spec, "fail_first", path) or 0,
            status=status if status is not None and redirect is None else 503,
            retry_after=_int(spec, "retry_after", path),
            delay_ms=delay,
            reset=_int(spec, "reset", path) or 0,
            truncate=_int(spec, "truncate", path) or 0,
            redirect=redirect,
            redirect_status=status if status is not None and redirect is not None else 302,
            body_bytes=_int(spec, "body_bytes", path),
            content_type=content_type,
            length_in_chars=bool(spec.get("length_in_chars", False)),
        )


def _int(
    spec: Mapping[str, Any], key: str, path: str, low: int = 0, high: int | None = None
) -> int | None:
    value = spec.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < low:
        raise ValueError(f"fault for {path}: {key} must be an integer >= {low}")
    if high is not None and value > high:
        raise ValueError(f"fault for {path}: {key} must be <= {high}")
    return value


@dataclass(frozen=True, slots=True)
class _Resource:
    size: int
    etag: str
    last_modified: str
    modified_at: datetime
    content_type: str
    body: bytes | None
    """None for a generated page, streamed by ``_generated_chunks``."""

    def chunks(self) -> Iterable[bytes]:
        return (self.body,) if self.body is not None else _generated_chunks(self.size)


@dataclass(frozen=True, slots=True)
class _Snapshot:
    files: Mapping[str, _Resource]
    folders: frozenset[str]
    """Every folder holding a file, as ``/a/b/``; used for the missing-slash redirect."""


@dataclass(slots=True)
class _Reply:
    status: int
    headers: list[tuple[str, str]] = field(default_factory=list)
    resource: _Resource | None = None
    page: bytes = b""
    """The body when there is no resource (errors, redirects)."""
    truncate: bool = False
    reset: bool = False
    length_in_chars: bool = False


def _content_type(name: str) -> str:
    suffix = Path(name).suffix.lower()
    if suffix in _CONTENT_TYPES:
        return _CONTENT_TYPES[suffix]
    guessed, _ = mimetypes.guess_type(name, strict=False)
    return guessed or "application/octet-stream"


def _http_date(value: str) -> datetime:
    parsed = parsedate_to_datetime(value)
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _file_resource(file: Path, last_modified: str | None) -> _Resource:
    body = file.read_bytes()
    if last_modified is None:
        last_modified = formatdate(file.stat().st_mtime, usegmt=True)
    return _Resource(
        size=len(body),
        etag=f'"{hashlib.sha256(body).hexdigest()}"',
        last_modified=last_modified,
        modified_at=_http_date(last_modified),
        content_type=_content_type(file.name),
        body=body,
    )


def _generated_resource(size: int) -> _Resource:
    return _Resource(
        size=size,
        etag=f'"gen-{size}"',
        last_modified=_FIXED_DATE,
        modified_at=_http_date(_FIXED_DATE),
        content_type="text/html",
        body=None,
    )


def _generated_chunks(size: int) -> Iterator[bytes]:
    """Exactly ``size`` bytes of valid UTF-8 HTML, at most 64 KiB at a time."""
    middle = size - len(_GEN_HEAD) - len(_GEN_TAIL)
    if middle < 0:  # too small for a page: plain padding
        yield b" " * size
        return
    yield _GEN_HEAD
    full, rest = divmod(middle, len(_GEN_CHUNK))
    for _ in range(full):
        yield _GEN_CHUNK
    units, spaces = divmod(rest, len(_GEN_UNIT))
    yield _GEN_UNIT * units + b" " * spaces
    yield _GEN_TAIL


def _small_page(status: int, text: str) -> bytes:
    try:
        title = f"{status} {HTTPStatus(status).phrase}"
    except ValueError:
        title = str(status)
    return (
        f'<!DOCTYPE html>\n<html><head><meta charset="utf-8"><title>{title}</title></head>'
        f"<body><h1>{title}</h1><p>{html.escape(text)}</p></body></html>\n"
    ).encode()


def _load_snapshot(base: Path, dates: Mapping[str, str], overlay: Path | None) -> _Snapshot:
    files: dict[str, _Resource] = {}
    for folder, manifest in ((base, dates), (overlay, {})):
        if folder is None:
            continue
        for file in sorted(folder.rglob("*")):
            if file.is_file():
                url_path = "/" + file.relative_to(folder).as_posix()
                files[url_path] = _file_resource(file, manifest.get(url_path))
    folders = {"/"}
    for url_path in files:
        parts = url_path.split("/")[1:-1]
        folders.update("/" + "/".join(parts[:i]) + "/" for i in range(1, len(parts) + 1))
    return _Snapshot(files=files, folders=frozenset(folders))


def _split_target(target: str) -> tuple[str, str]:
    """Path and query of a request target (http.server has already collapsed a leading ``//``)."""
    if not target.startswith("/"):  # absolute form, as sent to a proxy
        split = urlsplit(target)
        return split.path or "/", split.query
    path, _, query = target.partition("#")[0].partition("?")
    return path, query


def _loopback(host: str) -> str:
    if host == "localhost":
        return "127.0.0.1"
    try:
        address = ipaddress.ip_address(host)
    except ValueError as exc:
        raise ValueError(f"host must be a loopback address, not {host!r}") from exc
    if not address.is_loopback:
        raise ValueError(f"host must be a loopback address, not {host!r}")
    return host


class _HTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    # stop() closes live connections itself; joining would wait on idle keep-alive clients.
    block_on_close = False
    # The default backlog of 5 drops SYNs under a crawl's burst of connections.
    request_queue_size = 1024

    def __init__(self, address: tuple[str, int], site: "SiteServer") -> None:
        self.site = site
        self.connections: set[socket.socket] = set()
        self.connections_lock = threading.Lock()
        if ":" in address[0]:
            self.address_family = socket.AF_INET6
        super().__init__(address, _Handler)

    def process_request(self, request: Any, client_address: Any) -> None:
        with self.connections_lock:
            self.connections.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request: Any) -> None:
        with self.connections_lock:
            self.connections.discard(request)
        super().shutdown_request(request)

    def close_connections(self) -> None:
        with self.connections_lock:
            live = list(self.connections)
        for conn in live:
            with contextlib.suppress(OSError):  # already gone
                conn.shutdown(socket.SHUT_RDWR)

    def handle_error(self, request: Any, client_address: Any) -> None:
        # Clients hanging up (aborted big downloads, stop() mid-request) are routine.
        # socketserver calls this inside its except block, so exc_info() is the error.
        error = sys.exc_info()[1]
        if isinstance(error, OSError):
            logger.debug("siteserver: connection error from %s", client_address, exc_info=error)
            return
        logger.error("siteserver: error serving %s", client_address, exc_info=error)


class _Handler(BaseHTTPRequestHandler):
    server: _HTTPServer
    protocol_version = "HTTP/1.1"
    server_version = "ecnews-siteserver/1.0"
    # One buffered write per response, and no Nagle/delayed-ACK stalls on keep-alive.
    wbufsize = 64 * 1024
    disable_nagle_algorithm = True
    timeout = 60  # idle keep-alive connections are dropped, like a real server would
    _rst = False

    def do_GET(self) -> None:
        self._serve(head=False)

    def do_HEAD(self) -> None:
        self._serve(head=True)

    def version_string(self) -> str:
        return self.server_version  # without the "Python/3.x" that http.server appends

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 -- base class name
        if self.server.site.verbose:
            super().log_message(format, *args)

    def finish(self) -> None:
        super().finish()
        if self._rst:
            # SO_LINGER 0: close() sends RST instead of FIN, like a crashed upstream.
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            self.connection.close()

    def _serve(self, *, head: bool) -> None:
        arrived = time.time()
        site = self.server.site
        raw_path, query = _split_target(self.path)
        reply = self._plan(site, unquote(raw_path), raw_path, query)
        site._record(
            LoggedRequest(
                method=self.command,
                path=raw_path,
                query=query,
                status=reply.status,
                if_none_match=self.headers.get("If-None-Match"),
                if_modified_since=self.headers.get("If-Modified-Since"),
                user_agent=self.headers.get("User-Agent"),
                time=arrived,
            )
        )
        self._send(reply, head=head)

    def _plan(self, site: "SiteServer", path: str, raw_path: str, query: str) -> _Reply:
        fault = site._faults.get(path)
        if fault is None:
            return self._resolve(site, path, raw_path, query)
        n = site._hit(path)
        if fault.delay_ms:
            time.sleep(fault.delay_ms / 1000)
        if n <= fault.reset:
            return _Reply(0, reset=True)
        truncate = n <= fault.reset + fault.truncate
        if not truncate and n <= fault.reset + fault.truncate + fault.fail_first:
            reply = self._page(fault.status, f"Injected failure for {path}.")
            if fault.retry_after is not None:
                reply.headers.append(("Retry-After", str(fault.retry_after)))
        elif fault.redirect is not None:
            reply = self._page(fault.redirect_status, f"Moved to {fault.redirect}.")
            reply.headers.append(("Location", fault.redirect))
        elif fault.body_bytes is not None:
            reply = self._resource(site._generated(fault.body_bytes), fault.content_type)
        else:
            reply = self._resolve(site, path, raw_path, query, fault.content_type)
            reply.length_in_chars = fault.length_in_chars
        reply.truncate = truncate
        return reply

    def _resolve(
        self,
        site: "SiteServer",
        path: str,
        raw_path: str,
        query: str,
        content_type: str | None = None,
    ) -> _Reply:
        snapshot = site._snapshot
        resource = snapshot.files.get(path + "index.html" if path.endswith("/") else path)
        if resource is not None:
            return self._resource(resource, content_type)
        if not path.endswith("/") and path + "/" in snapshot.folders:
            location = f"{site.url}{raw_path}/" + (f"?{query}" if query else "")
            reply = self._page(301, f"Moved to {location}.")
            reply.headers.append(("Location", location))
            return reply
        return self._page(404, f"The page {path} does not exist.")

    def _resource(self, resource: _Resource, content_type: str | None) -> _Reply:
        headers = [("Last-Modified", resource.last_modified), ("ETag", resource.etag)]
        if self._not_modified(resource):
            return _Reply(304, headers)
        headers.insert(0, ("Content-Type", content_type or resource.content_type))
        return _Reply(200, headers, resource=resource)

    def _not_modified(self, resource: _Resource) -> bool:
        if_none_match = self.headers.get("If-None-Match")
        if if_none_match is not None:
            # Weak comparison, as RFC 9110 prescribes for If-None-Match.
            tags = {tag.strip().removeprefix("W/") for tag in if_none_match.split(",")}
            return "*" in tags or resource.etag in tags
        if_modified_since = self.headers.get("If-Modified-Since")
        if if_modified_since is None:
            return False
        try:
            since = _http_date(if_modified_since)
        except (TypeError, ValueError):
            return False  # an unparsable date is ignored, per RFC 9110
        return since >= resource.modified_at

    @staticmethod
    def _page(status: int, text: str) -> _Reply:
        return _Reply(status, [("Content-Type", "text/html")], page=_small_page(status, text))

    def _send(self, reply: _Reply, *, head: bool) -> None:
        if reply.reset:
            self._rst = True
            self.close_connection = True
            return
        self.send_response(reply.status)
        for name, value in reply.headers:
            self.send_header(name, value)
        resource = reply.resource
        size = resource.size if resource is not None else len(reply.page)
        if reply.length_in_chars and resource is not None and resource.body is not None:
            size = len(resource.body.decode("utf-8", "replace"))
        if reply.status != 304:
            self.send_header("Content-Length", str(size))
        self.end_headers()
        if reply.truncate:
            self.close_connection = True
        if head or reply.status == 304:
            return
        chunks = resource.chunks() if resource is not None else (reply.page,)
        limit = size // 2 if reply.truncate else size
        for chunk in chunks:
            if limit <= 0:
                break
            self.wfile.write(memoryview(chunk)[:limit])
            limit -= len(chunk)


class SiteServer:
    """The snapshot served over HTTP on loopback; see the module docstring."""

    def __init__(
        self,
        root: Path,
        version: str = "v1",
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        faults: dict[str, dict[str, Any]] | None = None,
        overlay: Path | None = None,
        verbose: bool = False,
    ) -> None:
        self.root = Path(root)
        self.host = _loopback(host)
        self.port = port
        self.overlay = overlay
        self.verbose = verbose
        self.log: list[LoggedRequest] = []
        self._lock = threading.Lock()
        self._dates = self._read_manifest()
        self._check_version(version)
        self._version = version
        self._snapshot = _Snapshot(files={}, folders=frozenset())
        if faults is None:
            faults_file = self.root / "faults.json"
            faults = json.loads(faults_file.read_text("utf-8")) if faults_file.exists() else {}
        self._faults = {path: Fault.parse(path, spec) for path, spec in faults.items()}
        self._hits: dict[str, int] = {}
        self._generated_cache: dict[int, _Resource] = {}
        self._httpd: _HTTPServer | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle ---------------------------------------------------------------------

    def start(self) -> None:
        if self._httpd is not None:
            raise RuntimeError("SiteServer already started")
        self._snapshot = self._load(self._version)
        self._httpd = _HTTPServer((self.host, self.port), self)
        self.port = self._httpd.server_address[1]
        # A short poll interval keeps stop() (and so every test teardown) quick.
        self._thread = threading.Thread(
            target=self._httpd.serve_forever,
            kwargs={"poll_interval": 0.01},
            name=f"siteserver:{self.port}",
            daemon=True,
        )
        self._thread.start()

    def stop(self) -> None:
        httpd, thread = self._httpd, self._thread
        if httpd is None or thread is None:
            return
        httpd.shutdown()
        httpd.close_connections()
        httpd.server_close()
        thread.join()
        self._httpd = self._thread = None

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    @property
    def url(self) -> str:
        if self._httpd is None:
            raise RuntimeError("SiteServer not started")
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    @property
    def version(self) -> str:
        return self._version

    def set_version(self, version: str) -> None:
        """Serve another snapshot from now on, on the same port; fault counters are kept."""
        self._check_version(version)
        if self._httpd is not None:
            self._snapshot = self._load(version)  # one reference swap: requests see old or new
        self._version = version

    # -- faults ------------------------------------------------------------------------

    def add_fault(self, path: str, **fault: Any) -> None:
        """Give ``path`` this fault (replacing any other) and restart its counter."""
        parsed = Fault.parse(path, fault)
        with self._lock:
            self._faults = {**self._faults, path: parsed}
            self._hits.pop(path, None)

    def reset_faults(self) -> None:
        """Restart every path's request counter, so the faults apply afresh."""
        with self._lock:
            self._hits.clear()

    def clear_faults(self) -> None:
        """Remove every fault, including those from faults.json."""
        with self._lock:
            self._faults = {}
            self._hits.clear()

    # -- request log -------------------------------------------------------------------

    def requests_for(self, path: str) -> list[LoggedRequest]:
        """Logged requests for ``path`` (a query in it is ignored), oldest first."""
        path = urlsplit(path).path
        with self._lock:
            return [entry for entry in self.log if entry.path == path]

    def count(self, predicate: Callable[[LoggedRequest], bool] | None = None) -> int:
        with self._lock:
            if predicate is None:
                return len(self.log)
            return sum(1 for entry in self.log if predicate(entry))

    def clear_log(self) -> None:
        with self._lock:
            self.log.clear()  # in place: callers may hold a reference to the list

    # -- internals used by the handler -------------------------------------------------

    def _record(self, entry: LoggedRequest) -> None:
        with self._lock:
            self.log.append(entry)

    def _hit(self, path: str) -> int:
        with self._lock:
            n = self._hits.get(path, 0) + 1
            self._hits[path] = n
            return n

    def _generated(self, size: int) -> _Resource:
        with self._lock:
            return self._generated_cache.setdefault(size, _generated_resource(size))

    def _read_manifest(self) -> dict[str, dict[str, str]]:
        manifest_file = self.root / "manifest.json"
        if not manifest_file.exists():
            return {}
        snapshots = json.loads(manifest_file.read_text("utf-8")).get("snapshots", {})
        return {
            version: {entry["path"]: entry["last_modified"] for entry in snapshot["files"]}
            for version, snapshot in snapshots.items()
        }

    def _check_version(self, version: str) -> None:
        if not (self.root / version).is_dir():
            raise FileNotFoundError(f"no snapshot {version!r} under {self.root}")

    def _load(self, version: str) -> _Snapshot:
        return _load_snapshot(self.root / version, self._dates.get(version, {}), self.overlay)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m tests.siteserver", description="Serve the site snapshot on loopback."
    )
    parser.add_argument("--root", type=Path, default=DEFAULT_ROOT, help="snapshot folder")
    parser.add_argument("--version", default="v1", help="v1 or v2 (default v1)")
    parser.add_argument("--host", default="127.0.0.1", help="a loopback address")
    parser.add_argument("--port", type=int, default=0, help="default: any free port")
    parser.add_argument("--overlay", type=Path, help="extra files served on top")
    parser.add_argument("--no-faults", action="store_true", help="ignore faults.json")
    parser.add_argument("--verbose", action="store_true", help="access log on stderr")
    args = parser.parse_args(argv)

    stopping = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stopping.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    server = SiteServer(
        args.root,
        args.version,
        host=args.host,
        port=args.port,
        faults={} if args.no_faults else None,
        overlay=args.overlay,
        verbose=args.verbose,
    )
    try:
        server.start()
    except OSError as exc:  # typically the port is taken
        print(f"siteserver: cannot listen on {args.host}:{args.port}: {exc}", file=sys.stderr)
        return 1
    try:
        print(f"serving {args.version} at {server.url}", flush=True)
        stopping.wait()
    finally:
        server.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
