"""Records each crawl in the crawl_runs table: start, end, mode, counts, status.

Every database wait runs under the client-side deadline (``storage/deadline.py``). A run
whose end cannot be written (the database gone) keeps it beside the spool; the next run
writes it onto the row before it starts, so the row says ``failed`` and why, not
``running`` (or ``killed``).
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
import socket
from typing import TYPE_CHECKING, Any, Self

from scrapy import signals
from sqlalchemy import select, update
from sqlalchemy.exc import SQLAlchemyError

from crawler import stats_keys as keys
from crawler.unrecorded import add_remembered
from pipelines import stats_keys as item_keys
from storage.db import DatabaseOptions, get_database
from storage.deadline import client_deadline
from storage.models import CrawlRun
from storage.spool import Spool

if TYPE_CHECKING:
    from pathlib import Path

    from scrapy import Spider
    from scrapy.crawler import Crawler
    from scrapy.statscollectors import StatsCollector
    from sqlalchemy.orm import Session

logger = logging.getLogger(__name__)


def run_counts(stats: dict[str, Any]) -> dict[str, int]:
    """The crawl_runs counters, read from Scrapy's stats."""
    return {
        "pages": int(stats.get("downloader/response_count", 0)),
        "items_new": int(stats.get(item_keys.PERSIST_NEW, 0)),
        "items_updated": int(stats.get(item_keys.PERSIST_UPDATED, 0)),
        "items_unchanged": int(stats.get(item_keys.PERSIST_UNCHANGED, 0))
        + int(stats.get(keys.ARTICLE_NOT_MODIFIED, 0)),
        "items_merged": int(stats.get(item_keys.PERSIST_MERGED, 0)),
        "items_dropped": int(stats.get("item_dropped_count", 0)),
        "errors": int(stats.get("log_count/ERROR", 0)),
    }


def _jsonable(stats: dict[str, Any]) -> dict[str, Any]:
    return {
        key: value.isoformat() if isinstance(value, dt.datetime) else value
        for key, value in stats.items()
        if isinstance(value, (int, float, str, dt.datetime))
    }


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def record_verdict(crawler: Crawler, reason: str, problems: list[str]) -> list[str]:
    """Write the run's end (ok, or failed with `problems`) on its crawl_runs row; the
    problems, plus one if the row could not be written (the verdict still reaches cron;
    the next run marks the row as killed)."""
    recorder = next(
        (ext for ext in crawler.extensions.middlewares if isinstance(ext, CrawlRunRecorder)),
        None,
    )
    if recorder is None:
        return problems
    try:
        recorder.finish(
            reason, status="failed" if problems else "ok", why="; ".join(problems) or None
        )
    except SQLAlchemyError as error:
        return [*problems, f"the run could not be recorded: {error}"]
    return problems


class CrawlRunRecorder:
    def __init__(
        self,
        database_url: str,
        stats: StatsCollector,
        options: DatabaseOptions,
        spool_dir: str = "",
    ) -> None:
        self.database_url = database_url
        self.options = options
        self.stats = stats
        self.spool_dir = spool_dir
        self.run_id: int | None = None
        # Set by `ecnews crawl` once its monitors have judged the run.
        self.verdict: tuple[str, str | None] | None = None

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Self:
        assert crawler.stats is not None
        recorder = cls(
            crawler.settings["DATABASE_URL"],
            crawler.stats,
            DatabaseOptions.from_settings(crawler.settings),
            crawler.settings.get("PERSIST_SPOOL_DIR") or "",
        )
        crawler.signals.connect(recorder.spider_opened, signal=signals.spider_opened)
        crawler.signals.connect(recorder.spider_closed, signal=signals.spider_closed)
        return recorder

    def _unclosed_path(self) -> Path | None:
        if not self.spool_dir:
            return None
        spool = Spool(self.spool_dir, self.database_url)  # the spool's per-database key
        return spool.path.with_name(f"{spool.path.stem}.unclosed-runs.jsonl")

    def spider_opened(self, spider: Spider) -> None:
        database = get_database(self.database_url, self.options)
        remembered = None
        unclosed = self._unclosed_path()
        with client_deadline(database)("opening the run"), database.sessions.begin() as session:
            if unclosed is not None:
                _close_unclosed(session, unclosed)
            self._close_dead_runs(session)
            if self.spool_dir:  # runs that ended before they could write their row
                remembered = add_remembered(session, self.spool_dir, self.database_url)
            run = CrawlRun(
                started_at=dt.datetime.now(dt.UTC),
                status="running",
                mode=getattr(spider, "mode", "full"),
                worker=f"{socket.gethostname()}:{os.getpid()}",
            )
            session.add(run)
            session.flush()
            self.run_id = run.id
        if remembered is not None:
            remembered.unlink(missing_ok=True)
        if unclosed is not None:
            unclosed.unlink(missing_ok=True)
        self.stats.set_value(keys.RUN_ID, self.run_id)

    @staticmethod
    def _close_dead_runs(session: Session) -> None:
        """Runs of this host still 'running' whose process is gone were killed."""
        host = socket.gethostname()
        for run in session.scalars(
            select(CrawlRun).where(CrawlRun.status == "running", CrawlRun.worker.like(f"{host}:%"))
        ):
            pid = int((run.worker or ":0").rsplit(":", 1)[1] or 0)
            if pid and _alive(pid):
                continue
            run.status = "killed"
            run.reason = "the process died without closing the run (SIGKILL, crash, power loss)"

    def spider_closed(self, spider: Spider, reason: str) -> None:
        try:
            self.finish(reason)
        except SQLAlchemyError:
            # The database is down at the end of the run: the monitors report it, and
            # the next run writes the end kept beside the spool.
            logger.exception("Could not record the end of crawl run %s", self.run_id)

    def finish(self, reason: str, *, status: str | None = None, why: str | None = None) -> None:
        """Write the run's end; called at spider close and again with the monitors' verdict."""
        if self.run_id is None:
            return
        stats = self.stats.get_stats()
        if status is None:
            status = (
                "ok"
                if reason == "finished"
                else ("interrupted" if reason == "shutdown" else "failed")
            )
            why = None if status == "ok" else reason
        values = {
            "finished_at": dt.datetime.now(dt.UTC),
            "status": status,
            "reason": why,
            "stats": _jsonable(stats),
            **run_counts(stats),
        }
        database = get_database(self.database_url, self.options)
        try:
            with (
                client_deadline(database)("recording the run's end"),
                database.sessions.begin() as session,
            ):
                session.execute(update(CrawlRun).where(CrawlRun.id == self.run_id).values(values))
        except SQLAlchemyError:
            self._keep_unclosed(values)
            raise

    def _keep_unclosed(self, values: dict[str, Any]) -> None:
        """Keep the run's end for the next run to write (never raises: the log says why)."""
        path = self._unclosed_path()
        if path is None:
            return
        entry = {**values, "id": self.run_id, "finished_at": values["finished_at"].isoformat()}
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            with path.open("a", encoding="utf-8") as file:
                file.write(json.dumps(entry, sort_keys=True) + "\n")
        except OSError:
            logger.warning("Could not keep the end of run %s in %s", self.run_id, path)


def _close_unclosed(session: Session, path: Path) -> None:
    """Write the ends of runs that could not write them (the last one kept wins)."""
    try:
        lines = path.read_text("utf-8").splitlines()
    except FileNotFoundError:
        return
    for line in lines:
        try:
            entry = json.loads(line)
            run_id = int(entry.pop("id"))
            entry["finished_at"] = dt.datetime.fromisoformat(entry["finished_at"])
        except (ValueError, KeyError, TypeError):
            continue  # a torn last line
        session.execute(update(CrawlRun).where(CrawlRun.id == run_id).values(entry))
