"""Writes the database could not take, kept on disk until a later run writes them.

A spool is a file of JSON lines, ``<dir>/<key>.jsonl``, where the key is derived from
the database URL without its password, so a spool is only ever replayed into the
database it was meant for. Each append is flushed and fsynced before the crawl goes on:
a SIGKILL loses at most the line being written, and a torn line is set aside when read.
Entries the database refuses for their content (and unreadable lines) go to
``<key>.rejected.jsonl``, kept for a human and never replayed. An exclusive flock on
``<key>.lock`` serialises the appends and replays of processes sharing the folder.

The spool knows nothing of what an entry means: ``pipelines/persist.py`` writes and
replays them.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import logging
import os
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Any

from storage.db import redacted

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator, Mapping

logger = logging.getLogger(__name__)


class Replayed(StrEnum):
    """What became of one entry handed back by `Spool.replay`."""

    DONE = "done"
    """Written (or rejected): forget it."""
    STOP = "stop"
    """Not written, and the database is unavailable: keep it and every later one."""


@dataclass(frozen=True, slots=True)
class ReplayResult:
    done: int = 0
    kept: int = 0
    unreadable: int = 0


class Spool:
    def __init__(self, directory: Path | str, database_url: str) -> None:
        key = hashlib.sha256(redacted(database_url).encode()).hexdigest()[:16]
        self.directory = Path(directory)
        self.path = self.directory / f"{key}.jsonl"
        self.rejected_path = self.directory / f"{key}.rejected.jsonl"
        self._lock_path = self.directory / f"{key}.lock"

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        self.directory.mkdir(parents=True, exist_ok=True)
        fd = os.open(self._lock_path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)  # releases the flock

    def append(self, entry: Mapping[str, Any]) -> None:
        """Add one entry; durable on disk when this returns."""
        with self._locked():
            _append_lines(self.path, [json.dumps(entry, sort_keys=True)])

    def reject(self, entry: Mapping[str, Any], reason: str) -> None:
        """Set an entry aside for a human, with why the database refused it."""
        with self._locked():
            _append_lines(
                self.rejected_path, [json.dumps({"reason": reason, "entry": entry}, sort_keys=True)]
            )

    def __len__(self) -> int:
        with self._locked():
            return len(_read_lines(self.path))

    def replay(self, write: Callable[[dict[str, Any]], Replayed]) -> ReplayResult:
        """Hand each entry to `write`, oldest first; keep those it did not write.

        If `write` raises, every entry not yet done is kept and the error propagates.
        """
        with self._locked():
            lines = _read_lines(self.path)
            if not lines:
                return ReplayResult()
            entries: list[dict[str, Any]] = []
            unreadable: list[str] = []
            for line in lines:
                try:
                    entry = json.loads(line)
                except ValueError:
                    entry = None
                if isinstance(entry, dict):
                    entries.append(entry)
                else:
                    unreadable.append(line)
            if unreadable:
                logger.error(
                    "Spool %s: %d unreadable lines set aside in %s",
                    self.path,
                    len(unreadable),
                    self.rejected_path,
                )
                _append_lines(
                    self.rejected_path,
                    [json.dumps({"reason": "unreadable", "line": line}) for line in unreadable],
                )
            kept: list[dict[str, Any]] = []
            done = 0
            index = 0
            try:
                for index, entry in enumerate(entries):
                    outcome = write(entry)
                    if outcome is Replayed.DONE:
                        done += 1
                    else:
                        kept.extend(entries[index:])
                        break
            except BaseException:
                kept.extend(entries[index:])
                raise
            finally:
                _rewrite(self.path, [json.dumps(entry, sort_keys=True) for entry in kept])
            return ReplayResult(done=done, kept=len(kept), unreadable=len(unreadable))


def _read_lines(path: Path) -> list[str]:
    try:
        text = path.read_text("utf-8", errors="replace")
    except FileNotFoundError:
        return []
    return [line for line in text.splitlines() if line.strip()]


def _append_lines(path: Path, lines: list[str]) -> None:
    fd = os.open(path, os.O_RDWR | os.O_APPEND | os.O_CREAT, 0o600)
    try:
        # A torn last line (a crash mid-write) must not swallow the next entry.
        size = os.fstat(fd).st_size
        if size and os.pread(fd, 1, size - 1) != b"\n":
            os.write(fd, b"\n")
        os.write(fd, "".join(f"{line}\n" for line in lines).encode("utf-8"))
        os.fsync(fd)
    finally:
        os.close(fd)


def _rewrite(path: Path, lines: list[str]) -> None:
    """Replace the file's lines atomically (an empty spool is removed)."""
    if not lines:
        path.unlink(missing_ok=True)
        return
    temporary = path.with_suffix(".tmp")
    temporary.write_text("".join(f"{line}\n" for line in lines), "utf-8")
    with temporary.open("rb") as handle:
        os.fsync(handle.fileno())
    temporary.replace(path)
