"""What the archive costs and what reextract gives back, on the generated site (default
3,000 articles): the bare ceiling (which archives nothing), a full crawl with the archive
off and one with it on, back to back, `--repeats` times; then `ecnews reextract` of the
last archived database with the site down.

    .venv/bin/python benchmarks/bench_archive.py [--articles 3000] [--repeats 3] [--json out.json]

Rows: crawl pages/s with the archive off and on, and b/a against bare for each (the median
of the repeats' pairs, with their spread), the archive's bytes per page and per article
page, and reextract articles/s against the crawl's (target >= 0.8), with the pages it read
and the requests it sent (0: the site is down while it runs, so any request would fail).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks import crawls  # after the path above
from benchmarks.generate_site import generate
from crawler.archive.store import index_entries


def _reextract(workdir: Path, database_url: str, archive: Path) -> tuple[dict[str, Any], str]:
    stats_file = workdir / "reextract-stats.json"
    command = [
        str(crawls.BIN / "ecnews"),
        "reextract",
        "-s",
        "STATS_CLASS=benchmarks.statsfile.JsonFileStatsCollector",
        "-s",
        f"BENCH_STATS_FILE={stats_file}",
    ]
    env = {
        **os.environ,
        "PYTHONPATH": str(crawls.ROOT),
        "DATABASE_URL": database_url,
        "ECNEWS_ARCHIVE_DIR": str(archive),
        "ECNEWS_LOCK_FILE": str(workdir / "reextract.lock"),
        "LOG_LEVEL": "WARNING",
    }
    result = subprocess.run(  # noqa: S603  # our own command, arguments as a list
        command, cwd=crawls.ROOT, env=env, capture_output=True, text=True, timeout=1800, check=False
    )
    if result.returncode != 0:
        raise RuntimeError(f"reextract exited {result.returncode}: {result.stderr[-3000:]}")
    return json.loads(stats_file.read_text("utf-8")), result.stdout


def run(articles: int, seed: int, workdir: Path, repeats: int) -> dict[str, Any]:
    site = workdir / "site"
    summary = generate(articles, site, seed)
    figures: dict[str, Any] = {"articles": articles, "pages": summary["crawl_requests"]}
    triples = []
    with crawls.serve(site) as served:
        for repeat in range(repeats):
            # A fresh folder and database each time; the last one is reextracted below.
            for kind in ("bare", "off", "on"):
                shutil.rmtree(workdir / kind, ignore_errors=True)
                (workdir / f"{kind}.db").unlink(missing_ok=True)
            bare = crawls.crawl("bare", served, workdir / "bare")
            off = crawls.crawl(
                "news",
                served,
                workdir / "off",
                database_url=f"sqlite:///{workdir / 'off.db'}",
                settings={"ARCHIVE_ENABLED": "False"},
            )
            on = crawls.crawl(
                "news", served, workdir / "on", database_url=f"sqlite:///{workdir / 'on.db'}"
            )
            triples.append((bare, off, on))
            print(
                f"[{time.strftime('%H:%M:%S')}] archive crawl {repeat + 1}/{repeats}: bare "
                f"{bare.pages_per_s:.0f}, off {off.pages_per_s:.0f}, on {on.pages_per_s:.0f} pages/s",
                file=sys.stderr,
                flush=True,
            )
    last = triples[-1][2]  # its database and archive are the ones reextracted below
    off_pairs = [off.pages_per_s / bare.pages_per_s for bare, off, _ in triples]
    on_pairs = [on.pages_per_s / bare.pages_per_s for bare, _, on in triples]
    archive = workdir / "on" / "archive"
    figures["crawl"] = {
        "bare_pages_per_s": statistics.median(b.pages_per_s for b, _, _ in triples),
        "off_pages_per_s": statistics.median(o.pages_per_s for _, o, _ in triples),
        "on_pages_per_s": statistics.median(o.pages_per_s for _, _, o in triples),
        "off_b_over_a": statistics.median(off_pairs),
        "off_spread": (min(off_pairs), max(off_pairs)),
        "on_b_over_a": statistics.median(on_pairs),
        "on_spread": (min(on_pairs), max(on_pairs)),
        "on_articles_per_s": last.articles_per_s,
        "archive_records": last.stats.get("archive/records"),
    }
    entries = list(index_entries(archive))
    total = sum(file.stat().st_size for file in archive.glob("*.warc.gz"))
    article_entries = [e for e in entries if "/news/" in e.url and not e.url.endswith("/")]
    article_entries = [e for e in article_entries if "list_" not in e.url]
    figures["disk"] = {
        "bytes": total,
        "bytes_per_page": total / max(1, len(entries)),
        "response_bytes_per_article_page": sum(e.length for e in article_entries)
        / max(1, len(article_entries)),
    }
    # The site is down now: a request would fail the reextract.
    stats, summary_text = _reextract(workdir / "on", f"sqlite:///{workdir / 'on.db'}", archive)
    persisted = sum(
        int(stats.get(f"pipeline/persist/{outcome}", 0))
        for outcome in ("new", "updated", "unchanged", "merged", "held")
    )
    elapsed = float(stats["elapsed_time_seconds"])
    figures["reextract"] = {
        "pages_read": int(stats.get("archive/replay/pages", 0)),
        "articles": persisted,
        "elapsed": elapsed,
        "articles_per_s": persisted / elapsed,
        "vs_crawl": (persisted / elapsed) / last.articles_per_s,
        "failed_site_down": int(stats.get("news/article/failed", 0))
        + int(stats.get("news/listing/failed", 0)),
        "summary": summary_text.strip().splitlines(),
    }
    return figures


def table(figures: dict[str, Any]) -> str:
    crawl, disk, again = figures["crawl"], figures["disk"], figures["reextract"]
    rows = [
        f"archive bench: {figures['articles']:,} articles, {figures['pages']:,} pages",
        f"  bare (no archive)    {crawl['bare_pages_per_s']:7.0f} pages/s",
        (
            f"  crawl, archive off   {crawl['off_pages_per_s']:7.0f} pages/s   b/a {crawl['off_b_over_a']:.2f}"
            f" ({crawl['off_spread'][0]:.2f}-{crawl['off_spread'][1]:.2f})"
        ),
        (
            f"  crawl, archive on    {crawl['on_pages_per_s']:7.0f} pages/s   b/a {crawl['on_b_over_a']:.2f}"
            f" ({crawl['on_spread'][0]:.2f}-{crawl['on_spread'][1]:.2f})"
            f"   (target >= 0.85; {crawl['archive_records']} records)"
        ),
        (
            f"  archive on disk      {disk['bytes'] / 1e6:7.1f} MB   {disk['bytes_per_page'] / 1024:.1f} KiB/page"
            f"   {disk['response_bytes_per_article_page'] / 1024:.1f} KiB/article page (response record)"
        ),
        (
            f"  reextract            {again['articles_per_s']:7.0f} articles/s"
            f" = {again['vs_crawl']:.2f} x crawl (target >= 0.8);"
            f" {again['pages_read']} pages read, {again['failed_site_down']} failed with the site down"
        ),
    ]
    return "\n".join(rows)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--articles", type=int, default=3000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args(argv)
    os.environ.pop("REDIS_URL", None)
    workdir = Path(tempfile.mkdtemp(prefix="ecnews-bench-archive-"))
    started = time.perf_counter()
    try:
        figures = run(args.articles, args.seed, workdir, args.repeats)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    figures["wall_seconds"] = time.perf_counter() - started
    print(table(figures), flush=True)
    if args.json:
        args.json.write_text(json.dumps(figures, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
