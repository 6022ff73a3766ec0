"""`make bench`, scale-out row: 1, 2 and 4 distributed workers, each with its own CPU.

    .venv/bin/python benchmarks/scaleout.py [--articles 3000] [--repeats 3]
                                            [--workers 1,2,4] [--core 0.2] [--json out.json]

Each worker (``ecnews crawl --distributed``, with the writer process it forks) runs in a
cgroup v1 cpu group of its own, capped at ``--core`` of a core (``cpu.cfs_quota_us`` over
a 100 ms ``cpu.cfs_period_us``), so the workers leave the shared services (one Redis, one
PostgreSQL, the site server) the rest of the machine and a worker count is measured as if
each worker had its own machine. Every round is a full crawl of a generated site into a
fresh PostgreSQL database, seeded afresh; pages/s runs from the first worker's spider
opening to the last response of the round (start-up and the wait for the round to end
are left out). Each round is checked complete: every page fetched once (each worker
fetches robots.txt), every article stored once. The CPU of the shared services is read
from /proc (a process's own time and that of its children, live or reaped).

Where the cgroups cannot be made (not root, no cgroup v1 cpu controller) the row is
skipped with the reason. The groups are removed afterwards, also when a round fails.
Without ECNEWS_TEST_POSTGRES_URL / ECNEWS_TEST_REDIS_URL the script re-runs itself
under scripts/with-services.sh.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

if __package__ in (None, ""):  # run as a script: make the project importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import redis
from sqlalchemy import create_engine, text

from benchmarks.crawls import BENCH_SETTINGS, BIN, ROOT, Served, serve
from benchmarks.databases import POSTGRES_ENV, Databases
from benchmarks.generate_site import generate
from benchmarks.report import median
from crawler.distributed import queue_key

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

REDIS_ENV = "ECNEWS_TEST_REDIS_URL"
CGROUP_CPU = Path("/sys/fs/cgroup/cpu")
PERIOD_US = 100_000
IDLE_CLOSE_SECONDS = 2.0
ROUND_TIMEOUT = 1800.0
TARGET = 3.5


# -- cgroups ----------------------------------------------------------------------------


def cgroups_unavailable() -> str | None:
    """Why capped groups cannot be made here, or None."""
    if not (CGROUP_CPU / "cpu.cfs_quota_us").exists():
        return f"no cgroup v1 cpu controller at {CGROUP_CPU}"
    probe = CGROUP_CPU / f"ecnews-probe-{os.getpid()}"
    try:
        probe.mkdir()
        (probe / "cpu.cfs_quota_us").write_text("-1")
    except OSError as error:
        return f"cannot write {CGROUP_CPU}: {error.strerror or error}"
    finally:
        with contextlib.suppress(OSError):
            probe.rmdir()
    return None


@contextlib.contextmanager
def cpu_groups(count: int, core: float) -> Iterator[list[Path]]:
    """``count`` cpu groups capped at ``core`` of a core each; on leaving, whatever still
    runs in them (our workers and their writers) is killed and the groups removed."""
    groups = []
    try:
        for n in range(count):
            group = CGROUP_CPU / f"ecnews-bench-{os.getpid()}-{n}"
            group.mkdir()
            groups.append(group)
            (group / "cpu.cfs_period_us").write_text(str(PERIOD_US))
            (group / "cpu.cfs_quota_us").write_text(str(round(core * PERIOD_US)))
        yield groups
    finally:
        for group in groups:
            _empty_and_remove(group)


def _empty_and_remove(group: Path) -> None:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            pids = [int(p) for p in (group / "cgroup.procs").read_text().split()]
        except OSError:
            return
        if not pids:
            break
        for pid in pids:  # only processes this script started ever join the group
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        time.sleep(0.1)
    with contextlib.suppress(OSError):
        group.rmdir()


def throttled_seconds(group: Path) -> float:
    for line in (group / "cpu.stat").read_text().splitlines():
        name, _, value = line.partition(" ")
        if name == "throttled_time":
            return int(value) / 1e9
    return 0.0


def _join(group: Path) -> Callable[[], None]:
    def join() -> None:  # in the child, before exec: the writer it forks inherits the group
        (group / "cgroup.procs").write_text(str(os.getpid()))

    return join


# -- CPU of the shared services ---------------------------------------------------------


def _stat(pid: int) -> list[str]:
    return Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()


def tree_cpu(pid: int) -> float:
    """CPU seconds of a process, its reaped children (cutime/cstime) and its live ones."""
    ticks = os.sysconf("SC_CLK_TCK")
    total = sum(int(v) for v in _stat(pid)[11:15])
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        with contextlib.suppress(OSError, IndexError, ValueError):
            fields = _stat(int(entry.name))
            if int(fields[1]) == pid:
                total += sum(int(v) for v in fields[11:15])
    return total / ticks


def service_pids(served: Served, redis_url: str, postgres_url: str) -> dict[str, int]:
    server = redis.Redis.from_url(redis_url, socket_timeout=30)
    redis_pid = int(server.info("server")["process_id"])
    engine = create_engine(postgres_url)
    with engine.connect() as conn:
        backend = int(conn.execute(text("SELECT pg_backend_pid()")).scalar_one())
    engine.dispose()
    return {
        "redis": redis_pid,
        "postgresql": int(_stat(backend)[1]),  # the postmaster: every backend's parent
        "site server": served.pid,
    }


class FrontierSampler(threading.Thread):
    """Samples the length of the shared request queue while a round runs."""

    def __init__(self, redis_url: str) -> None:
        super().__init__(daemon=True)
        self.server = redis.Redis.from_url(redis_url, socket_timeout=30)
        self.samples: list[tuple[float, int]] = []
        self.done = threading.Event()

    def run(self) -> None:
        while not self.done.wait(0.2):
            with contextlib.suppress(redis.RedisError):
                self.samples.append((time.time(), int(self.server.zcard(queue_key("news")))))

    def stop(self) -> None:
        self.done.set()
        self.join(timeout=5)

    def empty_share(self, start: float, end: float) -> float:
        inside = [n for at, n in self.samples if start <= at <= end]
        return sum(1 for n in inside if n == 0) / len(inside) if inside else 0.0


# -- one round --------------------------------------------------------------------------


@dataclass(slots=True)
class Round:
    workers: int
    pages: int
    seconds: float
    """First worker's spider opened to the round's last response."""
    worker_cpu: float
    """CPU seconds of the workers and their writers."""
    throttled: float
    """Seconds the cgroups held the workers back at their cap."""
    services: dict[str, float] = field(default_factory=dict)
    """CPU seconds each shared service used during the round."""
    frontier_empty: float = 0.0
    """Share of the round's samples (every 0.2 s) that found the shared queue empty: the
    workers had nothing to take (the listing walks did not keep the frontier filled)."""
    problems: list[str] = field(default_factory=list)

    @property
    def pages_per_s(self) -> float:
        return self.pages / self.seconds


def run_round(
    served: Served,
    *,
    database_url: str,
    redis_url: str,
    groups: list[Path],
    pids: dict[str, int],
    workdir: Path,
) -> Round:
    workdir.mkdir(parents=True, exist_ok=True)
    redis.Redis.from_url(redis_url).flushdb()
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "DATABASE_URL": database_url,
        "REDIS_URL": redis_url,
        "ECNEWS_IDLE_CLOSE_SECONDS": str(IDLE_CLOSE_SECONDS),
        "ECNEWS_SPOOL_DIR": str(workdir / "spool"),
    }
    base = [str(BIN / "ecnews"), "crawl", "--distributed", "--base-url", served.url]
    subprocess.run(  # noqa: S603 -- our own venv's command, arguments as a list
        [*base, "--seed", "--mode", "full"], cwd=ROOT, env=env, check=True, capture_output=True
    )
    services_before = {name: tree_cpu(pid) for name, pid in pids.items()}
    throttled_before = [throttled_seconds(group) for group in groups]
    procs, logs = [], []
    try:
        for n, group in enumerate(groups):
            settings = {**BENCH_SETTINGS, "BENCH_STATS_FILE": str(workdir / f"stats-{n}.json")}
            command = [*base, *(a for k, v in settings.items() for a in ("-s", f"{k}={v}"))]
            log = (workdir / f"worker-{n}.log").open("wb")
            logs.append(log)
            procs.append(
                subprocess.Popen(  # noqa: S603 -- our own venv's command, arguments as a list
                    command,
                    cwd=ROOT,
                    env=env,
                    stdout=log,
                    stderr=log,
                    # Joins its cgroup before exec (only a file write), so the worker and
                    # the writer it forks are capped from their first instruction.
                    preexec_fn=_join(group),  # noqa: PLW1509
                )
            )

        def kill_all() -> None:
            for proc in procs:
                proc.kill()

        watchdog = threading.Timer(ROUND_TIMEOUT, kill_all)
        watchdog.start()
        sampler = FrontierSampler(redis_url)
        sampler.start()
        cpu, codes = 0.0, []
        try:
            for proc in procs:
                _, status, usage = os.wait4(proc.pid, 0)  # this worker + its reaped writer
                proc.returncode = os.waitstatus_to_exitcode(status)
                codes.append(proc.returncode)
                cpu += usage.ru_utime + usage.ru_stime
        finally:
            watchdog.cancel()
            sampler.stop()
    finally:
        for log in logs:
            log.close()
    services = {name: tree_cpu(pid) - services_before[name] for name, pid in pids.items()}
    throttled = sum(throttled_seconds(g) - b for g, b in zip(groups, throttled_before, strict=True))
    if any(codes):
        raise RuntimeError(f"workers exited {codes}; logs in {workdir}")
    stats = [json.loads((workdir / f"stats-{n}.json").read_text()) for n in range(len(groups))]
    opened = min(dt.datetime.fromisoformat(s["start_time"]).timestamp() for s in stats)
    last = max(float(s["bench/last_response_at"]) for s in stats)
    pages = sum(int(s.get("response_received_count", 0)) for s in stats)
    result = Round(len(groups), pages, last - opened, cpu, throttled, services)
    result.frontier_empty = sampler.empty_share(opened, last)
    result.problems = check_round(result, served.summary, database_url)
    return result


def check_round(result: Round, summary: dict[str, Any], database_url: str) -> list[str]:
    """What the round missed or doubled: pages (robots.txt once per worker), articles."""
    problems = []
    expected_pages = summary["crawl_requests"] + result.workers - 1
    if result.pages != expected_pages:
        problems.append(
            f"{result.workers} workers: {result.pages} pages, expected {expected_pages}"
        )
    engine = create_engine(database_url)
    with engine.connect() as conn:
        articles = conn.execute(text("SELECT count(*) FROM articles")).scalar_one()
        urls = conn.execute(text("SELECT count(DISTINCT url) FROM article_urls")).scalar_one()
    engine.dispose()
    if articles != summary["stored_articles"]:
        problems.append(
            f"{result.workers} workers: {articles} articles stored, "
            f"expected {summary['stored_articles']}"
        )
    if urls != summary["article_urls"]:
        problems.append(
            f"{result.workers} workers: {urls} article URLs, expected {summary['article_urls']}"
        )
    return problems


# -- the row ----------------------------------------------------------------------------


def spread(values: list[float], fmt: str = "{:.1f}") -> str:
    text_ = fmt.format(median(values))
    if len(values) > 1:
        text_ += f" ({fmt.format(min(values))}-{fmt.format(max(values))})"
    return text_


def report(rounds: dict[int, list[Round]], args: argparse.Namespace, site: dict[str, Any]) -> str:
    counts = sorted(rounds)
    one = rounds[counts[0]]
    header = (
        f"scale-out: {args.articles:,} articles ({site['crawl_requests']:,} pages), one Redis "
        f"frontier + one PostgreSQL, each worker (+ its writer) capped at {args.core} core "
        f"(cgroup v1 cpu); {os.cpu_count()} cores; median of {args.repeats} (min-max)"
    )
    columns = (
        f"  {'workers':8} {'pages/s':20} {'speed-up':20} {'workers CPU':17} "
        f"{'throttled':16} {'empty':14} {'Redis':17} {'PostgreSQL':17} {'site server'}"
    )
    lines = [header, columns]
    for count in counts:
        runs = rounds[count]
        ups = [r.pages_per_s / o.pages_per_s for r, o in zip(runs, one, strict=True)]

        def cores(values: list[float]) -> str:
            return spread(values, "{:.2f}")

        lines.append(
            f"  {count:<8} {spread([r.pages_per_s for r in runs]):20} "
            f"{spread(ups, '{:.2f}x'):20} "
            f"{cores([r.worker_cpu / r.seconds for r in runs]):17} "
            f"{spread([r.throttled for r in runs], '{:.0f}s'):16} "
            f"{spread([100 * r.frontier_empty for r in runs], '{:.0f}%'):14} "
            + " ".join(
                f"{cores([r.services[name] / r.seconds for r in runs]):{width}}"
                for name, width in (("redis", 17), ("postgresql", 17), ("site server", 0))
            )
        )
    lines.append(
        "  (CPU in cores: CPU seconds over the round's seconds, the workers' including their "
        "start-up and final wait; throttled: time the caps held the workers back, summed over "
        "workers; empty: share of the round the shared queue was empty)"
    )
    last = counts[-1]
    up = median([r.pages_per_s for r in rounds[last]]) / median([r.pages_per_s for r in one])
    problems = [p for runs in rounds.values() for r in runs for p in r.problems]
    complete = "every round complete" if not problems else "INCOMPLETE: " + "; ".join(problems)
    verdict = "met" if up >= TARGET and not problems else "MISSED"
    lines.append(f"  {last} workers {up:.2f}x one, target >= {TARGET}x with {complete}: {verdict}")
    return "\n".join(lines)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--articles", type=int, default=3000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--workers", default="1,2,4", help="worker counts, comma-separated")
    parser.add_argument("--core", type=float, default=0.2, help="CPU cap of each worker")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--json", type=Path, help="also write every figure to this file")
    args = parser.parse_args(argv)
    args.counts = [int(n) for n in args.workers.split(",")]
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    reason = cgroups_unavailable()
    if reason:
        print(f"scale-out: skipped: {reason}", flush=True)
        return 0
    if not (os.environ.get(POSTGRES_ENV) and os.environ.get(REDIS_ENV)):
        if os.environ.get("ECNEWS_BENCH_UNDER_SERVICES"):
            print("scale-out: skipped: it needs PostgreSQL and Redis installed", flush=True)
            return 0
        os.environ["ECNEWS_BENCH_UNDER_SERVICES"] = "1"
        script = str(ROOT / "scripts" / "with-services.sh")
        os.execvp(  # noqa: S606 -- our own script, arguments as a list
            "bash",  # noqa: S607 -- whichever bash is on PATH, as `make` would run it
            [
                "bash",
                script,
                sys.executable,
                str(Path(__file__).resolve()),
                *(argv or sys.argv[1:]),
            ],
        )
    admin_url, redis_url = os.environ[POSTGRES_ENV], os.environ[REDIS_ENV]
    workdir = Path(tempfile.mkdtemp(prefix="ecnews-scaleout-"))
    dbs = Databases(workdir, admin_url)
    rounds: dict[int, list[Round]] = {count: [] for count in args.counts}
    try:
        generate(args.articles, workdir / "site", args.seed)
        with serve(workdir / "site") as served:
            pids = service_pids(served, redis_url, admin_url)
            for repeat in range(args.repeats):
                for count in args.counts:
                    name = f"scaleout_{repeat}_{count}"
                    url = dbs.fresh("postgresql", name)
                    try:
                        with cpu_groups(count, args.core) as groups:
                            result = run_round(
                                served,
                                database_url=url,
                                redis_url=redis_url,
                                groups=groups,
                                pids=pids,
                                workdir=workdir / name,
                            )
                    finally:
                        dbs.drop("postgresql", name)
                    rounds[count].append(result)
                    print(
                        f"[{time.strftime('%H:%M:%S')}] {repeat + 1}/{args.repeats} {count} "
                        f"worker(s): {result.pages_per_s:.1f} pages/s ({result.pages} pages in "
                        f"{result.seconds:.1f}s) {'; '.join(result.problems)}",
                        flush=True,
                    )
            site = served.summary
    finally:
        dbs.close()
        shutil.rmtree(workdir, ignore_errors=True)
    print(report(rounds, args, site), flush=True)
    if args.json:
        args.json.write_text(
            json.dumps({str(k): [asdict(r) for r in v] for k, v in rounds.items()}, indent=1)
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
