"""`make bench`: what the pipeline costs on top of Scrapy's own crawl, as one table.

    .venv/bin/python benchmarks/run.py [--quick] [--articles 5000] [--repeats 3]
                                       [--no-postgres] [--json results.json] [--keep]

Every figure is the median of ``--repeats`` runs (crawls alternate a, b-SQLite,
b-PostgreSQL, so drift hits all alike), on a site written by benchmarks/generate_site.py
and served by tests/siteserver.py in a process of its own:

- full crawl: (a) ``scrapy crawl bare`` (crawler/spiders/bare.py: the same links, nothing
  extracted or stored: the ceiling) and (b) ``ecnews crawl --mode full`` with every
  pipeline, into a fresh, migrated SQLite file and PostgreSQL database; pages/s and
  articles/s over the crawl's own elapsed time (start-up excluded), and b/a;
- the server: its throughput to a lean client, and its CPU share during the crawls (is it
  the bottleneck?);
- per-article cost of each stage, from a replay of the generated pages through the real
  spider and pipelines without the network (benchmarks/stages.py);
- date parsing: benchmarks/bench_dates.py (parse_published vs dateparser.parse);
- peak RSS of the news crawl at two site sizes (kernel accounting of the child process);
- storing cost per article into an empty database and into one holding 1,000,000 articles
  (benchmarks/preload.py).

Without ECNEWS_TEST_POSTGRES_URL, the script re-runs itself under scripts/with-services.sh,
which starts a throwaway PostgreSQL (when its Debian package is installed; otherwise the
PostgreSQL rows are skipped). ``--quick`` is a smoke run (small site, one repeat), well
under a minute; its figures mean little.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import sys
import tempfile
import time
import warnings
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as a script: make the project importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import dateparser
from parsel import Selector
from sqlalchemy import create_engine, text
from w3lib.encoding import html_to_unicode

from benchmarks import crawls, stages, workers
from benchmarks.databases import POSTGRES_ENV, Databases
from benchmarks.generate_site import generate
from benchmarks.preload import preload
from benchmarks.report import median, table
from pipelines.items import ArticleItem
from pipelines.rules.dates import _YEAR_RE, _clean, parse_published, strip_label
from storage.zone import SITE_ZONE

ROOT = Path(__file__).resolve().parent.parent
SITE_URL = "http://127.0.0.1:8080"  # the replays' base URL; nothing listens there


class Bench:
    def __init__(self, args: argparse.Namespace, workdir: Path, dbs: Databases) -> None:
        self.args = args
        self.workdir = workdir
        self.dbs = dbs
        self.kinds = ["sqlite"] + (["postgresql"] if dbs.admin_url else [])
        self.results: dict[str, Any] = {"notes": []}
        self._n = 0

    def note(self, text_: str) -> None:
        print(f"  ! {text_}", flush=True)
        self.results["notes"].append(text_)

    def step(self, text_: str) -> None:
        print(f"[{time.strftime('%H:%M:%S')}] {text_}", flush=True)

    def name(self, what: str) -> str:
        self._n += 1
        return f"bench_{what}_{self._n}"

    # -- sites -------------------------------------------------------------------------

    def site(self, articles: int) -> Path:
        out = self.workdir / f"site-{articles}"
        if not (out / "manifest.json").exists():
            started = time.perf_counter()
            summary = generate(articles, out, self.args.seed)
            self.step(
                f"generated {articles:,} articles in {time.perf_counter() - started:.1f}s: "
                f"{summary['crawl_requests']:,} pages, {summary['bytes'] / 1e6:.1f} MB"
            )
        return out

    # -- crawls ------------------------------------------------------------------------

    def crawl(self, spider: str, served: crawls.Served, kind: str | None) -> crawls.Crawl:
        name = self.name(kind or "bare")
        url = self.dbs.fresh(kind, name) if kind else None
        try:
            result = crawls.crawl(spider, served, self.workdir / name, database_url=url)
        finally:
            if kind:
                self.dbs.drop(kind, name)
        for problem in crawls.check_complete(result, served.summary):
            self.note(problem)
        return result

    def crawls(self) -> None:
        root = self.site(self.args.articles)
        runs: dict[str, list[crawls.Crawl]] = {"bare": [], **{k: [] for k in self.kinds}}
        with crawls.serve(root) as served:
            rate, cpu_per_request = crawls.server_throughput(served)
            self.results["site"] = served.summary
            self.results["server"] = {"req_per_s": rate, "cpu_per_request": cpu_per_request}
            self.step(f"server: {rate:,.0f} req/s to a 16-connection client")
            for repeat in range(self.args.repeats):
                for kind in ["bare", *self.kinds]:
                    result = self.crawl(
                        "bare" if kind == "bare" else "news",
                        served,
                        None if kind == "bare" else kind,
                    )
                    runs[kind].append(result)
                    self.step(
                        f"crawl {repeat + 1}/{self.args.repeats} {kind:10} "
                        f"{result.pages_per_s:6.0f} pages/s {result.articles_per_s:6.0f} articles/s "
                        f"({result.elapsed:.1f}s, CPU {result.cpu / result.wall:.0%} of a core, "
                        f"server {result.server_cpu / result.elapsed:.0%}, RSS {result.maxrss_mib:.0f} MiB)"
                    )
        self.results["crawls"] = {
            kind: [
                {
                    "pages": r.pages,
                    "articles": r.articles,
                    "elapsed": r.elapsed,
                    "wall": r.wall,
                    "cpu": r.cpu,
                    "maxrss_mib": r.maxrss_mib,
                    "server_cpu": r.server_cpu,
                }
                for r in results
            ]
            for kind, results in runs.items()
        }

    def scale_out(self) -> None:
        """1, 2 and 3 distributed workers on the same site (one run each: each is long)."""
        redis_url = os.environ.get("ECNEWS_TEST_REDIS_URL")
        if not (redis_url and self.dbs.admin_url):
            self.note("no scale-out figures: they need PostgreSQL and Redis")
            return
        root = self.site(self.args.articles)
        rates: dict[str, float] = {}
        with crawls.serve(root) as served:
            for count in (1, 2, 3):
                name = self.name(f"workers{count}")
                url = self.dbs.fresh("postgresql", name)
                try:
                    result = workers.run(served, url, redis_url, count, self.workdir / name)
                finally:
                    self.dbs.drop("postgresql", name)
                rates[str(count)] = result.pages_per_s
                self.step(
                    f"{count} distributed worker(s): {result.pages_per_s:.0f} pages/s "
                    f"({result.pages} pages in {result.seconds:.1f}s)"
                )
        self.results["workers"] = rates

    # -- stages and persist scaling ----------------------------------------------------

    def stages(self) -> dict[str, list[Any]]:
        """Per-stage µs per article, per database kind; returns the items to persist."""
        site = self.site(self.args.replay_articles) / "large"
        costs: dict[str, dict[str, list[float]]] = {}
        items: dict[str, list[Any]] = {}
        for kind in self.kinds:
            for _ in range(self.args.repeats):
                name = self.name(f"replay_{kind}")
                url = self.dbs.fresh(kind, name)
                replay = stages.replay(site, SITE_URL, url)
                self.dbs.drop(kind, name)
                for stage, micros in replay.micros_per_article().items():
                    costs.setdefault(stage, {}).setdefault(kind, []).append(micros)
                items.setdefault(kind, replay.persisted)
            self.step(f"replayed {replay.articles:,} articles x{self.args.repeats} into {kind}")
        self.results["stages"] = {
            stage: {kind: median(values) for kind, values in per_kind.items()}
            for stage, per_kind in costs.items()
        }
        self.results["replay_articles"] = replay.articles
        return items

    def persist_scaling(self, items: dict[str, list[Any]]) -> None:
        """Store the same articles into an empty database and into one holding
        ``--preload`` articles; each repeat takes a different third of the replayed
        articles (so the preloaded database is used as it is, never copied)."""
        rows = self.args.preload
        out: dict[str, Any] = {}
        for kind in self.kinds:
            loaded = self.name(f"preload_{kind}")
            load_seconds = preload(self.dbs.fresh(kind, loaded, migrate=False), rows)
            self.step(f"preloaded {rows:,} articles into {kind} in {load_seconds:.0f}s")
            empty: list[float] = []
            full: list[float] = []
            for part in partition(items[kind], self.args.repeats):
                articles = sum(isinstance(item, ArticleItem) for item in part)
                name = self.name(f"persist_{kind}")
                seconds = stages.store_cost(part, self.dbs.fresh(kind, name))
                empty.append(seconds * 1e6 / articles)
                self.dbs.drop(kind, name)
                seconds = stages.store_cost(part, self.dbs.url(kind, loaded))
                full.append(seconds * 1e6 / articles)
            self.dbs.drop(kind, loaded)
            out[kind] = {
                "empty": median(empty),
                "preloaded": median(full),
                "rows": rows,
                "load_seconds": load_seconds,
                "articles_per_run": articles,
            }
            self.step(
                f"store into {kind}: {median(empty):.0f} µs/article empty, "
                f"{median(full):.0f} with {rows:,} stored"
            )
        self.results["persist"] = out

    # -- memory ------------------------------------------------------------------------

    def memory(self) -> None:
        """Peak RSS of (b) and, to tell Scrapy's own growth from ours, of (a)."""
        out: dict[str, dict[str, float]] = {"news": {}, "bare": {}}
        for size in self.args.rss_sizes:
            with crawls.serve(self.site(size)) as served:
                news = self.crawl("news", served, "sqlite")
                bare = self.crawl("bare", served, None)
            out["news"][str(size)] = news.maxrss_mib
            out["bare"][str(size)] = bare.maxrss_mib
            self.step(
                f"crawl of {size:,} articles: peak RSS news {news.maxrss_mib:.0f} MiB, "
                f"bare {bare.maxrss_mib:.0f} MiB"
            )
        self.results["rss_mib"] = out

    # -- dates -------------------------------------------------------------------------

    def dates(self) -> None:
        repeats, seconds = (1, 0.05) if self.args.quick else (5, 0.2)
        self.results["dates"] = dates_benchmark(repeats, seconds)
        self.step(f"date parsing: {self.results['dates']['speed_up']:.0f}x dateparser.parse")


def partition(items: list[Any], parts: int) -> list[list[Any]]:
    """``parts`` disjoint sets of articles, each with the listing links that name them, in
    the order they were persisted."""
    urls = [item.url for item in items if isinstance(item, ArticleItem)]
    out = []
    for part in range(parts):
        chosen = set(urls[part::parts])
        out.append([item for item in items if getattr(item, "url", None) in chosen])
    return out


def dates_benchmark(repeats: int, seconds: float) -> dict[str, Any]:
    """Timed with benchmarks/bench_dates.py's own functions (another engineer's script) on
    the snapshot's date strings; a small equivalent if it is not importable."""
    try:
        from benchmarks import bench_dates  # noqa: PLC0415 -- optional, owned elsewhere

        every = bench_dates.snapshot_date_strings()
        check, time_it = bench_dates.check_identical, bench_dates.time_it
        plain = bench_dates.plain_dateparser
    except (ImportError, AttributeError):
        every, check, time_it, plain = _dates_fallback()
    strings = [s for s in every if _YEAR_RE.search(_clean(s))]  # no 4-digit year: not compared
    different = check(strings)
    ours = time_it(parse_published, strings, repeats, seconds)
    theirs = time_it(plain, strings, repeats, seconds)
    return {
        "strings": len(strings),
        "distinct": len(set(strings)),
        "ours": ours,
        "dateparser": theirs,
        "speed_up": ours / theirs,
        "identical": not different,
        "differences": different,
    }


def _dates_fallback() -> tuple[list[str], Any, Any, Any]:
    """What bench_dates.py provides, in brief: strings, identity check, timer, dateparser."""
    settings = {"TIMEZONE": SITE_ZONE, "RETURN_AS_TIMEZONE_AWARE": True}
    every = []
    for page in sorted((ROOT / "tests" / "fixtures" / "site").glob("v*/**/*.html")):
        _, page_text = html_to_unicode(None, page.read_bytes())
        every += Selector(text=page_text).css("span.time::text, span.date::text").getall()

    def plain(value: str) -> object:
        return dateparser.parse(strip_label(_clean(value)), settings=settings)

    def check(strings: list[str]) -> list[str]:
        return [
            s for s in set(strings) if (p := parse_published(s)) is None or p.moment != plain(s)
        ]

    def time_it(parse: Any, strings: list[str], repeats: int, seconds: float) -> float:
        rates = []
        for _ in range(repeats + 1):  # the first run warms up
            count, started = 0, time.perf_counter()
            while (elapsed := time.perf_counter() - started) < seconds:
                for value in strings:
                    parse(value)
                count += len(strings)
            rates.append(count / elapsed)
        return median(rates[1:])

    return every, check, time_it, plain


def postgres_version(admin_url: str) -> str:
    engine = create_engine(admin_url)
    with engine.connect() as conn:
        version = str(conn.execute(text("SHOW server_version")).scalar())
    engine.dispose()
    return f"PostgreSQL {version.split(maxsplit=1)[0]}"


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--quick", action="store_true", help="smoke run: small site, 1 repeat")
    parser.add_argument("--articles", type=int, help="site size for the crawls (default 5000)")
    parser.add_argument("--repeats", type=int, help="runs per figure (default 3)")
    parser.add_argument("--preload", type=int, help="articles stored beforehand (default 1M)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--no-postgres", action="store_true", help="SQLite only")
    parser.add_argument("--json", type=Path, help="also write every figure to this file")
    parser.add_argument("--keep", action="store_true", help="keep the work folder")
    args = parser.parse_args(argv)
    quick = args.quick
    args.articles = args.articles or (300 if quick else 5000)
    args.repeats = args.repeats or (1 if quick else 3)
    args.preload = args.preload or (10_000 if quick else 1_000_000)
    args.rss_sizes = (150, 600) if quick else (1000, 10_000)
    args.replay_articles = 150 if quick else 500
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if (
        not args.no_postgres
        and not os.environ.get(POSTGRES_ENV)
        and not os.environ.get("ECNEWS_BENCH_UNDER_SERVICES")
        and list(Path("/usr/lib/postgresql").glob("*/bin/initdb"))
    ):
        # A throwaway PostgreSQL for the run, started and removed by the tests' own script.
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
    warnings.simplefilter("ignore")  # library deprecation chatter would bury the table
    # The single-process crawl is measured: a REDIS_URL would switch to the shared frontier.
    os.environ.pop("REDIS_URL", None)
    admin_url = None if args.no_postgres else os.environ.get(POSTGRES_ENV)
    started = time.perf_counter()
    workdir = Path(tempfile.mkdtemp(prefix="ecnews-bench-"))
    dbs = Databases(workdir, admin_url)
    bench = Bench(args, workdir, dbs)
    if admin_url:
        bench.results["postgres_version"] = postgres_version(admin_url)
    else:
        bench.note("SQLite only: --no-postgres, or no ECNEWS_TEST_POSTGRES_URL and none installed")
    try:
        bench.crawls()
        bench.scale_out()
        bench.memory()
        items = bench.stages()
        bench.persist_scaling(items)
        bench.dates()
    finally:
        dbs.close()
        if not args.keep:
            with contextlib.suppress(OSError):
                shutil.rmtree(workdir)
    wall = time.perf_counter() - started
    print(table(bench.results, args, wall), flush=True)
    if args.json:
        args.json.write_text(
            json.dumps({**bench.results, "wall_seconds": wall}, indent=1, default=str)
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
