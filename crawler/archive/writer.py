"""Appends captures to WARC files on a thread of its own, so the reactor never waits on
the disk; the middleware only puts captures in a bounded queue.

Files are ``ecnews-<UTC time>-<host>-<pid>-<n>.warc.gz`` (several workers, several
machines: never one file), rotated once they pass ``max_bytes``. Beside each is its CDXJ
index, ``….cdxj``: one line per response, written once the record is on disk, so an index
line never points at a record that is not there. An identical payload seen before (in
this or an earlier file of the folder) becomes a ``revisit`` record pointing at it.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import queue
import socket
import threading
import time
from dataclasses import replace
from typing import TYPE_CHECKING

from crawler.archive.capture import Capture, Original, payload_digest, records
from crawler.archive.store import IndexEntry, index_entries, index_line

if TYPE_CHECKING:
    from pathlib import Path
    from typing import IO

logger = logging.getLogger(__name__)

WARC_SUFFIX = ".warc.gz"
INDEX_SUFFIX = ".cdxj"


class ArchiveWriter:
    def __init__(
        self,
        folder: Path,
        *,
        max_bytes: int = 256 * 1024 * 1024,
        queue_size: int = 256,
        fsync_seconds: float = 5.0,
    ) -> None:
        self.folder = folder
        self.max_bytes = max_bytes
        self.fsync_seconds = fsync_seconds
        self.queue: queue.Queue[Capture | None] = queue.Queue(maxsize=queue_size)
        self.failed: str | None = None
        """Why the archive cannot be written (a full disk…): the crawl closes on it."""
        self.records = 0
        self.revisits = 0
        self.bytes = 0
        self.lost = 0
        """Captures dropped after a failure (the run fails on the failure itself)."""
        self._originals: dict[str, Original] = {}
        self._warc: IO[bytes] | None = None
        self._index: IO[str] | None = None
        self._name = ""
        self._sequence = 0
        self._synced_at = 0.0
        self._thread = threading.Thread(target=self._run, name="ecnews-archive", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def put(self, capture: Capture) -> bool:
        """Queue a capture without waiting; False when the queue is full (a slow disk)."""
        try:
            self.queue.put_nowait(capture)
        except queue.Full:
            return False
        return True

    def close(self, timeout: float) -> bool:
        """Write what is queued, close the files; False if that took longer than timeout."""
        if self._thread.ident is None:
            return True  # never started: nothing was written
        deadline = time.monotonic() + timeout
        while True:
            try:
                self.queue.put(None, timeout=max(0.0, deadline - time.monotonic()))
                break
            except queue.Full:
                return False
        self._thread.join(max(0.0, deadline - time.monotonic()))
        return not self._thread.is_alive()

    # -- the writer thread ----------------------------------------------------------------

    def _run(self) -> None:
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            self._load_originals()
        except OSError as error:
            self._fail(error)
        while (capture := self.queue.get()) is not None:
            if self.failed is not None:
                self.lost += 1
                continue
            try:
                self._write(capture)
            except OSError as error:
                self._fail(error)
        try:
            self._close_files()
        except OSError as error:
            self._fail(error)

    def _fail(self, error: OSError) -> None:
        if self.failed is None:
            where = error.filename or self.folder
            self.failed = f"cannot write the archive {where}: {error.strerror or error}"
            logger.error("Archive: %s", self.failed)

    def _load_originals(self) -> None:
        for entry in index_entries(self.folder):
            if entry.digest and not entry.revisit and entry.length:
                self._originals.setdefault(
                    entry.digest,
                    Original(entry.url, entry.warc_date, entry.file, entry.offset, entry.length),
                )

    def _write(self, capture: Capture) -> None:
        digest = payload_digest(capture.body)
        original = self._originals.get(digest) if capture.body else None
        response, request = records(capture, digest, original)
        warc = self._open(len(response) + len(request))
        offset = warc.tell()
        warc.write(response + request)
        warc.flush()
        entry = IndexEntry(
            url=capture.url,
            status=capture.status,
            digest=digest,
            file=self._name,
            offset=offset,
            length=len(response),
            fetched_at=capture.fetched_at,
        )
        if original is not None:
            entry = replace(entry, revisit=(original.file, original.offset, original.length))
            self.revisits += 1
        elif capture.body:
            self._originals[digest] = Original(
                capture.url, entry.warc_date, self._name, offset, len(response)
            )
        assert self._index is not None
        self._index.write(index_line(entry))
        self._index.flush()
        self.records += 1
        self.bytes += len(response) + len(request)
        now = time.monotonic()
        if now - self._synced_at >= self.fsync_seconds:
            self._sync()
            self._synced_at = now

    def _open(self, size: int) -> IO[bytes]:
        if self._warc is not None and self._warc.tell() + size > self.max_bytes:
            self._close_files()
        if self._warc is None:
            self._sequence += 1
            stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%d%H%M%S%f")
            host = socket.gethostname().replace("-", "_") or "host"
            self._name = f"ecnews-{stamp}-{host}-{os.getpid()}-{self._sequence:05d}{WARC_SUFFIX}"
            path = self.folder / self._name
            # Exclusive: two writers never share a file, whatever the clocks say.
            self._warc = path.open("xb", buffering=0)
            self._index = path.with_name(self._name.removesuffix(WARC_SUFFIX) + INDEX_SUFFIX).open(
                "x", encoding="utf-8"
            )
        return self._warc

    def _sync(self) -> None:
        for handle in (self._warc, self._index):
            if handle is not None:
                handle.flush()
                os.fsync(handle.fileno())

    def _close_files(self) -> None:
        try:
            self._sync()
        finally:
            for handle in (self._warc, self._index):
                if handle is not None:
                    handle.close()
            self._warc = self._index = None
