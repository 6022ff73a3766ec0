"""What the listings say: the links each category lists, its walks, and the categories
they give articles.

Invariants:

- every listed link is remembered per category, and the latest listing's date wins;
- an article belongs to every category whose listing links any of its URLs, whichever
  was written first (the listing or the article);
- a link is forgotten only while no article is stored under it;
- a walk's start and end are stamped on its category, so the next crawl knows whether
  the last walk ended (``storage/repository.py`` reads it).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sqlalchemy import delete, literal, select, update

from storage.models import ArticleCategory, ArticleUrl, Category, Listing
from storage.statements import table

if TYPE_CHECKING:
    import datetime as dt
    from collections.abc import Callable, Iterable

    from sqlalchemy.orm import Session

    from storage.records import ForgetLinksRecord, ListingRecord, WalkRecord
    from storage.statements import Statements


def record_listings(
    session: Session,
    statements: Statements,
    listings: list[ListingRecord],
    category_id: Callable[[str], int],
) -> None:
    """Remember every listed link (its latest listing date wins), and link each
    category to the articles already stored at those URLs."""
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
    if not rows:
        return
    session.execute(statements.listing, list(rows.values()))
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
