"""Appends captures to WARC files in a process of its own: the reactor never waits on the
disk, and building and compressing records (0.4–1.7 ms of Python per page, quiet to
loaded) runs on the machine's other core instead of taking the crawl's GIL. The middleware
only puts captures in a bounded queue, HANDOFF_CAPTURES to a message; the child dies with
the crawl and holds none of its stdio (``storage/child.py``).

Files are ``ecnews-<UTC time>-<host>-<pid>-<n>.warc.gz`` (several workers, several
machines: never one file), rotated once they pass ``max_bytes``. Beside each is its CDXJ
index, ``….cdxj``: one line per response, written once the record is on disk, so an index
line never points at a record that is not there. An identical payload seen before (in
this or an earlier file of the folder) becomes a ``revisit`` record pointing at it.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
import multiprocessing
import os
import queue
import socket
import time
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from crawler.archive.capture import Capture, Original, payload_digest, records
from crawler.archive.store import IndexEntry, index_entries, index_line
from storage.child import PARENT_POLL_SECONDS, become_child_of, parent_gone

if TYPE_CHECKING:
    from multiprocessing.process import BaseProcess
    from multiprocessing.queues import Queue
    from pathlib import Path
    from typing import IO

logger = logging.getLogger(__name__)

WARC_SUFFIX = ".warc.gz"
INDEX_SUFFIX = ".cdxj"
HANDOFF_CAPTURES = 32
"""Captures handed to the child in one message. One capture a message cost the crawl's
process a lock, a thread wake-up, a pipe write and a poll of the child per page: ~0.4 ms
of a ~3 ms page (py-spy, 3,000-article site). A partial batch goes at the next `flush`."""


@dataclass(frozen=True, slots=True)
class Written:
    """The child's last message: what it wrote."""

    records: int
    revisits: int
    bytes: int
    lost: int


class ArchiveWriter:
    """The crawl's side: starts the child, queues captures, reads its failure and counts."""

    def __init__(
        self,
        folder: Path,
        *,
        max_bytes: int = 256 * 1024 * 1024,
        queue_size: int = 256,
        fsync_seconds: float = 5.0,
    ) -> None:
        context = multiprocessing.get_context("spawn")  # never fork a reactor's threads
        self._batch = max(1, min(HANDOFF_CAPTURES, queue_size))
        self._pending: list[Capture] = []
        # queue_size captures in all: the batches in the queue and the one being filled.
        self._captures: Queue[list[Capture] | None] = context.Queue(
            maxsize=max(1, queue_size // self._batch - 1)
        )
        self._events: Queue[str | Written] = context.Queue()
        self._process: BaseProcess = context.Process(
            target=_serve,
            args=(folder, max_bytes, fsync_seconds, self._captures, self._events),
            kwargs={"parent": os.getpid()},
            name="ecnews-archive",
            daemon=True,
        )
        self._failed: str | None = None
        self.records = self.revisits = self.bytes = self.lost = 0

    @property
    def failed(self) -> str | None:
        """Why the archive cannot be written (a full disk, a dead process…): the crawl
        closes on it."""
        self._read_events()
        if self._failed is None and self._process.exitcode not in (None, 0):
            self._failed = f"the archive process died (exit code {self._process.exitcode})"
        return self._failed

    def start(self) -> None:
        self._process.start()

    def put(self, capture: Capture) -> bool:
        """Queue a capture without waiting; False when the queue is full (a slow disk)."""
        if len(self._pending) >= self._batch and not self.flush():
            return False
        self._pending.append(capture)
        if len(self._pending) >= self._batch:
            self.flush()  # if the queue is full, the next put tries again
        return True

    def flush(self) -> bool:
        """Hand the captures not yet sent to the child; False when its queue is full."""
        if not self._pending:
            return True
        try:
            self._captures.put_nowait(self._pending)
        except queue.Full:
            return False
        self._pending = []
        return True

    def close(self, timeout: float) -> bool:
        """Write what is queued, close the files; False if that took longer than timeout
        (the child is then killed: it never outlives the crawl)."""
        if self._process.pid is None:
            return True  # never started: nothing was written
        deadline = time.monotonic() + timeout
        with contextlib.suppress(queue.Full, ValueError):
            for message in ([self._pending] if self._pending else []) + [None]:
                self._captures.put(message, timeout=max(0.01, deadline - time.monotonic()))
                self._pending = []
        self._process.join(max(0.0, deadline - time.monotonic()))
        finished = self._process.exitcode == 0
        if self._process.exitcode is None:
            self._process.kill()
            self._process.join(5)
        self._read_events()
        self.lost += len(self._pending)  # never handed over: the child could not take them
        for channel in (self._captures, self._events):
            channel.close()
            channel.cancel_join_thread()  # a stuck child's queue must not hold the exit
        return finished

    def _read_events(self) -> None:
        while True:
            try:
                event = self._events.get_nowait()
            except (queue.Empty, ValueError, OSError):
                return
            if isinstance(event, Written):
                self.records, self.revisits = event.records, event.revisits
                self.bytes, self.lost = event.bytes, event.lost
            elif self._failed is None:
                self._failed = event
                logger.error("Archive: %s", event)


def _serve(
    folder: Path,
    max_bytes: int,
    fsync_seconds: float,
    captures: Queue[list[Capture] | None],
    events: Queue[str | Written],
    *,
    parent: int,
) -> None:
    """The child's main loop: captures in until None arrives (or the crawl is gone)."""
    become_child_of(parent)
    files = ArchiveFiles(folder, max_bytes=max_bytes, fsync_seconds=fsync_seconds)
    reported: str | None = None
    while True:
        if files.failed is not None and reported is None:
            reported = files.failed
            events.put(reported)  # at once: the crawl closes on it
        try:
            batch = captures.get(timeout=PARENT_POLL_SECONDS)
        except queue.Empty:
            if parent_gone(parent):
                return  # the crawl was killed: what is written reads back
            continue
        if batch is None:
            break
        for capture in batch:
            files.take(capture)
    files.finish()
    if files.failed is not None and reported is None:
        events.put(files.failed)
    events.put(Written(files.records, files.revisits, files.bytes, files.lost))


class ArchiveFiles:
    """The child's side: WARC and index files, rotated; revisits for payloads seen before."""

    def __init__(self, folder: Path, *, max_bytes: int, fsync_seconds: float) -> None:
        self.folder = folder
        self.max_bytes = max_bytes
        self.fsync_seconds = fsync_seconds
        self.failed: str | None = None
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
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            self._load_originals()
        except OSError as error:
            self._fail(error)

    def take(self, capture: Capture) -> None:
        if self.failed is not None:
            self.lost += 1
            return
        try:
            self._write(capture)
        except OSError as error:
            self._fail(error)

    def finish(self) -> None:
        try:
            self._close_files()
        except OSError as error:
            self._fail(error)

    def _fail(self, error: OSError) -> None:
        if self.failed is None:
            where = error.filename or self.folder
            self.failed = f"cannot write the archive {where}: {error.strerror or error}"

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
