"""The batch's SQLAlchemy Core statements, built once per dialect and run with parameter lists.

Invariant: every statement is built on the tables (not the ORM classes), and each upsert
names the unique index it settles on, so the same records written twice change nothing
but last-seen times.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from typing import TYPE_CHECKING, Any, cast

from sqlalchemy import bindparam
from sqlalchemy.dialects import postgresql, sqlite

from storage.models import Article, ArticleCategory, ArticleUrl, Base, Listing, Page

if TYPE_CHECKING:
    from sqlalchemy import Table


def table(model: type[Base]) -> Table:
    return cast("Table", model.__table__)


@dataclass(frozen=True)
class Statements:
    insert: Any
    """The dialect's ``insert`` (it has ``on_conflict_do_nothing``)."""
    article: Any
    url: Any
    page: Any
    listing: Any
    category_link: Any
    url_seen: Any
    article_seen: Any


@cache
def statements(dialect: str) -> Statements:
    if dialect == "postgresql":
        insert: Any = postgresql.insert
    elif dialect == "sqlite":
        insert = sqlite.insert
    else:
        raise NotImplementedError(f"unsupported database dialect {dialect!r}")
    articles, urls = table(Article), table(ArticleUrl)
    page = insert(table(Page))
    listing = insert(table(Listing))
    return Statements(
        insert=insert,
        article=insert(articles)
        .on_conflict_do_nothing()
        .returning(articles.c.id, articles.c.dedupe_key),
        url=insert(urls).on_conflict_do_nothing(index_elements=["url"]).returning(urls.c.url),
        page=page.on_conflict_do_update(
            index_elements=["url"],
            set_={c: page.excluded[c] for c in ("status", "etag", "last_modified", "fetched_at")},
        ),
        listing=listing.on_conflict_do_update(
            index_elements=["category_id", "url"],
            set_={c: listing.excluded[c] for c in ("listing_date", "last_seen_at")},
        ),
        category_link=insert(table(ArticleCategory)).on_conflict_do_nothing(),
        url_seen=urls.update()
        .where(urls.c.url == bindparam("u"))
        .values(last_seen_at=bindparam("seen")),
        article_seen=articles.update()
        .where(articles.c.id == bindparam("i"))
        .values(last_seen_at=bindparam("seen")),
    )
