"""`make crawl`: crawl NEWS_SITE_URL, or with none set the bundled snapshot served on
127.0.0.1; the full log goes to a file, the terminal gets a short summary: articles per
category, where the database is and how to query it."""

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
from storage.models import Article, ArticleCategory, Category

if TYPE_CHECKING:
    from collections.abc import Iterator

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


def summary(url: str) -> list[str]:
    """Articles per category, and how to look at them."""
    try:
        database = open_readonly(url, database_options())
    except ReadError as error:
        return [f"Nothing to show: {error}"]
    with database.sessions() as session:
        rows = session.execute(
            select(Category.slug, Category.name, func.count(ArticleCategory.article_id))
            .outerjoin(ArticleCategory, ArticleCategory.category_id == Category.id)
            .group_by(Category.slug, Category.name)
            .order_by(Category.slug)
        ).all()
        total = session.scalar(select(func.count(Article.id))) or 0
    database.dispose()
    lines = [f"Articles in {redacted(url)} (an article can be in several categories):"]
    lines += [f"  {slug:6} {name:8} {count:6}" for slug, name, count in rows]
    lines.append(f"  {'total':15} {total:6}")
    query = "SELECT published_date, categories, title FROM article_view LIMIT 5"
    if url.startswith("sqlite"):
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
    # The terminal gets warnings and the verdict; the log file gets everything.
    level = os.environ.get("LOG_LEVEL", "WARNING")
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
