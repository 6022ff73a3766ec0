"""The writer process: database writes on the machine's other core.

The crawl (Scrapy's reactor) parses; a child process owns the database connection and
writes batches of records (``storage/batch.py``), one transaction per batch. A thread in
the crawl's process only waits: the GIL stays with the crawl. The crawl hands a batch to
``WriterProcess.submit`` and gets a ``concurrent.futures.Future`` of a ``BatchResult``
(one result per record), set once the batch has committed (or failed):

- an ``Outcome`` (articles) or None (other records): written and committed;
- a ``WriteFailed``: not written; ``unavailable`` (the database cannot be reached, is
  locked or is gone: retried with backoff first) or ``refused`` (the database refuses
  this content: a value it cannot hold; never retried). The caller spools it.

A batch that fails is retried as a whole (contention, a restart); past the retry budget,
on a refusal, it is written record by record so that one bad record does not sink the
others. If the process dies, or no batch completes for ``stall_timeout`` seconds while
work is pending, every pending future fails with ``WriterGone`` (a stalled process is
killed first): nothing waits forever.

The child never outlives the crawl and never holds its stdio (``storage/child.py``); it
logs through the reply queue to the crawl's handlers.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
import logging.handlers
import multiprocessing
import os
import queue
import threading
import time
from concurrent.futures import Future
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from sqlalchemy import select
from sqlalchemy.exc import DataError, DBAPIError, IntegrityError, InterfaceError, OperationalError

from storage.batch import HELD_APPLY_AFTER, BatchWriter, ConcurrentWrite, Outcome
from storage.child import PARENT_POLL_SECONDS, become_child_of, parent_gone
from storage.db import DEFAULT_OPTIONS, Database, DatabaseOptions, redacted
from storage.deadline import break_socket
from storage.models import ArticleUrl, Page
from storage.records import ArticleRecord, PageStatusRecord, Record

if TYPE_CHECKING:
    from collections.abc import Iterator, Sequence
    from multiprocessing.process import BaseProcess
    from multiprocessing.queues import Queue

    from sqlalchemy.orm import Session

logger = logging.getLogger(__name__)

# Contention (another crawl writing, SQLite busy, a PostgreSQL serialization failure or
# restart) is retried with backoff.
RETRYABLE = (ConcurrentWrite, IntegrityError, OperationalError, InterfaceError)
# The database cannot be reached, is locked, or timed out: later writes would fail alike.
UNAVAILABLE = (OperationalError, InterfaceError)
# The database refuses the content: retrying would not help.
REFUSED = (DataError,)
READY = "ready"
"""The child's first message: it is importing no more, and holds an engine."""
# A database found unavailable is tried again at most this often; batches in between fail
# at once (a crawl closing on a dead database must not wait a connect timeout per batch).
UNAVAILABLE_PROBE_SECONDS = 5.0


@dataclass(frozen=True, slots=True)
class WriteFailed:
    """A record that was not written, and why."""

    kind: Literal["unavailable", "refused"]
    reason: str


Result = Outcome | WriteFailed | None


@dataclass(frozen=True, slots=True)
class BatchResult:
    results: list[Result]
    """One per record, in order."""
    retries: int = 0
    """Transactions retried after contention or a lost connection."""
    split: bool = False
    """The batch failed as a whole and was written record by record."""


class WriterGone(Exception):
    """The writer process died or stalled; its pending batches were not committed."""


@dataclass(frozen=True, slots=True)
class WriterOptions:
    """What the writer needs of the PERSIST_* and DATABASE_* settings. crawler/settings.py
    holds the defaults of attempts and backoff; the two defaulted here are storage's own,
    which it re-exports."""

    attempts: int
    backoff: float
    held_apply_after: dt.timedelta = HELD_APPLY_AFTER
    """How long the site must serve a much poorer version before it replaces the stored."""
    database: DatabaseOptions = DEFAULT_OPTIONS


def brief(error: BaseException) -> str:
    """The error's first line, without the SQL statement and parameters SQLAlchemy adds."""
    origin = getattr(error, "orig", None) or error
    text = str(origin).strip().splitlines()
    return f"{type(origin).__name__}: {text[0][:300] if text else ''}"


# -- the child process ------------------------------------------------------------------


class BatchTransactions:
    """Writes batches in transactions with retries: the child's loop body, also usable
    in-process (tests, tools)."""

    def __init__(self, database: Database, options: WriterOptions) -> None:
        self.database = database
        self.options = options
        # Set once the database stayed unavailable through a whole retry budget: later
        # writes try once (at most every UNAVAILABLE_PROBE_SECONDS) until one succeeds
        # again, so a dead database fails fast.
        self.unavailable = False
        self._unavailable_at = 0.0
        self._unavailable_why = ""
        self.retries = 0
        self.split = 0

    def write_batch(
        self, records: Sequence[Record], now: dt.datetime, *, replay: bool
    ) -> BatchResult:
        """`write`, with what it took: retries, whether the batch was split."""
        retries, split = self.retries, self.split
        if self.unavailable and time.monotonic() - self._unavailable_at < UNAVAILABLE_PROBE_SECONDS:
            results: list[Result] = [WriteFailed("unavailable", self._unavailable_why)] * len(
                records
            )
        else:
            results = self.write(records, now, replay=replay)
        return BatchResult(results, self.retries - retries, self.split > split)

    def write(self, records: Sequence[Record], now: dt.datetime, *, replay: bool) -> list[Result]:
        if replay:
            return [self._write_replayed(record, now) for record in records]
        try:
            return list(self._transaction(records, now))
        except REFUSED as error:
            if len(records) == 1:
                return [WriteFailed("refused", brief(error))]
        except UNAVAILABLE as error:
            # Each record alone would fail the same way.
            return [WriteFailed("unavailable", brief(error))] * len(records)
        except (ConcurrentWrite, DBAPIError) as error:
            if len(records) == 1:
                return [WriteFailed("unavailable", brief(error))]
        self.split += 1
        return [self._write_one(record, now) for record in records]

    def _write_one(self, record: Record, now: dt.datetime) -> Result:
        try:
            return self._transaction([record], now)[0]
        except REFUSED as error:
            return WriteFailed("refused", brief(error))
        except (ConcurrentWrite, DBAPIError) as error:
            return WriteFailed("unavailable", brief(error))

    def _write_replayed(self, record: Record, now: dt.datetime) -> Result:
        """A spooled record: skipped ("stale") when the database heard of it since."""
        if self._stale(record):
            return Outcome.STALE
        return self._write_one(record, now)

    def _stale(self, record: Record) -> bool:
        if isinstance(record, ArticleRecord):
            query = select(ArticleUrl.last_seen_at).where(ArticleUrl.url == record.url)
        elif isinstance(record, PageStatusRecord):
            query = select(Page.fetched_at).where(Page.url == record.url)
        else:
            return False
        with self.database.sessions() as session:
            seen = session.scalar(query)
        return seen is not None and record.at is not None and seen > record.at

    def _transaction(self, records: Sequence[Record], now: dt.datetime) -> list[Result]:
        attempts = 1 if self.unavailable else self.options.attempts
        for attempt in range(1, attempts + 1):
            try:
                with (
                    self.database.sessions.begin() as session,
                    _deadline(session, self.database.options.client_timeout),
                ):
                    writer = BatchWriter(session, held_apply_after=self.options.held_apply_after)
                    results: list[Result] = list(writer.write(records, now))
            except RETRYABLE as error:
                if isinstance(error, DBAPIError) and error.connection_invalidated:
                    logger.warning("Database connection lost; reconnecting")
                if attempt == attempts:
                    if isinstance(error, UNAVAILABLE):
                        self.unavailable = True
                        self._unavailable_at = time.monotonic()
                        self._unavailable_why = brief(error)
                    raise
                self.retries += 1
                logger.info("Write contended (%s); retry %d", type(error).__name__, attempt)
                time.sleep(self.options.backoff * 2 ** (attempt - 1))
            else:
                self.unavailable = False
                return results
        raise AssertionError("unreachable")


@contextlib.contextmanager
def _deadline(session: Session, seconds: float) -> Iterator[None]:
    """Break a PostgreSQL transaction's connection if it outlives `seconds`
    (DatabaseOptions.client_timeout).

    The server-side timeouts cannot help when the server never got the statement: a
    connection cut half-open by a proxy or NAT (TCP still up, nobody forwarding) leaves
    the client waiting for an answer forever. Shutting the socket down makes the driver
    fail, and the transaction is retried on a new connection.
    """
    if session.get_bind().dialect.name != "postgresql":
        yield
        return
    # union-attr: dbapi_connection is Optional in SQLAlchemy's types; a checked-out
    # connection always has one, and on PostgreSQL it is psycopg's (with .pgconn).
    fd = session.connection().connection.dbapi_connection.pgconn.socket  # type: ignore[union-attr]
    timer = threading.Timer(seconds, _break_connection, (fd, seconds))
    timer.daemon = True
    timer.start()
    try:
        yield
    finally:
        timer.cancel()


def _break_connection(fd: int, seconds: float) -> None:
    logger.warning("No answer from PostgreSQL for %d s: breaking the connection", seconds)
    break_socket(fd)


def _serve(
    url: str,
    options: WriterOptions,
    requests: Queue[Any],
    replies: Queue[Any],
    log_level: int,
    *,
    parent: int,
) -> None:
    """The child's main loop: a batch in, its results out, until None arrives, or until
    ``parent`` (the crawl's pid, passed in: the crawl may be killed before we get here)
    is gone."""
    become_child_of(parent)
    root = logging.getLogger()
    root.handlers[:] = [logging.handlers.QueueHandler(replies)]
    root.setLevel(log_level)
    try:
        database = Database(url, migrate=False, options=options.database)
    except Exception:
        logger.exception("The writer process could not open the database")
        raise
    writer = BatchTransactions(database, options)
    replies.put(READY)
    try:
        while True:
            try:
                message = requests.get(timeout=PARENT_POLL_SECONDS)
            except queue.Empty:
                if parent_gone(parent):
                    return  # the crawl was killed: nobody is left to write for
                continue
            if message is None:
                return
            batch_id, records, replay = message
            try:
                result = writer.write_batch(records, dt.datetime.now(dt.UTC), replay=replay)
            except Exception as error:  # a bug must not lose the batch: it is spooled
                logger.exception("Writing a batch of %d records failed", len(records))
                result = BatchResult([WriteFailed("unavailable", brief(error))] * len(records))
            replies.put((batch_id, result))
    finally:
        database.dispose()


# -- the crawl's side -------------------------------------------------------------------


class WriterProcess:
    """Starts the child, hands it batches, and watches it."""

    def __init__(
        self,
        database_url: str,
        options: WriterOptions,
        *,
        stall_timeout: float,
        poll: float = 0.2,
    ) -> None:
        self.database_url = database_url
        self.options = options
        self.stall_timeout = stall_timeout
        self.poll = poll
        context = multiprocessing.get_context("spawn")  # never fork a reactor's threads
        self._requests: Queue[Any] = context.Queue()
        self._replies: Queue[Any] = context.Queue()
        self._process: BaseProcess = context.Process(
            target=_serve,
            args=(
                database_url,
                options,
                self._requests,
                self._replies,
                logging.getLogger().getEffectiveLevel(),
            ),
            kwargs={"parent": os.getpid()},
            name="ecnews-writer",
            daemon=True,
        )
        self._pending: dict[int, Future[BatchResult]] = {}
        self._lock = threading.Lock()
        self._next_id = 0
        self._last_progress = time.monotonic()
        self._stopping = threading.Event()
        self._watcher = threading.Thread(
            target=self._watch, name="ecnews-writer-watch", daemon=True
        )
        self.gone: str | None = None
        """Why the writer is gone (died, stalled, stopped); None while it works."""

    @property
    def pid(self) -> int | None:
        return self._process.pid

    def start(self) -> None:
        """Start the child; batches may be submitted at once (they wait in the queue
        while it imports and connects, which overlaps the crawl's first fetches)."""
        self._process.start()
        self._watcher.start()
        logger.info("Writer process %s writes to %s", self.pid, redacted(self.database_url))

    def submit(self, records: Sequence[Record], *, replay: bool = False) -> Future[BatchResult]:
        """The batch's result (one per record), once it has committed (or failed)."""
        future: Future[BatchResult] = Future()
        with self._lock:
            if self.gone is not None:
                future.set_exception(WriterGone(self.gone))
                return future
            if not self._pending:
                self._last_progress = time.monotonic()
            self._next_id += 1
            self._pending[self._next_id] = future
            batch_id = self._next_id
        self._requests.put((batch_id, list(records), replay))
        return future

    def stop(self, timeout: float) -> None:
        """Let the child finish what it holds (at most `timeout` s), then end it."""
        if self._process.is_alive():
            with contextlib.suppress(ValueError, OSError):
                self._requests.put(None)
            self._process.join(timeout)
            if self._process.is_alive():
                logger.error("Writer process did not stop within %.0f s: killed", timeout)
                self._process.kill()
                self._process.join(5)
        self._stopping.set()
        self._watcher.join(5)
        self._fail_pending("the writer process was stopped")
        for channel in (self._requests, self._replies):
            channel.close()
            channel.cancel_join_thread()

    def _watch(self) -> None:
        while not self._stopping.is_set():
            try:
                message = self._replies.get(timeout=self.poll)
            except queue.Empty:
                self._check()
                continue
            except (EOFError, OSError):
                self._check()
                if self.gone is not None:
                    return
                continue
            if message == READY:
                continue
            if isinstance(message, logging.LogRecord):  # the child's log, to our handlers
                logging.getLogger(message.name).handle(message)
                continue
            batch_id, results = message
            with self._lock:
                future = self._pending.pop(batch_id, None)
                self._last_progress = time.monotonic()
            if future is not None:
                future.set_result(results)

    def _check(self) -> None:
        if self._stopping.is_set() or self.gone is not None:
            return
        if not self._process.is_alive():
            self._fail_pending(f"the writer process died (exit code {self._process.exitcode})")
            return
        with self._lock:
            stalled = bool(self._pending) and (
                time.monotonic() - self._last_progress > self.stall_timeout
            )
        if stalled:
            self._process.kill()
            self._fail_pending(
                f"the writer process stalled: no batch committed for {self.stall_timeout:.0f} s"
            )

    def _fail_pending(self, why: str) -> None:
        with self._lock:
            if self.gone is None:
                self.gone = why
            pending, self._pending = self._pending, {}
        if pending:
            logger.error("%s; %d batches not written", why.capitalize(), len(pending))
        for future in pending.values():
            future.set_exception(WriterGone(why))
