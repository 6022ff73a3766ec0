"""What the web view says and shows: the front page, plain-words descriptions, canned
queries, the chart, and which tables are operations rather than articles.

Everything an analyst reads is `article_view` (migration 0003): local +08:00 times and
`published_date`, the site's own calendar day, so the date facet and the rows agree.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

if TYPE_CHECKING:
    from collections.abc import Collection

FRONT_TABLE = "article_view"
ANALYST_TABLES = (
    FRONT_TABLE,
    "articles",
    "revisions",
    "article_urls",
    "sources",
    "categories",
    "article_categories",
)
"""Tables on the database page; every other table is an operations table."""

FRONT_COLUMNS = ("id", "title", "published_at", "published_date", "source", "categories")
"""What the front page shows of each article; the rest is on the article page."""

PRIVATE_WHEN_PUBLIC = ("crawl_runs",)
"""Tables refused to everyone when serving beyond loopback, unless asked for (README)."""

CHART_DASHBOARD = "articles"
CHART_ROW_LIMIT = 20_000
"""Rows a chart query may return: per day and category, some 13 years of daily news."""

LATEST = """select id, title, published_at, source, categories
from article_view
order by published_at desc, url
limit 50"""

REVISIONS = """select 'current' as version, title, body, updated_at as valid_from,
  null as replaced_at
from article_view where id = :article_id
union all
select 'earlier', title, body,
  strftime('%Y-%m-%dT%H:%M:%S', valid_from, '+8 hours') || '+08:00',
  strftime('%Y-%m-%dT%H:%M:%S', replaced_at, '+8 hours') || '+08:00'
from revisions where article_id = :article_id
order by replaced_at is not null, replaced_at desc"""

BY_SOURCE = """select id, title, published_at, source, categories
from article_view
where source = :source
order by published_at desc, url"""

SEARCH = """select v.id, v.title, v.published_at, v.source, v.categories,
  ecnews_snippet(v.title || char(10) || v.body, :q) as snippet
from article_search
join article_view v on v.id = article_search.rowid
where article_search match ecnews_match(:q)
order by bm25(article_search, 2.0, 1.0), v.id
limit 50"""

# Articles per local day and category; an article listed in two categories counts in both.
_PER_DAY = """select v.published_date as day, c.name as category, count(*) as articles
  from article_view v
  join article_categories ac on ac.article_id = v.id
  join categories c on c.id = ac.category_id
  where v.published_date is not null
  group by v.published_date, c.name"""

# The 90 days up to the newest article, every day and category (0 where nothing was
# published), so a gap in crawling shows as a dip to 0, one point per day.
LAST_90_DAYS = f"""with recursive
last(day) as (select max(published_date) from article_view),
days(day) as (
  select date(day, '-89 days') from last where day is not null
  union all
  select date(days.day, '+1 day') from days, last where days.day < last.day
),
per_day as ({_PER_DAY})
select days.day, c.name as category, coalesce(per_day.articles, 0) as articles
from days cross join categories c
left join per_day on per_day.day = days.day and per_day.category = c.name
order by days.day, c.name"""  # noqa: S608  # module constants only

WHOLE_SPAN = f"""{_PER_DAY}
order by day, category"""


# Days are calendar days: read and shown in UTC so no browser's zone shifts them.
_DAY = {"field": "day", "type": "temporal", "timeUnit": "utcyearmonthdate"}
_ARTICLES = {"aggregate": "sum", "field": "articles", "type": "quantitative"}
_BARS = {
    "mark": "bar",
    "encoding": {
        "y": {**_ARTICLES, "title": "articles", "axis": {"tickMinStep": 1, "format": "d"}},
        "color": {"field": "category", "type": "nominal", "title": "category"},
        "tooltip": [
            {**_DAY, "title": "day", "format": "%Y-%m-%d"},
            {"field": "category", "type": "nominal"},
            {**_ARTICLES, "title": "articles"},
        ],
    },
}
_DAILY_TOTAL = {
    "mark": {"type": "line", "point": True, "color": "#333", "strokeWidth": 1},
    "encoding": {
        # In the middle of the day's bar.
        "x": {**_DAY, "bandPosition": 0.5, "title": "published (+08:00)"},
        "y": _ARTICLES,
        "tooltip": [
            {**_DAY, "title": "day", "format": "%Y-%m-%d"},
            {**_ARTICLES, "title": "articles, all categories"},
        ],
    },
}


def _chart(title: str, query: str, database: str, layers: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "title": title,
        "db": database,
        "query": query,
        "library": "vega-lite",
        "display": {
            "encoding": {"x": {**_DAY, "title": "published (+08:00)", "axis": {"format": "%m-%d"}}},
            "layer": layers,
            # SVG, so every point is an element a browser test (or a person) can inspect.
            "usermeta": {"embedOptions": {"renderer": "svg", "actions": False}},
        },
    }


def dashboards(database: str) -> dict[str, Any]:
    """The chart page (datasette-dashboards, Vega-Lite served from the package)."""
    return {
        CHART_DASHBOARD: {
            "title": "Articles per day by category",
            "description": "Days are the site's own (+08:00). An article listed in two "
            "categories counts in both. A run of zeros on days the site published is a gap "
            "in crawling.",
            "layout": [["last_90_days"], ["whole_span"]],
            "charts": {
                "last_90_days": _chart(
                    "The 90 days up to the newest article: per category, and the day's total",
                    LAST_90_DAYS,
                    database,
                    [_BARS, _DAILY_TOTAL],
                ),
                "whole_span": _chart("Every day stored", WHOLE_SPAN, database, [_BARS]),
            },
        }
    }


def front_page(database: str) -> str:
    """The path `/` leads to: the articles, newest first, the columns a person reads."""
    return f"/{database}/{FRONT_TABLE}?" + urlencode([("_col", c) for c in FRONT_COLUMNS])


def metadata(
    database: str, tables: Collection[str], private: Collection[str] = ()
) -> dict[str, Any]:
    """Datasette metadata for `database` (the file's stem) holding `tables`; `private`
    tables are refused to everyone (see `crawler.web.plugin`)."""
    # FTS5 keeps its index in shadow tables named after it; Datasette hides those itself.
    shadow = tuple(f"{name}_" for name in tables)
    operations = sorted(
        name for name in set(tables) - set(ANALYST_TABLES) if not name.startswith(shadow)
    )
    table_metadata: dict[str, Any] = {
        FRONT_TABLE: {
            "title": "Articles",
            "description_html": (
                "Every article, newest first. Times are the site's own (+08:00);"
                " <b>published_date</b> is the day the site dates the article. Click a title"
                " to read it; filter with the facets by day, source and category. Also:"
                f' <a href="/-/dashboards/{CHART_DASHBOARD}">articles per day</a>,'
                f' <a href="/{database}/search">search</a>,'
                ' <a href="/-/operations">operations</a> (crawl runs, fetched pages).'
            ),
            "sort_desc": "published_at",
            "facets": [{"day": "published_date"}, "source", {"category": "categories"}],
            "facet_size": 10,
        },
        "articles": {
            "description": "The stored rows behind the front page; times here are UTC.",
            "label_column": "title",
            "sort_desc": "published_at",
        },
        "revisions": {
            "description": "Earlier versions of articles the site edited (times UTC).",
            "facets": ["article_id"],
        },
        "article_urls": {"description": "Every address an article was found at."},
        "sources": {
            "description": "Outlets articles are attributed to (来源).",
            "label_column": "name",
        },
        "categories": {"description": "The site's category listings.", "label_column": "name"},
        "article_categories": {"description": "Which category listings link which article."},
    }
    descriptions = {
        "crawl_runs": "One row per crawl run: when, how many pages and articles, why it failed.",
        "pages": "What the site last answered per address (status, ETag, Last-Modified).",
        "listings": "Every listing link seen, per category, with its listing date.",
        "held_changes": "Re-fetched versions much poorer than the stored one, held back.",
        "article_search": "The search index (FTS5).",
        "alembic_version": "The schema version (Alembic).",
    }
    for name in operations:
        table_metadata[name] = {"hidden": True, "description": descriptions.get(name, "")}
    for name in private:
        table_metadata[name] = {**table_metadata.get(name, {}), "hidden": True, "allow": False}
    canned: dict[str, dict[str, Any]] = {
        "search": {
            "title": "Search",
            "description": "Chinese words, Latin, digits; every word must match, e.g."
            " 跨境电商, 直播带货 GMV, 618大促.",
            "sql": SEARCH,
        },
        "latest": {"title": "Latest 50 articles", "sql": LATEST},
        "article_revisions": {"title": "An article with its earlier versions", "sql": REVISIONS},
        "source_articles": {"title": "Articles of one source", "sql": BY_SOURCE},
    }
    for query in canned.values():
        query["hide_sql"] = True  # results first; "show" is one click away
    return {
        "title": "ecnews: e-commerce news",
        "description": "Articles crawled from the news site, read-only.",
        "databases": {database: {"tables": table_metadata, "queries": canned}},
        "plugins": {
            "ecnews": {
                "database": database,
                "front_page": front_page(database),
                "operations_tables": operations,
                "private_tables": sorted(private),
            },
            "datasette-dashboards": dashboards(database),
        },
    }
