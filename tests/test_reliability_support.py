"""Helpers shared by the tests/test_reliability_*.py files (no tests here)."""

from __future__ import annotations

import contextlib
import json
import os
import socket
import subprocess
import sys
import threading
from typing import TYPE_CHECKING, Any, Self

from sqlalchemy import create_engine, select, text
from sqlalchemy.engine import make_url

from storage.db import Database
from storage.export import export_records
from storage.models import Article, ArticleCategory, ArticleUrl, CrawlRun
from tests.conftest import ROOT, ecnews

if TYPE_CHECKING:
    from pathlib import Path

    from tests.siteserver import SiteServer


def crawl(
    site: SiteServer | str,
    db: str,
    tmp_path: Path,
    *args: str,
    env: dict[str, str] | None = None,
    timeout: float = 120,
) -> subprocess.CompletedProcess[str]:
    """`ecnews crawl` of `site` into `db`, the spool under tmp_path, logging to crawl.log."""
    url = site if isinstance(site, str) else site.url
    return ecnews(
        "crawl",
        "--base-url",
        url,
        "--log-file",
        str(tmp_path / "crawl.log"),
        *args,
        database_url=db,
        tmp_path=tmp_path,
        env={"ECNEWS_SPOOL_DIR": str(tmp_path / "spool"), **(env or {})},
        timeout=timeout,
    )


def start_crawl(site_url: str, db: str, tmp_path: Path, *args: str) -> subprocess.Popen[str]:
    """`ecnews crawl` in the background (for kills); its output goes to crawl-bg.log."""
    env = {
        **os.environ,
        "DATABASE_URL": db,
        "ECNEWS_LOCK_FILE": str(tmp_path / "crawl.lock"),
        "ECNEWS_JOBDIR": str(tmp_path / "job"),
        "ECNEWS_SPOOL_DIR": str(tmp_path / "spool"),
        "PYTHONPATH": str(ROOT),
    }
    with (tmp_path / "crawl-bg.log").open("a") as log:
        return subprocess.Popen(
            [sys.executable, "-m", "crawler.cli", "crawl", "--base-url", site_url, *args],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=log,
            text=True,
        )


def export(db: str) -> list[dict[str, Any]]:
    """The export's records, read in this process (as `ecnews export` writes them)."""
    database = Database(db)
    try:
        with database.sessions() as session:
            return [json.loads(json.dumps(record)) for record in export_records(session)]
    finally:
        database.dispose()


def latest_run_cell(runs_table: str, column: str) -> str:
    """A column's cell of the newest run in `ecnews runs`' table, found by the header's
    position (the columns are aligned; a start time holds a space)."""
    header, latest = runs_table.splitlines()[:2]
    return latest[header.index(f"  {column}  ") + 2 :].split()[0]


def last_run(db: str) -> CrawlRun:
    database = Database(db)
    try:
        with database.sessions() as session:
            run = session.scalars(select(CrawlRun).order_by(CrawlRun.id.desc()).limit(1)).one()
            session.expunge(run)
            return run
    finally:
        database.dispose()


def half_written(db: str) -> list[str]:
    """Articles missing their URL row or their category (a write cut in half)."""
    database = Database(db)
    try:
        with database.sessions() as session:
            return list(
                session.scalars(
                    select(Article.url).where(
                        ~Article.id.in_(select(ArticleUrl.article_id))
                        | ~Article.id.in_(select(ArticleCategory.article_id))
                    )
                )
            )
    finally:
        database.dispose()


def sqlite_integrity(db: str) -> str:
    engine = create_engine(db)
    try:
        with engine.connect() as conn:
            return str(conn.execute(text("PRAGMA integrity_check")).scalar())
    finally:
        engine.dispose()


class TcpProxy:
    """A TCP proxy on 127.0.0.1 in front of `target`, that can be taken down like a
    restarting server: `down()` resets every open connection and refuses new ones until
    `up()`."""

    def __init__(self, target_host: str, target_port: int) -> None:
        self.target = (target_host, target_port)
        self._listener: socket.socket | None = None
        self._lock = threading.Lock()
        self._pairs: list[tuple[socket.socket, socket.socket]] = []
        self._thread: threading.Thread | None = None
        self._stopping = False
        self.port = 0
        self.refused = 0
        self._flowing = threading.Event()
        self._flowing.set()

    def __enter__(self) -> Self:
        self.up()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._stopping = True
        self.down()

    def up(self) -> None:
        listener = socket.socket()
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen(64)
        self.port = listener.getsockname()[1]
        self._listener = listener
        self._thread = threading.Thread(target=self._accept, args=(listener,), daemon=True)
        self._thread.start()

    def freeze(self) -> None:
        self._flowing.clear()

    def thaw(self) -> None:
        self._flowing.set()

    def down(self) -> None:
        """Close the listening socket (new connections are refused) and reset live ones."""
        self.thaw()  # a frozen pump would never notice its sockets are gone
        listener, self._listener = self._listener, None
        if listener is not None:
            with contextlib.suppress(OSError):
                listener.shutdown(socket.SHUT_RDWR)
            listener.close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        with self._lock:
            pairs, self._pairs = self._pairs, []
        for pair in pairs:
            for sock in pair:
                with contextlib.suppress(OSError):
                    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00" * 2)
                    # close() alone does not wake a pump thread blocked in recv(): the
                    # kernel socket would stay open, the peer's connection half-open.
                    sock.shutdown(socket.SHUT_RDWR)
                with contextlib.suppress(OSError):
                    sock.close()

    def url_for(self, database_url: str) -> str:
        return (
            make_url(database_url)
            .set(host="127.0.0.1", port=self.port)
            .render_as_string(hide_password=False)
        )

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return
            try:
                upstream = socket.create_connection(self.target, timeout=5)
            except OSError:
                client.close()
                continue
            upstream.settimeout(None)
            with self._lock:
                self._pairs.append((client, upstream))
            for source, sink in ((client, upstream), (upstream, client)):
                threading.Thread(
                    target=_pump, args=(source, sink, self._flowing), daemon=True
                ).start()


def _pump(source: socket.socket, sink: socket.socket, flowing: threading.Event) -> None:
    try:
        while data := source.recv(65536):
            flowing.wait()
            sink.sendall(data)
    except OSError:
        pass
    finally:
        for sock in (source, sink):
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
