"""A client-side deadline on the crawl's own PostgreSQL reads and writes.

The server-side timeouts (storage/db.py) cannot help when the server never got the
statement: a connection cut half-open by a proxy or NAT (TCP still up, nobody
forwarding) leaves the client waiting for an answer forever, on whatever thread asked,
the reactor's included. A block run under `ClientDeadline` that is still waiting after
``seconds`` has the sockets of its engine's connections shut down: the driver fails with
a clear error, and the caller decides (the crawl closes; the writer retries).
"""

from __future__ import annotations

import contextlib
import logging
import os
import socket
import threading
import weakref
from functools import cache
from typing import TYPE_CHECKING, Any

from sqlalchemy import event

if TYPE_CHECKING:
    from collections.abc import Iterator

    from sqlalchemy.engine import Engine

    from storage.db import Database

logger = logging.getLogger(__name__)


def break_socket(fd: int) -> None:
    """Shut a connection's socket down: a read blocked on it returns at once."""
    with contextlib.suppress(OSError), socket.socket(fileno=os.dup(fd)) as stuck:
        stuck.shutdown(socket.SHUT_RDWR)


class ClientDeadline:
    """Breaks an engine's PostgreSQL connections when a block outlives `seconds`."""

    def __init__(self, engine: Engine, seconds: float) -> None:
        self.seconds = seconds
        self.postgres = engine.dialect.name == "postgresql"
        self._connections: weakref.WeakSet[Any] = weakref.WeakSet()
        if self.postgres:
            event.listen(engine, "connect", self._track)
            # Connections pooled before now were never seen connecting: start afresh so
            # that every connection the deadline may have to break is tracked.
            engine.dispose()

    def _track(self, dbapi_connection: Any, _record: Any) -> None:
        self._connections.add(dbapi_connection)

    @contextlib.contextmanager
    def __call__(self, what: str) -> Iterator[None]:
        if not self.postgres:  # SQLite's waits are bounded by its busy timeout
            yield
            return
        done = threading.Event()
        watcher = threading.Thread(
            target=self._watch, args=(done, what), name="ecnews-db-deadline", daemon=True
        )
        watcher.start()
        try:
            yield
        finally:
            done.set()
            watcher.join()

    def _watch(self, done: threading.Event, what: str) -> None:
        # Again every `seconds`: a reconnect may meet the same silent server.
        while not done.wait(self.seconds):
            logger.warning(
                "No answer from PostgreSQL for %.0f s (%s): breaking the connection",
                self.seconds,
                what,
            )
            for connection in list(self._connections):
                with contextlib.suppress(Exception):  # closed already: nothing to break
                    break_socket(connection.pgconn.socket)


@cache
def client_deadline(database: Database) -> ClientDeadline:
    """The deadline for `database`'s connections (one per Database)."""
    return ClientDeadline(database.engine, database.options.client_timeout)
