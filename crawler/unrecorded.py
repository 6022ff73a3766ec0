"""Runs that ended before they could write their crawl_runs row (the SQLite database
locked by another process, or read-only, at the start): kept as JSON lines beside the
spool, and written as `failed` rows by the next run that can write the database."""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
import socket
from typing import TYPE_CHECKING

from storage.models import CrawlRun
from storage.spool import Spool

if TYPE_CHECKING:
    from pathlib import Path

    from sqlalchemy.orm import Session

logger = logging.getLogger(__name__)


def _path(spool_dir: str, database_url: str) -> Path:
    spool = Spool(spool_dir, database_url)  # the same per-database key as the spool
    return spool.path.with_name(f"{spool.path.stem}.unrecorded-runs.jsonl")


def remember(spool_dir: str, database_url: str, *, mode: str, reason: str) -> None:
    """Keep a run that could not be recorded; never raises (the user has the reason)."""
    entry = {
        "at": dt.datetime.now(dt.UTC).isoformat(),
        "mode": mode,
        "worker": f"{socket.gethostname()}:{os.getpid()}",
        "reason": reason,
    }
    path = _path(spool_dir, database_url)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("a", encoding="utf-8") as file:
            file.write(json.dumps(entry, sort_keys=True) + "\n")
    except OSError:
        logger.warning("Could not keep the unrecorded run in %s", path, exc_info=True)


def add_remembered(session: Session, spool_dir: str, database_url: str) -> Path | None:
    """Add the remembered runs to `session` as failed rows; returns the file to delete
    once the transaction has committed (None when there was none)."""
    path = _path(spool_dir, database_url)
    try:
        lines = path.read_text("utf-8").splitlines()
    except FileNotFoundError:
        return None
    for line in lines:
        try:
            entry = json.loads(line)
            at = dt.datetime.fromisoformat(entry["at"])
        except (ValueError, KeyError, TypeError):
            continue  # a torn last line: the run's own message already said why
        session.add(
            CrawlRun(
                started_at=at,
                finished_at=at,
                status="failed",
                mode=str(entry.get("mode", "incremental")),
                worker=entry.get("worker"),
                reason=str(entry.get("reason", "")),
            )
        )
    return path
