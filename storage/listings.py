"""What the listings say: the links each category lists, its walks, and the categories
they give articles.

Invariants:

- every listed link is remembered per category, and the latest listing's date wins;
- an article belongs to every category whose listing links any of its URLs, whichever
  was written first (the listing or the article), also when two writers write them at
  once (``serialise_category_links``);
- a link is forgotten only while no article is stored under it;
- a walk's start and end are stamped on its category, so the next crawl knows whether
  the last walk ended (``storage/repository.py`` reads it).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sqlalchemy import delete, func, literal, select, update

from storage.models import ArticleCategory, ArticleUrl, Category, Listing
from storage.statements import table

if TYPE_CHECKING:
    import datetime as dt
    from collections.abc import Callable, Iterable

    from sqlalchemy.orm import Session

    from storage.records import ForgetLinksRecord, ListingRecord, WalkRecord
    from storage.statements import Statements


CATEGORY_LINKS_LOCK = 0x65636E6C696E
"""PostgreSQL advisory lock key of ``serialise_category_links`` (any constant of ours)."""


def serialise_category_links(session: Session) -> None:
    """Call after this transaction's listing and article rows are written and before it
    links categories to articles; holds until it commits.

    Without it two writers (two workers) can each miss the other's half: one stores a
    listing's link while the other stores the article, each looks for the other's row
    before it is committed, and under READ COMMITTED neither sees it, so the article
    never gets that category. One at a time, the second to link sees the first's rows.
    Only the linking waits: what comes before it (the articles, their search rows) runs
    side by side. SQLite has one writer at a time anyway."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(select(func.pg_advisory_xact_lock(CATEGORY_LINKS_LOCK)))


def record_listings(
    session: Session,
    statements: Statements,
    listings: list[ListingRecord],
    category_id: Callable[[str], int],
) -> dict[int, set[str]]:
    """Remember every listed link (its latest listing date wins); the URLs listed, per
    category id, for ``link_listings``."""
    rows: dict[tuple[int, str], dict[str, Any]] = {}
    by_category: dict[int, set[str]] = {}
    for listing in listings:
        category = category_id(listing.category_slug)
        first_on_page: dict[str, dt.date | None] = {}
        for url, day in listing.links:
            first_on_page.setdefault(url, day)
        for url, day in first_on_page.items():
            rows[(category, url)] = {
                "category_id": category,
                "url": url,
                "listing_date": day,
                "last_seen_at": listing.at,
            }
        by_category.setdefault(category, set()).update(first_on_page)
    if rows:
        session.execute(statements.listing, list(rows.values()))
    return by_category


def link_listings(
    session: Session, statements: Statements, by_category: dict[int, set[str]]
) -> None:
    """Link each category to the articles stored at the URLs its listings link."""
    for category, urls in by_category.items():
        link = statements.insert(table(ArticleCategory)).from_select(
            ["article_id", "category_id"],
            select(ArticleUrl.article_id, literal(category)).where(
                ArticleUrl.url.in_(sorted(urls))
            ),
        )
        session.execute(link.on_conflict_do_nothing())


def link_listed_categories(
    session: Session, statements: Statements, article_ids: Iterable[int]
) -> None:
    """Every category whose listing links any URL of these articles."""
    link = statements.insert(table(ArticleCategory)).from_select(
        ["article_id", "category_id"],
        select(ArticleUrl.article_id, Listing.category_id)
        .join(Listing, Listing.url == ArticleUrl.url)
        .where(ArticleUrl.article_id.in_(sorted(article_ids))),
    )
    session.execute(link.on_conflict_do_nothing())


def walk(session: Session, record: WalkRecord) -> None:
    column = "walk_started_at" if record.event == "started" else "walk_completed_at"
    session.execute(
        update(Category).where(Category.slug == record.category_slug).values({column: record.at})
    )


def forget(session: Session, record: ForgetLinksRecord) -> None:
    if not record.urls:
        return
    category_ids = select(Category.id).where(Category.slug == record.category_slug)
    session.execute(
        delete(Listing).where(
            Listing.category_id.in_(category_ids),
            Listing.url.in_(list(record.urls)),
            Listing.url.not_in(select(ArticleUrl.url)),
        )
    )
