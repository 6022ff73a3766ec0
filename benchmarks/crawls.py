"""Serve a generated site and time real crawls of it, each in a fresh child process.

The site is served by ``tests.siteserver`` in a process of its own (its own interpreter
and GIL), so that serving and crawling do not share one Python thread. Each crawl is the
real command: ``scrapy crawl bare`` (the ceiling) or ``ecnews crawl --mode full`` (ours),
with the same ``-s`` settings. Timings come from the crawl's own Scrapy stats
(``elapsed_time_seconds``: spider opened to closed, so interpreter start-up and imports
are left out); CPU time from the kernel's accounting of the child (``wait4``), its peak
RSS from its own ``VmHWM``; the server's CPU time from ``/proc``.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Iterator, Sequence

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent

# The same for (a) and (b): no AutoThrottle (it would measure its own delays), enough
# concurrency to keep a local server busy, robots.txt still obeyed, quiet logs.
# The crawls run with the project's default settings; these only collect the figures.
BENCH_SETTINGS: dict[str, str] = {
    "STATS_CLASS": "benchmarks.statsfile.JsonFileStatsCollector",
}


@dataclass(slots=True)
class Served:
    root: Path
    url: str
    pid: int
    summary: dict[str, Any]
    paths: list[str] = field(default_factory=list)
    """Every HTML path of the site, for the server's own throughput test."""


def cpu_seconds(pid: int) -> float:
    """User + system CPU time a live process has used so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@contextlib.contextmanager
def serve(root: Path) -> Iterator[Served]:
    """``root/large`` served on 127.0.0.1 by tests.siteserver in its own process."""
    manifest = json.loads((root / "manifest.json").read_text("utf-8"))
    command = [sys.executable, "-m", "tests.siteserver", "--root", str(root)]
    proc = subprocess.Popen(  # noqa: S603 -- our own interpreter and module, no shell
        [*command, "--version", "large", "--no-faults"],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()  # "serving large at http://127.0.0.1:PORT"
        if " at " not in line:
            raise RuntimeError(f"site server did not start: {line!r}")
        paths = [
            f["path"]
            for f in manifest["snapshots"]["large"]["files"]
            if f["path"].endswith(".html")
        ]
        yield Served(root, line.rsplit(" at ", 1)[1].strip(), proc.pid, manifest["large"], paths)
    finally:
        proc.terminate()
        proc.wait(timeout=30)


@dataclass(slots=True)
class Crawl:
    spider: str
    pages: int
    articles: int
    elapsed: float
    """Spider opened to closed (Scrapy's elapsed_time_seconds)."""
    wall: float
    """The whole child process, start-up included."""
    cpu: float
    maxrss_mib: float
    server_cpu: float
    stats: dict[str, Any]

    @property
    def pages_per_s(self) -> float:
        return self.pages / self.elapsed

    @property
    def articles_per_s(self) -> float:
        return self.articles / self.elapsed


def crawl(
    spider: str,
    served: Served,
    workdir: Path,
    *,
    database_url: str | None = None,
    settings: dict[str, str] | None = None,
    timeout: float = 900,
    check: bool = True,
) -> Crawl:
    """One crawl of the whole site in a child process; raises if it fails (with ``check``,
    also when it ran to the end but judged itself failed: exit code 1)."""
    workdir.mkdir(parents=True, exist_ok=True)
    stats_file = workdir / "stats.json"
    every = {**BENCH_SETTINGS, "BENCH_STATS_FILE": str(stats_file), **(settings or {})}
    if spider == "bare":
        command = [str(BIN / "scrapy"), "crawl", "bare", "-a", f"base_url={served.url}"]
    else:
        command = [str(BIN / "ecnews"), "crawl", "--base-url", served.url, "--mode", "full"]
    for name, value in every.items():
        command += ["-s", f"{name}={value}"]
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        # bare opens no database; the variable is set anyway so nothing can touch data/.
        "DATABASE_URL": database_url or f"sqlite:///{workdir / 'unused.db'}",
        "ECNEWS_LOCK_FILE": str(workdir / "crawl.lock"),
        "ECNEWS_JOBDIR": str(workdir / "job"),
        "ECNEWS_ARCHIVE_DIR": str(workdir / "archive"),
    }
    log = workdir / "crawl.log"
    server_before = cpu_seconds(served.pid)
    started = time.perf_counter()
    with log.open("wb") as err:
        # Our own venv's commands with arguments as a list, no shell.
        proc = subprocess.Popen(command, cwd=ROOT, env=env, stdout=err, stderr=err)  # noqa: S603 -- our venv's command, a list
        watchdog = threading.Timer(timeout, proc.kill)
        watchdog.start()
        try:
            # wait4, not wait(): this child's CPU time, not all children's.
            _, status, usage = os.wait4(proc.pid, 0)
        finally:
            watchdog.cancel()
        proc.returncode = os.waitstatus_to_exitcode(status)
    wall = time.perf_counter() - started
    server_cpu = cpu_seconds(served.pid) - server_before
    if (check and proc.returncode != 0) or not stats_file.exists():
        tail = log.read_text("utf-8", "replace")[-3000:]
        raise RuntimeError(f"{spider} crawl exited {proc.returncode}; log tail:\n{tail}")
    stats = json.loads(stats_file.read_text("utf-8"))
    if spider == "bare":
        articles = int(stats.get("bare/articles", 0))
    else:
        articles = int(stats.get("pipeline/persist/new", 0)) + int(
            stats.get("pipeline/persist/merged", 0)
        )
    return Crawl(
        spider=spider,
        pages=int(stats.get("response_received_count", 0)),
        articles=articles,
        elapsed=float(stats["elapsed_time_seconds"]),
        wall=wall,
        cpu=usage.ru_utime + usage.ru_stime,
        # The child's own high-water mark (see statsfile.peak_rss_kib), not ru_maxrss.
        maxrss_mib=int(stats.get("bench/peak_rss_kib", usage.ru_maxrss)) / 1024,
        server_cpu=server_cpu,
        stats=stats,
    )


def check_complete(result: Crawl, summary: dict[str, Any]) -> list[str]:
    """What the crawl missed of the site, if anything (a fast crawl that skipped pages
    would be a false result)."""
    problems = []
    if result.pages != summary["crawl_requests"]:
        problems.append(
            f"{result.spider}: {result.pages} pages, expected {summary['crawl_requests']}"
        )
    if result.articles != summary["article_urls"]:
        problems.append(
            f"{result.spider}: {result.articles} articles, expected {summary['article_urls']}"
        )
    if result.spider != "bare":
        new = int(result.stats.get("pipeline/persist/new", 0))
        if new != summary["stored_articles"]:
            problems.append(f"news: stored {new} articles, expected {summary['stored_articles']}")
    return problems


async def _client(host: str, port: int, paths: Sequence[str], start: int, step: int) -> int:
    reader, writer = await asyncio.open_connection(host, port)
    done = 0
    try:
        for path in paths[start::step]:
            writer.write(f"GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\n\r\n".encode())
            length = 0
            while (line := await reader.readline()) not in (b"\r\n", b""):
                if line[:15].lower() == b"content-length:":
                    length = int(line[15:])
            await reader.readexactly(length)
            done += 1
    finally:
        writer.close()
    return done


def server_throughput(served: Served, connections: int = 16) -> tuple[float, float]:
    """Requests/s the server answers to a lean keep-alive client fetching every page once
    over ``connections`` connections, and the server's CPU seconds per request. A floor
    of its capacity: the client shares the machine's two cores with it."""
    host, _, port = served.url.removeprefix("http://").partition(":")
    paths = served.paths

    async def run() -> int:
        counts = await asyncio.gather(
            *(_client(host, int(port), paths, i, connections) for i in range(connections))
        )
        return sum(counts)

    before = cpu_seconds(served.pid)
    started = time.perf_counter()
    done = asyncio.run(run())
    elapsed = time.perf_counter() - started
    return done / elapsed, (cpu_seconds(served.pid) - before) / done
