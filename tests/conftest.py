"""Shared fixtures: the snapshot server, databases (SQLite file, real PostgreSQL), crawls."""

from __future__ import annotations

import contextlib
import gc
import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from crawler import settings as project
from tests.siteserver import SiteServer

if TYPE_CHECKING:
    from collections.abc import Iterator

ROOT = Path(__file__).resolve().parent.parent
SITE = ROOT / "tests" / "fixtures" / "site"
POSTGRES_ENV = "ECNEWS_TEST_POSTGRES_URL"
# Every process this test session starts inherits this variable, orphans included: how
# `no_process_left_behind` finds them after their parent is gone.
SESSION_ENV = "ECNEWS_TEST_SESSION"
os.environ.setdefault(SESSION_ENV, uuid.uuid4().hex)
# A child orphaned while still importing notices only once its imports are done: slow
# under load.
LEFTOVER_GRACE_SECONDS = 10.0


def processes_with(name: str, value: str) -> dict[int, str]:
    """Live processes (pid → command line) whose environment holds name=value."""
    marker = f"{name}={value}".encode()
    found: dict[int, str] = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            environ = Path(entry.path, "environ").read_bytes()  # empty for a zombie
            command = Path(entry.path, "cmdline").read_bytes()
        except OSError:
            continue
        if marker in environ.split(b"\0"):
            found[int(entry.name)] = command.replace(b"\0", b" ").decode(errors="replace")
    return found


def _session_processes() -> dict[int, str]:
    # multiprocessing's resource tracker lives as long as this process, by design.
    return {
        pid: command
        for pid, command in processes_with(SESSION_ENV, os.environ[SESSION_ENV]).items()
        if "resource_tracker" not in command
    }


@pytest.fixture(autouse=True)
def collect_garbage_here() -> Iterator[None]:
    """Collect the test's garbage at its end: a file or socket it left open raises its
    ResourceWarning in this test, not in whichever later test the GC happens to run in.

    What survives is frozen (gc.freeze), so the next test's collection walks only the
    objects made since: a full walk of the heap (Scrapy, lxml, SQLAlchemy, dateparser)
    after each of a thousand small tests cost most of `make test-fast`."""
    yield
    gc.collect()
    gc.freeze()


@pytest.fixture(autouse=True)
def no_process_left_behind() -> Iterator[None]:
    """Fail a test that leaves a process of its own running (killing what it left)."""
    before = set(_session_processes())
    yield
    deadline = time.monotonic() + LEFTOVER_GRACE_SECONDS
    while left := {p: c for p, c in _session_processes().items() if p not in before}:
        if time.monotonic() > deadline:
            for pid in left:
                with contextlib.suppress(OSError):
                    os.kill(pid, signal.SIGKILL)
            pytest.fail(f"processes left behind: {left}")
        time.sleep(0.1)


def project_settings(**overrides: Any) -> dict[str, Any]:
    """crawler/settings.py as a dict for `get_crawler`, with `overrides`: a component built
    from it reads the project's defaults, as in a crawl."""
    return {
        **{name: getattr(project, name) for name in dir(project) if name.isupper()},
        **overrides,
    }


@pytest.fixture
def site() -> Iterator[SiteServer]:
    with SiteServer(SITE, "v1") as server:
        yield server


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'ecnews.db'}"


def postgres_admin_url() -> str:
    """The test PostgreSQL server's URL; skips the test locally, fails it in CI, if none."""
    url = os.environ.get(POSTGRES_ENV)
    if not url:
        if os.environ.get("CI"):
            pytest.fail(f"{POSTGRES_ENV} is not set: CI must start PostgreSQL (see .ci/run)")
        pytest.skip(f"{POSTGRES_ENV} not set: no PostgreSQL to test against")
    return url


@contextlib.contextmanager
def postgres_database() -> Iterator[str]:
    """A fresh, empty database on the real PostgreSQL server, dropped afterwards."""
    admin_url = postgres_admin_url()
    name = f"ecnews_test_{uuid.uuid4().hex[:12]}"
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(admin_url).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture
def postgres_url() -> Iterator[str]:
    with postgres_database() as url:
        yield url


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'ecnews.db'}"
    return str(request.getfixturevalue("postgres_url"))


def crawl_env(database_url: str, tmp_path: Path, **extra: str) -> dict[str, str]:
    """The environment of an `ecnews` child process: its own database, lock, jobdir and
    archive."""
    return {
        **os.environ,
        "DATABASE_URL": database_url,
        "ECNEWS_LOCK_FILE": str(tmp_path / "crawl.lock"),
        "ECNEWS_JOBDIR": str(tmp_path / "job"),
        "ECNEWS_ARCHIVE_DIR": str(tmp_path / "archive"),
        "PYTHONPATH": str(ROOT),
        **extra,
    }


def ecnews(
    *args: str,
    database_url: str,
    tmp_path: Path,
    env: dict[str, str] | None = None,
    timeout: float = 240,
) -> subprocess.CompletedProcess[str]:
    """Run the real `ecnews` command in a child process (Twisted's reactor runs once)."""
    full_env = crawl_env(database_url, tmp_path, **(env or {}))
    return subprocess.run(
        [sys.executable, "-m", "crawler.cli", *args],
        cwd=ROOT,
        env=full_env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


@pytest.fixture
def redis_url() -> Iterator[str]:
    """The real Redis server started for the tests, emptied before and after."""
    import redis

    url = os.environ.get("ECNEWS_TEST_REDIS_URL")
    if not url:
        if os.environ.get("CI"):
            pytest.fail("ECNEWS_TEST_REDIS_URL is not set: CI must start Redis (see .ci/run)")
        pytest.skip("ECNEWS_TEST_REDIS_URL not set: no Redis to test against")
    server = redis.Redis.from_url(url)
    server.flushdb()
    yield url
    server.flushdb()
    server.close()
