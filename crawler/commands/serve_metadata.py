"""What the web view says about the tables, and its canned queries.

Plain words for analysts; the queries join the tables themselves, so they work with or
without the `article_view` of migration 0003. Times are stored in UTC: `datetime(x,
'+8 hours')` shows them in the site's local time.
"""

from __future__ import annotations

from typing import Any

LATEST = """select
  a.id,
  a.title,
  datetime(a.published_at, '+8 hours') as published_local,
  s.name as source,
  a.url
from articles a left join sources s on s.id = a.source_id
order by a.published_at desc, a.url
limit 50"""

REVISIONS = """select 'current' as version, a.title, a.body,
  datetime(a.updated_at, '+8 hours') as valid_from_local, null as replaced_local
from articles a where a.id = :article_id
union all
select 'earlier', r.title, r.body,
  datetime(r.valid_from, '+8 hours'), datetime(r.replaced_at, '+8 hours')
from revisions r where r.article_id = :article_id
order by replaced_local is not null, replaced_local desc"""

BY_SOURCE = """select
  a.id,
  a.title,
  datetime(a.published_at, '+8 hours') as published_local,
  s.name as source,
  a.url
from articles a join sources s on s.id = a.source_id
where s.name = :source
order by a.published_at desc, a.url"""

SEARCH = """select
  a.id,
  a.title,
  datetime(a.published_at, '+8 hours') as published_local,
  s.name as source,
  a.url,
  ecnews_snippet(a.title || char(10) || a.body, :q) as snippet
from article_search
join articles a on a.id = article_search.rowid
left join sources s on s.id = a.source_id
where article_search match ecnews_match(:q)
order by bm25(article_search, 2.0, 1.0), a.id
limit 50"""


def _columns(**described: str) -> dict[str, str]:
    return described


def metadata(database: str) -> dict[str, Any]:
    """Datasette metadata for the database named `database` (the file's stem)."""
    return {
        "title": "ecnews: e-commerce news",
        "description": "Articles crawled from the news site. Times are UTC unless a column "
        "says local (+08:00). Read-only.",
        "databases": {
            database: {
                "tables": {
                    "articles": {
                        "description": "One row per article, whatever number of URLs it has.",
                        "label_column": "title",
                        "sort_desc": "published_at",
                        "facets": ["source_id", {"date": "published_at"}],
                        "columns": _columns(
                            url="canonical address (the first it was found at)",
                            title="headline",
                            body="text, paragraphs separated by new lines",
                            content_hash="SHA-256 of the body without white space",
                            dedupe_key="SHA-256 of content hash and title",
                            published_at="publication time (UTC)",
                            date_precision="day, minute or second: how much the page gave",
                            published_raw="the date as the page wrote it",
                            source_id="outlet the article is attributed to",
                            source_title="title of the original article at the source",
                            author="author, where named",
                            first_seen_at="first stored (UTC)",
                            updated_at="last changed (UTC)",
                            last_seen_at="last seen on the site (UTC)",
                        ),
                    },
                    "article_categories": {
                        "description": "Which category listings link which article.",
                        "facets": ["category_id"],
                        "columns": _columns(article_id="article", category_id="category"),
                    },
                    "categories": {
                        "description": "The site's category listings.",
                        "label_column": "name",
                        "columns": _columns(slug="short name used in URLs", name="name"),
                    },
                    "sources": {
                        "description": "Outlets articles are attributed to (来源).",
                        "label_column": "name",
                    },
                    "article_urls": {
                        "description": "Every address an article was found at.",
                        "facets": ["article_id"],
                    },
                    "revisions": {
                        "description": "Earlier versions of articles the site edited.",
                        "facets": ["article_id", {"date": "replaced_at"}],
                        "columns": _columns(
                            valid_from="when this version was first stored (UTC)",
                            replaced_at="when the site replaced it (UTC)",
                        ),
                    },
                    "crawl_runs": {"description": "One row per crawl run."},
                    "listings": {"description": "Listing links seen, per category."},
                    "pages": {"description": "What the site last answered per address."},
                    "article_search": {"hidden": True},
                    "alembic_version": {"hidden": True},
                },
                "queries": {
                    "latest": {"title": "Latest 50 articles", "sql": LATEST},
                    "article_revisions": {
                        "title": "An article with its earlier versions",
                        "sql": REVISIONS,
                    },
                    "source_articles": {"title": "Articles of one source", "sql": BY_SOURCE},
                    "search": {
                        "title": "Search (Chinese words, Latin, digits; all words must match)",
                        "description": "Segmented like the index: 跨境电商, 直播带货 GMV, 618大促.",
                        "sql": SEARCH,
                    },
                },
            }
        },
    }
