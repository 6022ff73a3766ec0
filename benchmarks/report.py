"""The table `make bench` prints, from the figures benchmarks/run.py collected."""

from __future__ import annotations

import os
import platform
import sqlite3
import statistics
from math import nan
from typing import TYPE_CHECKING, Any

import scrapy

if TYPE_CHECKING:
    import argparse

TARGETS = {"sqlite": 0.90, "postgresql": 0.85}
DATES_TARGET = 20.0
PERSIST_TARGET = 1.5
RSS_TARGET = 1.2
KINDS_LABEL = {"sqlite": "SQLite", "postgresql": "PostgreSQL"}


def median(values: list[float]) -> float:
    return statistics.median(values) if values else nan


def verdict(ok: bool, miss: str) -> str:
    return "met" if ok else f"MISSED: {miss}"


def table(results: dict[str, Any], args: argparse.Namespace, wall: float) -> str:
    lines = [
        "",
        *_header(results, args),
        "",
        *_crawl_rows(results),
        "",
        *_worker_rows(results),
        *_stage_rows(results),
        "",
        *_date_rows(results["dates"]),
        "",
        *_rss_rows(results["rss_mib"], args.rss_sizes),
        "",
        *_persist_rows(results["persist"]),
    ]
    lines += [f"note: {note}" for note in results["notes"]]
    lines += ["", f"total wall time {wall / 60:.1f} min ({os.cpu_count()} cores)"]
    return "\n".join(lines)


def _header(results: dict[str, Any], args: argparse.Namespace) -> list[str]:
    site, server, runs = results["site"], results["server"], results["crawls"]
    every = [r for rs in runs.values() for r in rs]
    server_share = median([r["server_cpu"] / r["elapsed"] for r in every])
    crawler_share = median([r["cpu"] / r["wall"] for r in every])
    postgres = f", {results['postgres_version']}" if results.get("postgres_version") else ""
    return [
        (
            f"ecnews benchmark: {os.cpu_count()} cores (nproc), Python "
            f"{platform.python_version()}, Scrapy {scrapy.__version__}, "
            f"SQLite {sqlite3.sqlite_version}{postgres}"
        ),
        (
            f"site: {args.articles:,} articles ({site['article_urls']:,} URLs incl. "
            f"{site['copies']} syndicated copies, {site['crawl_requests']:,} pages, "
            f"{site['bytes'] / 1e6:.1f} MB, {site['multi_page']} multi-page, "
            f"{site['gbk_pages']} GBK, {site['dead_links']} dead links), seed {args.seed}; "
            f"medians of {args.repeats} run(s)"
        ),
        (
            f"server: tests.siteserver in its own process answers {server['req_per_s']:,.0f} "
            f"req/s to a 16-connection client; during the crawls it uses {server_share:.0%} of "
            f"a core and the crawl process {crawler_share:.0%}: the crawler is the bottleneck"
        ),
    ]


def _crawl_rows(results: dict[str, Any]) -> list[str]:
    runs = results["crawls"]

    def rate(kind: str, what: str) -> float:
        return median([r[what] / r["elapsed"] for r in runs[kind]])

    a_pages = rate("bare", "pages")
    lines = [
        f"{'full crawl':44}{'pages/s':>9}{'articles/s':>12}{'b/a':>7}  target",
        f"{'(a) bare Scrapy spider (the ceiling)':44}{a_pages:9.0f}{rate('bare', 'articles'):12.0f}",
    ]
    for kind, target in TARGETS.items():
        label = f"(b) news, all pipelines -> {KINDS_LABEL[kind]}"
        if kind not in runs:
            lines.append(f"{label:44}  skipped: no PostgreSQL")
            continue
        # Each repeat runs (a) and (b) back to back: b/a is the median of those pairs.
        pairs = [
            (b["pages"] / b["elapsed"]) / (a["pages"] / a["elapsed"])
            for a, b in zip(runs["bare"], runs[kind], strict=False)
        ]
        ratio = median(pairs)
        miss = f"{ratio:.2f}, {target / ratio:.2f}x too slow"
        lines.append(
            f"{label:44}{rate(kind, 'pages'):9.0f}{rate(kind, 'articles'):12.0f}{ratio:7.2f}"
            f"  >= {target:.2f}: {verdict(ratio >= target, miss)}"
            f" (pairs {min(pairs):.2f}-{max(pairs):.2f})"
        )
    per_page = 1e6 / a_pages
    lines.append(
        f"  (a) takes {per_page:,.0f} µs per page on one core; b/a = 0.90 leaves "
        f"{per_page / 0.90 - per_page:,.0f} µs per page for everything ours"
    )
    return lines


def _worker_rows(results: dict[str, Any]) -> list[str]:
    rates = results.get("workers")
    if not rates:
        return []
    one = rates.get("1") or nan
    row = " | ".join(
        f"{n} worker(s) {rate:,.0f} pages/s ({rate / one:.2f}x)" for n, rate in rates.items()
    )
    return [
        "scale-out, full crawl, Redis frontier + PostgreSQL (one run each)",
        f"  {row}",
        "",
    ]


def _stage_rows(results: dict[str, Any]) -> list[str]:
    kinds = [k for k in TARGETS if k in results["crawls"]]
    title = (
        f"per-article cost of each stage (µs), replay of {results['replay_articles']:,} articles"
    )
    lines = [f"{title:60}" + "".join(f"{KINDS_LABEL[k]:>12}" for k in kinds)]
    total = dict.fromkeys(kinds, 0.0)
    for stage, per_kind in results["stages"].items():
        for k in kinds:
            total[k] += per_kind.get(k, 0.0)
        lines.append(f"  {stage:58}" + "".join(f"{per_kind.get(k, nan):12.0f}" for k in kinds))
    lines.append(f"  {'total':58}" + "".join(f"{total[k]:12.0f}" for k in kinds))
    return lines


def _date_rows(dates: dict[str, Any]) -> list[str]:
    ok = dates["identical"] and dates["speed_up"] >= DATES_TARGET
    miss = f"{dates['speed_up']:.1f}x" if dates["identical"] else "results differ"
    title = f"date parsing, {dates['strings']} snapshot strings ({dates['distinct']} distinct)"
    return [
        f"{title:60}{'parses/s':>12}",
        f"  {'pipelines.rules.dates.parse_published':58}{dates['ours']:12,.0f}",
        f"  {'dateparser.parse':58}{dates['dateparser']:12,.0f}",
        f"  ratio {dates['speed_up']:.0f}x, identical results: "
        f"{'yes' if dates['identical'] else 'NO'}; target >= {DATES_TARGET:.0f}x and identical: "
        + verdict(ok, miss),
    ]


def _rss_rows(rss: dict[str, dict[str, float]], sizes: tuple[int, int]) -> list[str]:
    small, large = (str(size) for size in sizes)
    ratio = rss["news"][large] / rss["news"][small]
    lines = [
        f"{'peak RSS of the crawl (MiB)':60}{int(small):>10,}{int(large):>11,}{'ratio':>7}  target"
    ]
    for spider, label in (("news", "(b) news -> SQLite"), ("bare", "(a) bare, for comparison")):
        figures = rss[spider]
        lines.append(
            f"  {label:58}{figures[small]:10.0f}{figures[large]:11.0f}"
            f"{figures[large] / figures[small]:7.2f}"
            + (
                f"  <= {RSS_TARGET}: " + verdict(ratio <= RSS_TARGET, f"{ratio:.2f}")
                if spider == "news"
                else ""
            )
        )
    return lines


def _persist_rows(persist: dict[str, Any]) -> list[str]:
    title = "storing cost per article (µs, store stage incl. its listing links)"
    lines = [f"{title:60}{'empty':>10}{'preloaded':>11}{'ratio':>7}  target"]
    for kind, figures in persist.items():
        ratio = figures["preloaded"] / figures["empty"]
        label = f"{KINDS_LABEL[kind]}, preloaded with {figures['rows']:,} articles"
        lines.append(
            f"  {label:58}{figures['empty']:10.0f}{figures['preloaded']:11.0f}{ratio:7.2f}"
            f"  <= {PERSIST_TARGET}: " + verdict(ratio <= PERSIST_TARGET, f"{ratio:.2f}")
        )
    return lines
