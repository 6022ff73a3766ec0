"""`make crawl`: crawl NEWS_SITE_URL, or with none set the bundled snapshot served on
127.0.0.1; then print how many articles each category holds."""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import func, select

from crawler.cli import main as ecnews
from storage.db import Database, database_url, redacted
from storage.models import Article, ArticleCategory, Category

if TYPE_CHECKING:
    from collections.abc import Iterator

SNAPSHOT = Path(__file__).resolve().parent.parent / "tests" / "fixtures" / "site"


@contextlib.contextmanager
def site(port: int) -> Iterator[str]:
    configured = os.environ.get("NEWS_SITE_URL")
    if configured:
        yield configured
        return
    # The snapshot server lives with the tests; only this demo borrows it.
    from tests.siteserver import SiteServer  # noqa: PLC0415

    with SiteServer(SNAPSHOT, "v1", port=port) as server:
        print(f"No NEWS_SITE_URL set: serving the bundled snapshot at {server.url}", flush=True)
        yield server.url


def summary() -> str:
    database = Database(database_url())
    with database.sessions() as session:
        rows = session.execute(
            select(Category.slug, Category.name, func.count(ArticleCategory.article_id))
            .outerjoin(ArticleCategory, ArticleCategory.category_id == Category.id)
            .group_by(Category.slug, Category.name)
            .order_by(Category.slug)
        ).all()
        total = session.scalar(select(func.count(Article.id)))
    lines = [f"Articles in {redacted(database_url())}:"]
    lines += [f"  {slug:6} {name:8} {count:6}" for slug, name, count in rows]
    lines.append(f"  {'total':15} {total:6}")
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, default=8765)
    args = parser.parse_args()
    with site(args.port) as url:
        code = ecnews(["crawl", "--base-url", url])
    print(summary())
    return code


if __name__ == "__main__":
    sys.exit(main())
