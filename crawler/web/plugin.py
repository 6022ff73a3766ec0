"""The Datasette plugin behind `ecnews serve`: what an analyst opens first.

- `/` opens on the articles as `article_view` shows them (local times, newest first);
- `/-/articles/<id>` is one article as a person reads it, with its earlier versions;
- `/-/operations` lists the internal tables the other pages keep out of the way;
- a facet counting the comma-joined category slugs of the view, and its `?_category=`
  filter; titles link to the article page;
- the search SQL functions, and an authorizer refusing every read of the private tables
  (`crawl_runs` when serving beyond loopback), whatever the SQL.

Its settings come from the `ecnews` block of the plugin configuration in the metadata
(`crawler.commands.serve_metadata`).
"""

from __future__ import annotations

import sqlite3
from typing import TYPE_CHECKING, Any

from datasette import hookimpl
from datasette.filters import FilterArguments
from datasette.utils.asgi import NotFound, Response
from markupsafe import Markup

from crawler.commands.serve_metadata import CHART_DASHBOARD, FRONT_TABLE
from crawler.web.article import article_context
from crawler.web.facets import CATEGORY_PARAM, CategoryFacet, DayFacet, category_where
from storage.search import fts5_match, snippet
from storage.segment import query_terms

if TYPE_CHECKING:
    from collections.abc import Callable, Coroutine

    from datasette.app import Datasette
    from datasette.utils.asgi import Request

PLUGIN = "ecnews"
ARTICLE_PATH = "/-/articles/"
COUNT_TIME_LIMIT_MS = 200


def _config(datasette: Datasette) -> dict[str, Any]:
    return datasette.plugin_config(PLUGIN) or {}


def _snippet(body: str | None, query: str | None) -> str:
    return snippet(body or "", [term.text for term in query_terms(query or "")])


def _match(query: str | None) -> str:
    return fts5_match(query or "")


def _refuse_reads_of(private: frozenset[str]) -> Callable[..., int]:
    def authorize(action: int, table: str | None, *_: object) -> int:
        if action == sqlite3.SQLITE_READ and table in private:
            return sqlite3.SQLITE_DENY
        return sqlite3.SQLITE_OK

    return authorize


@hookimpl
def prepare_connection(conn: sqlite3.Connection, database: str, datasette: Datasette) -> None:
    conn.create_function("ecnews_match", 1, _match, deterministic=True)
    conn.create_function("ecnews_snippet", 2, _snippet, deterministic=True)
    config = _config(datasette)
    if private := frozenset(config.get("private_tables", ())):
        conn.set_authorizer(_refuse_reads_of(private))


@hookimpl
def register_facet_classes() -> list[type]:
    return [CategoryFacet, DayFacet]


@hookimpl
def filters_from_request(
    request: Request, database: str, table: str, datasette: Datasette
) -> FilterArguments | None:
    slugs = request.args.getlist(CATEGORY_PARAM)
    if table != FRONT_TABLE or not slugs:
        return None
    wheres, params = [], {}
    for index, slug in enumerate(slugs):
        where, name = category_where("categories", index)
        wheres.append(where)
        params[name] = f",{slug},"
    return FilterArguments(
        wheres, params, [f"listed in {slug}" for slug in slugs], extra_context={}
    )


@hookimpl
def render_cell(
    row: Any, value: Any, column: str, table: str | None, datasette: Datasette
) -> Markup | None:
    # The front page and the canned queries (table None) link a title to its article page.
    if column != "title" or table not in {FRONT_TABLE, None} or value is None:
        return None
    try:
        article_id = int(row["id"])
    except (IndexError, KeyError, TypeError, ValueError):
        return None
    href = datasette.urls.path(f"{ARTICLE_PATH}{article_id}")
    return Markup('<a href="{}">{}</a>').format(href, value)


@hookimpl
def menu_links(datasette: Datasette) -> list[dict[str, str]]:
    config = _config(datasette)
    database = config.get("database", "")
    return [
        {"href": datasette.urls.path(config["front_page"]), "label": "Articles"},
        {
            "href": datasette.urls.path(f"/-/dashboards/{CHART_DASHBOARD}"),
            "label": "Articles per day",
        },
        {"href": datasette.urls.query(database, "search"), "label": "Search"},
        {"href": datasette.urls.path("/-/operations"), "label": "Operations"},
    ]


async def front_page(datasette: Datasette) -> Response:
    return Response.redirect(datasette.urls.path(_config(datasette)["front_page"]))


async def article_page(datasette: Datasette, request: Request) -> Response:
    database = datasette.get_database(_config(datasette).get("database"))
    context = await article_context(database, int(request.url_vars["article_id"]))
    if context is None:
        raise NotFound("no such article")
    context["database"] = database.name
    html = await datasette.render_template("ecnews_article.html", context, request=request)
    return Response.html(html)


async def operations_page(datasette: Datasette, request: Request) -> Response:
    config = _config(datasette)
    database = datasette.get_database(config.get("database"))
    private = set(config.get("private_tables", ()))
    counts = await database.table_counts(COUNT_TIME_LIMIT_MS)
    tables = []
    for name in config.get("operations_tables", ()):
        metadata = datasette.table_metadata(database.name, name)
        tables.append(
            {
                "name": name,
                "description": metadata.get("description", ""),
                "rows": None if name in private else counts.get(name),
                "private": name in private,
                "href": datasette.urls.table(database.name, name),
            }
        )
    html = await datasette.render_template(
        "ecnews_operations.html",
        {"tables": tables, "database": database.name},
        request=request,
    )
    return Response.html(html)


@hookimpl
def register_routes() -> list[tuple[str, Callable[..., Coroutine[Any, Any, Response]]]]:
    return [
        (r"^/$", front_page),
        (rf"^{ARTICLE_PATH}(?P<article_id>\d+)$", article_page),
        (r"^/-/operations$", operations_page),
    ]
