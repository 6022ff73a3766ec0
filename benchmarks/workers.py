"""Scale-out: pages/s of 1, 2 and 3 `ecnews crawl --distributed` workers sharing one Redis
frontier and one PostgreSQL database, on the generated site (full crawl of a fresh round)."""

from __future__ import annotations

import os
import subprocess
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

import redis
from sqlalchemy import create_engine, text

from benchmarks.crawls import BENCH_SETTINGS, BIN, ROOT

if TYPE_CHECKING:
    from pathlib import Path

    from benchmarks.crawls import Served

IDLE_CLOSE_SECONDS = 2.0


@dataclass(slots=True)
class WorkersRun:
    workers: int
    pages: int
    seconds: float
    """From the seed to the last worker's last page (its idle wait excluded)."""

    @property
    def pages_per_s(self) -> float:
        return self.pages / self.seconds


def run(
    served: Served, database_url: str, redis_url: str, workers: int, workdir: Path
) -> WorkersRun:
    """Seed a full round, start `workers` processes, wait for all, count their pages."""
    workdir.mkdir(parents=True, exist_ok=True)
    redis.Redis.from_url(redis_url).flushdb()
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "DATABASE_URL": database_url,
        "REDIS_URL": redis_url,
        "ECNEWS_IDLE_CLOSE_SECONDS": str(IDLE_CLOSE_SECONDS),
    }
    settings = [
        arg
        for name, value in BENCH_SETTINGS.items()
        if name != "STATS_CLASS"
        for arg in ("-s", f"{name}={value}")
    ]
    base = [str(BIN / "ecnews"), "crawl", "--distributed", "--base-url", served.url]
    subprocess.run(  # noqa: S603 -- our own venv's command, arguments as a list
        [*base, "--seed", "--mode", "full"],
        cwd=ROOT,
        env=env,
        check=True,
        capture_output=True,
    )
    started = time.perf_counter()
    logs = [(workdir / f"worker-{n}.log").open("wb") for n in range(workers)]
    try:
        procs = [
            subprocess.Popen(  # noqa: S603 -- our own venv's command, arguments as a list
                [*base, *settings], cwd=ROOT, env=env, stdout=log, stderr=log
            )
            for log in logs
        ]
        codes = [proc.wait(timeout=1800) for proc in procs]
    finally:
        for log in logs:
            log.close()
    if any(codes):
        raise RuntimeError(f"distributed workers exited {codes}; logs in {workdir}")
    engine = create_engine(database_url)
    with engine.connect() as conn:
        pages = conn.execute(text("SELECT sum(pages) FROM crawl_runs")).scalar()
    engine.dispose()
    elapsed = time.perf_counter() - started
    # The last worker waited IDLE_CLOSE_SECONDS on an empty frontier before it left.
    return WorkersRun(workers, int(pages or 0), max(elapsed - IDLE_CLOSE_SECONDS, 1e-6))
