"""Two Datasette facets for the front page (`article_view`).

- categories: comma-joined slugs. Datasette's own facets count whole values (`rdjj,zcfg`
  would be a bucket of its own) or JSON arrays; this one splits them, counts an article
  once per category it is listed in, and labels each slug with its name.
- days: the newest days first, where Datasette's column facet lists the busiest.
"""

from __future__ import annotations

from typing import Any

from datasette.database import QueryInterrupted
from datasette.facets import Facet
from datasette.utils import (
    escape_sqlite,
    path_with_added_args,
    path_with_removed_args,
)

CATEGORY_PARAM = "_category"
"""The query-string filter a facet value toggles: `?_category=rdjj` (repeatable: all must hold)."""


def category_where(column: str, index: int) -> tuple[str, str]:
    """The WHERE clause keeping rows whose comma-joined `column` holds one slug."""
    name = f"ecnews_category_{index}"
    return f"instr(',' || {escape_sqlite(column)} || ',', :{name}) > 0", name


class CategoryFacet(Facet):  # type: ignore[misc]  # Datasette ships no types
    """`{"category": "categories"}` in a table's `facets`."""

    type = "category"

    async def suggest(self) -> list[dict[str, Any]]:
        return []

    async def facet_results(self) -> tuple[list[dict[str, Any]], list[str]]:
        results: list[dict[str, Any]] = []
        timed_out: list[str] = []
        selected_slugs = self.request.args.getlist(CATEGORY_PARAM)
        for source_and_config in self.get_configs():
            config = source_and_config["config"]
            column = config.get("column") or config["simple"]
            # Slugs are URL path segments (no quotes or commas), so '["a","b"]' is valid JSON.
            # The page's own SQL from Datasette, the column escaped.
            sql = f"""
                with inner as ({self.sql})
                select j.value as slug, c.name as name, count(*) as count
                from inner
                join json_each('["' || replace(inner.{escape_sqlite(column)}, ',', '","') || '"]') j
                left join categories c on c.slug = j.value
                where inner.{escape_sqlite(column)} is not null
                  and inner.{escape_sqlite(column)} != ''
                group by j.value, c.name
                order by count(*) desc, j.value
            """  # noqa: S608
            try:
                rows = await self.ds.execute(
                    self.database,
                    sql,
                    self.params,
                    truncate=False,
                    custom_time_limit=self.ds.setting("facet_time_limit_ms"),
                )
            except QueryInterrupted:
                timed_out.append(column)
                continue
            values = []
            for row in rows:
                slug = str(row["slug"])
                selected = slug in selected_slugs
                if selected:
                    path = path_with_removed_args(self.request, {CATEGORY_PARAM: slug})
                else:
                    path = path_with_added_args(self.request, {CATEGORY_PARAM: slug})
                values.append(
                    {
                        "value": slug,
                        "label": f"{row['name']} ({slug})" if row["name"] else slug,
                        "count": row["count"],
                        "toggle_url": self.ds.absolute_url(self.request, path),
                        "selected": selected,
                    }
                )
            results.append(
                {
                    "name": column,
                    "type": self.type,
                    "results": values,
                    "hideable": source_and_config["source"] != "metadata",
                    "toggle_url": self.ds.urls.path(self.request.path),
                    "truncated": False,
                }
            )
        return results, timed_out


class DayFacet(Facet):  # type: ignore[misc]  # Datasette ships no types
    """`{"day": "published_date"}`: a column facet listing the newest days first (Datasette's
    own lists the busiest), each a link to that day's articles (`?published_date=DAY`)."""

    type = "day"

    async def suggest(self) -> list[dict[str, Any]]:
        return []

    async def facet_results(self) -> tuple[list[dict[str, Any]], list[str]]:
        results: list[dict[str, Any]] = []
        timed_out: list[str] = []
        size = self.get_facet_size()
        pairs = self.get_querystring_pairs()
        for source_and_config in self.get_configs():
            config = source_and_config["config"]
            column = config.get("column") or config["simple"]
            quoted = escape_sqlite(column)
            # The page's own SQL from Datasette, the column escaped.
            sql = f"""
                select {quoted} as value, count(*) as count from ({self.sql})
                where {quoted} is not null
                group by {quoted} order by {quoted} desc limit {size + 1}
            """  # noqa: S608
            try:
                rows = await self.ds.execute(
                    self.database,
                    sql,
                    self.params,
                    truncate=False,
                    custom_time_limit=self.ds.setting("facet_time_limit_ms"),
                )
            except QueryInterrupted:
                timed_out.append(column)
                continue
            values = []
            for row in rows.rows[:size]:
                value = str(row["value"])
                selected = (column, value) in pairs
                change = path_with_removed_args if selected else path_with_added_args
                values.append(
                    {
                        "value": value,
                        "label": value,
                        "count": row["count"],
                        "toggle_url": self.ds.absolute_url(
                            self.request, change(self.request, {column: value})
                        ),
                        "selected": selected,
                    }
                )
            results.append(
                {
                    "name": column,
                    "type": self.type,
                    "results": values,
                    "hideable": source_and_config["source"] != "metadata",
                    "toggle_url": self.ds.urls.path(self.request.path),
                    "truncated": len(rows.rows) > size,
                }
            )
        return results, timed_out
