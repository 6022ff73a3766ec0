"""A user's mistake is one line on stderr and the documented exit code, before anything
starts or is written; reading never writes; Ctrl-C says only how to resume.

Each test runs the real `ecnews` command in a child process."""

from __future__ import annotations

import contextlib
import hashlib
import signal
import socket
import subprocess
import sys
import time
from typing import TYPE_CHECKING

import pytest
from alembic import command

from crawler.exitcodes import EXIT_FAILED, EXIT_INTERRUPTED, EXIT_USAGE
from storage.db import Database, alembic_config
from storage.models import Category
from tests.conftest import ROOT, crawl_env, ecnews

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

    from tests.siteserver import SiteServer


# Each test starts a child process (an ecnews command, or the writer): not in make test-fast.
pytestmark = pytest.mark.process


def one_line(stderr: str) -> str:
    """The single line the user sees (and no traceback in it)."""
    lines = stderr.strip().splitlines()
    assert len(lines) == 1, stderr[-3000:]
    assert "Traceback" not in stderr
    return lines[0]


def files_under(folder: Path) -> list[str]:
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*"))


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def home(tmp_path: Path) -> Path:
    """An empty folder for the database, the lock and the job files: nothing may appear."""
    folder = tmp_path / "home"
    folder.mkdir()
    return folder


def run(
    home: Path, *args: str, db: str | None = None, **env: str
) -> subprocess.CompletedProcess[str]:
    return ecnews(
        *args,
        database_url=db or f"sqlite:///{home / 'ecnews.db'}",
        tmp_path=home,
        env={"ECNEWS_SPOOL_DIR": str(home / "spool"), **env},
        timeout=120,
    )


# -- 1. bad input: one line, exit 2, nothing written ---------------------------------------


@pytest.mark.parametrize(
    ("url", "says"),
    [
        ("htp://127.0.0.1/", "scheme must be http or https"),
        ("ftp://127.0.0.1/", "scheme must be http or https"),
        ("http://127.0.0.1:99999/", "Port out of range"),
        ("127.0.0.1/news", "no scheme"),
        ("http:///news", "no host"),
    ],
    ids=["typo-scheme", "ftp", "bad-port", "no-scheme", "no-host"],
)
def test_bad_base_url(home: Path, url: str, says: str) -> None:
    result = run(home, "crawl", "--base-url", url)
    assert result.returncode == EXIT_USAGE
    assert says in one_line(result.stderr)
    assert files_under(home) == []


def test_bad_base_url_leaves_no_job_to_resume(home: Path) -> None:
    run(home, "crawl", "--base-url", "127.0.0.1/news")
    result = run(home, "crawl", "--resume")
    assert result.returncode == EXIT_USAGE
    assert "no site" in one_line(result.stderr)
    assert files_under(home) == []


@pytest.mark.parametrize(
    ("url", "says"),
    [
        ("nonsense", "is not a database URL"),
        ("postgres://ecnews@127.0.0.1/ecnews", "write postgresql+psycopg://"),
        ("mysql://ecnews@127.0.0.1/ecnews", "mysql is not supported"),
        ("postgresql+psycopg2://ecnews@127.0.0.1/ecnews", "is not installed"),
        ("nosuchdriver://x", "unknown driver"),
    ],
    ids=["unparseable", "postgres-scheme", "mysql", "missing-driver", "unknown-driver"],
)
@pytest.mark.parametrize("command_line", [("crawl",), ("export",), ("runs",), ("db", "upgrade")])
def test_bad_database_url(home: Path, url: str, says: str, command_line: tuple[str, ...]) -> None:
    result = run(home, *command_line, *_site(command_line), db=url)
    assert result.returncode == EXIT_USAGE
    line = one_line(result.stderr)
    assert says in line
    assert "sqlite:///" in line  # the forms that work
    assert files_under(home) == []


def _site(command_line: tuple[str, ...]) -> tuple[str, ...]:
    return ("--base-url", "http://127.0.0.1:9/") if command_line == ("crawl",) else ()


def test_database_unreachable(home: Path) -> None:
    port = free_port()
    db = f"postgresql+psycopg://ecnews:secret@127.0.0.1:{port}/ecnews"
    result = run(home, "crawl", "--base-url", "http://127.0.0.1:9/", db=db)
    assert result.returncode == EXIT_FAILED
    line = one_line(result.stderr)
    assert f"database unreachable at 127.0.0.1:{port}" in line
    assert "secret" not in line
    assert files_under(home) == []


def test_site_refusing_connections(home: Path) -> None:
    port = free_port()
    result = run(home, "crawl", "--base-url", f"http://127.0.0.1:{port}/")
    assert result.returncode == EXIT_FAILED
    assert one_line(result.stderr) == (
        f"ecnews crawl: site unreachable: connection refused by 127.0.0.1:{port}"
    )
    assert "job" not in files_under(home)
    assert "ecnews.db" not in files_under(home)


def test_unknown_site_host(home: Path) -> None:
    result = run(home, "crawl", "--base-url", "http://no-such-host.invalid/")
    assert result.returncode == EXIT_FAILED
    assert "site unreachable: cannot resolve host" in one_line(result.stderr)


@contextlib.contextmanager
def silent_server() -> Iterator[int]:
    """A port that accepts connections and never answers: every request times out."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(64)
    try:
        yield int(listener.getsockname()[1])
    finally:
        listener.close()


def test_site_that_never_answers(home: Path) -> None:
    """The site takes connections but answers nothing: the crawl runs, and its verdict is
    one line; the monitors that would restate it (no links, no listing read) stay quiet."""
    with silent_server() as port:
        result = run(
            home,
            "crawl",
            "--base-url",
            f"http://127.0.0.1:{port}/",
            "-s",
            "DOWNLOAD_TIMEOUT=1",
            "-s",
            "RETRY_TIMES=0",
            "-s",
            "LOG_LEVEL=WARNING",
        )
    assert result.returncode == EXIT_FAILED
    lines = result.stderr.strip().splitlines()
    assert lines[-1] == (
        "ecnews crawl: site unreachable: no answer within DOWNLOAD_TIMEOUT"
        " (every listing page, after retries)"
    )
    assert "Traceback" not in result.stderr
    assert "redesign" not in result.stderr
    assert "Crawl failed" not in result.stderr
    assert "[Spidermon]" not in result.stderr
    assert len(lines) <= 12, result.stderr  # a short block: one error per failed page


# -- 2. reading never writes ------------------------------------------------------------


@pytest.mark.parametrize("command_line", [("export",), ("runs",)], ids=["export", "runs"])
def test_reading_a_missing_database_creates_nothing(
    home: Path, command_line: tuple[str, ...]
) -> None:
    db = f"sqlite:///{home / 'no' / 'such' / 'ecnews.db'}"
    result = run(home, *command_line, db=db)
    assert result.returncode == EXIT_FAILED
    assert one_line(result.stderr) == (
        f"ecnews {command_line[0]}: no database at {home / 'no' / 'such' / 'ecnews.db'}"
    )
    assert files_under(home) == []


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.mark.parametrize("command_line", [("export",), ("runs",)], ids=["export", "runs"])
def test_a_schema_behind_the_code_is_not_migrated(
    home: Path, command_line: tuple[str, ...]
) -> None:
    db = f"sqlite:///{home / 'ecnews.db'}"
    command.upgrade(alembic_config(db), "0002")
    before = _digest(home / "ecnews.db")
    result = run(home, *command_line, db=db)
    assert result.returncode == EXIT_FAILED
    assert one_line(result.stderr).endswith("run ecnews db upgrade")
    assert _digest(home / "ecnews.db") == before


@pytest.fixture
def at_head(home: Path) -> str:
    db = f"sqlite:///{home / 'ecnews.db'}"
    database = Database(db)
    with database.sessions.begin() as session:
        session.add(Category(slug="rdjj", name="热点聚焦"))
    database.dispose()
    return db


def test_reading_does_not_write(home: Path, at_head: str) -> None:
    before = _digest(home / "ecnews.db")
    for command_line in (("export",), ("runs",)):
        result = run(home, *command_line, db=at_head)
        assert result.returncode == 0, result.stderr
    assert _digest(home / "ecnews.db") == before


def test_unknown_category(home: Path, at_head: str) -> None:
    result = run(home, "export", "--category", "nosuch", db=at_head)
    assert result.returncode == EXIT_USAGE
    assert one_line(result.stderr) == (
        "ecnews export: unknown category 'nosuch'; known: jxal, rdjj, sjbg, zcfg"
    )
    assert result.stdout == ""


def test_unwritable_output(home: Path, at_head: str) -> None:
    target = home / "no" / "such" / "dir" / "x.jsonl"
    result = run(home, "export", "-o", str(target), db=at_head)
    assert result.returncode == EXIT_FAILED
    assert one_line(result.stderr) == (
        f"ecnews export: cannot write {target}: No such file or directory"
    )
    assert not (home / "no").exists()


# -- 3. Ctrl-C / SIGTERM -------------------------------------------------------------------


@pytest.mark.slow
@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["sigint", "sigterm"])
def test_interrupt_says_only_how_to_resume(
    site: SiteServer, home: Path, signum: signal.Signals
) -> None:
    for path in ("/news/rdjj/", "/news/sjbg/", "/news/zcfg/", "/news/jxal/"):
        site.add_fault(path, delay_ms=400)
    env = crawl_env(f"sqlite:///{home / 'ecnews.db'}", home)
    process = subprocess.Popen(
        [
            *(sys.executable, "-m", "crawler.cli", "crawl", "--base-url", site.url),
            *("-s", "LOG_LEVEL=WARNING", "-s", "CONCURRENT_REQUESTS=1"),
        ],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 60
    while not site.requests_for("/news/rdjj/"):
        assert time.monotonic() < deadline, "the crawl never started"
        assert process.poll() is None, process.communicate(timeout=5)[1]
        time.sleep(0.05)
    process.send_signal(signum)
    _, stderr = process.communicate(timeout=60)
    assert process.returncode == EXIT_INTERRUPTED
    assert one_line(stderr) == "ecnews crawl: interrupted; run again with --resume to continue"


# -- no traceback unless LOG_LEVEL=DEBUG ---------------------------------------------------


@pytest.mark.parametrize(
    ("level", "traceback"), [("INFO", False), ("DEBUG", True)], ids=["info", "debug"]
)
def test_a_path_that_cannot_be_created(
    site: SiteServer, home: Path, level: str, *, traceback: bool
) -> None:
    blocker = home / "a-file"
    blocker.write_text("not a folder", "utf-8")
    log_file = blocker / "logs" / "crawl.log"
    result = run(
        home, "crawl", "--base-url", site.url, "--log-file", str(log_file), LOG_LEVEL=level
    )
    assert result.returncode == EXIT_FAILED
    if traceback:
        assert "Traceback" in result.stderr
    else:
        assert (
            one_line(result.stderr) == f"ecnews crawl: cannot use {blocker}/logs: Not a directory"
        )
