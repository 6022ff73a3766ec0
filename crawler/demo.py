"""`make crawl`: crawl NEWS_SITE_URL, or with none set the bundled snapshot served on
127.0.0.1; the full log goes to a file, the terminal gets a short summary: what this run
brought, articles per category, and how to search, browse, query and export them."""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import func, select

from crawler import settings
from crawler.cli import main as ecnews
from crawler.settings import database_options, database_url
from crawler.snapshot_site import SNAPSHOT, SnapshotSite
from storage.db import ReadError, open_readonly, redacted
from storage.models import Article, ArticleCategory, Category, CrawlRun
from storage.zone import SITE_TZ

if TYPE_CHECKING:
    from collections.abc import Iterator

    from sqlalchemy.orm import Session

DEFAULT_LOG_FILE = "data/ecnews-crawl.log"


@contextlib.contextmanager
def site(port: int) -> Iterator[str]:
    configured = settings.NEWS_SITE_URL
    if configured:
        yield configured
        return
    with SnapshotSite(SNAPSHOT, port=port) as server:
        busy = "" if server.port == port else f" (port {port} was busy)"
        print(f"No NEWS_SITE_URL set: serving the bundled snapshot at {server.url}{busy}")
        yield server.url


def this_run(session: Session) -> str | None:
    """What the run that just finished brought: counts, and its newest new article."""
    run = session.scalars(select(CrawlRun).order_by(CrawlRun.started_at.desc()).limit(1)).first()
    if run is None:
        return None
    counts = (
        f"{run.pages} pages fetched: {run.items_new} new, {run.items_updated} updated,"
        f" {run.items_unchanged} unchanged"
    )
    if not run.items_new:
        return f"This run: nothing new ({counts})."
    newest = session.execute(
        select(Article.published_at, Article.title)
        .where(Article.first_seen_at >= run.started_at)
        .order_by(Article.published_at.desc().nulls_last(), Article.url)
        .limit(1)
    ).first()
    if newest is None:
        return f"This run: {counts}."
    day = (
        newest.published_at.astimezone(SITE_TZ).date().isoformat()
        if newest.published_at
        else "undated"
    )
    title = newest.title if len(newest.title) <= 30 else newest.title[:29] + "…"
    more = f" (+{run.items_new - 1} more)" if run.items_new > 1 else ""
    return f"This run: {counts}; newest new: {day} {title}{more}"


def summary(url: str) -> list[str]:
    """What is new, articles per category, and how to look at them."""
    try:
        database = open_readonly(url, database_options())
    except ReadError as error:
        return [f"Nothing to show: {error}"]
    with database.sessions() as session:
        news = this_run(session)
        rows = session.execute(
            select(Category.slug, Category.name, func.count(ArticleCategory.article_id))
            .outerjoin(ArticleCategory, ArticleCategory.category_id == Category.id)
            .group_by(Category.slug, Category.name)
            .order_by(Category.slug)
        ).all()
        total = session.scalar(select(func.count(Article.id))) or 0
    database.dispose()
    lines = [news] if news else []
    lines.append(f"Stored in {redacted(url)} (an article can be in several categories):")
    lines += [f"  {slug:6} {name:8} {count:6}" for slug, name, count in rows]
    lines.append(f"  {'total':15} {total:6}")
    lines.append("Search it: .venv/bin/ecnews search 跨境电商 (words, all must match)")
    query = "SELECT published_date, categories, title FROM article_view LIMIT 5"
    if url.startswith("sqlite"):
        lines.append(
            "Browse it: make serve, then open http://127.0.0.1:8001/ (articles, chart, search)"
        )
        lines.append(f'Query it: sqlite3 {url.split(":///", 1)[1]} "{query}"')
    else:
        lines.append(f'Query it: psql … -c "{query}"')
    lines.append("Export it: .venv/bin/ecnews export --format jsonl -o articles.jsonl")
    return lines


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument("--log-file", default=DEFAULT_LOG_FILE)
    args = parser.parse_args()
    url = database_url()
    # The terminal gets warnings and the verdict (unless LOG_LEVEL is set); the log file
    # gets everything.
    level = settings.from_environment(os.environ, vars(settings)).get("LOG_LEVEL", "WARNING")
    with site(args.port) as site_url:
        print(f"Crawling into {redacted(url)}; full log: {Path(args.log_file).resolve()}")
        sys.stdout.flush()
        code = ecnews(
            [
                "crawl",
                "--base-url",
                site_url,
                "--log-file",
                args.log_file,
                "-s",
                f"LOG_LEVEL={level}",
            ]
        )
    print(f"Crawl finished with exit code {code} ({'ok' if code == 0 else 'see the log'}).")
    print("\n".join(summary(url)))
    return code


if __name__ == "__main__":
    sys.exit(main())
