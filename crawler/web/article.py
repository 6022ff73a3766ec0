"""One article as a person reads it: the queries behind the article page.

Everything comes from `article_view` (local +08:00 times, the site's own calendar day) and
the tables beside it; revisions are shown in local time the same way the view does it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from datasette.database import Database

ARTICLE = """select id, url, title, published_at, published_date, date_precision, source,
  source_title, author, body, first_seen_at, updated_at
from article_view where id = :id"""

CATEGORIES = """select c.slug, c.name from article_categories ac
join categories c on c.id = ac.category_id
where ac.article_id = :id order by c.slug"""

URLS = """select url from article_urls where article_id = :id order by first_seen_at, url"""

# Local time the way the view renders it (migration 0003).
REVISIONS = """select title, body, source_name, author,
  strftime('%Y-%m-%dT%H:%M:%S', valid_from, '+8 hours') || '+08:00' as valid_from,
  strftime('%Y-%m-%dT%H:%M:%S', replaced_at, '+8 hours') || '+08:00' as replaced_at
from revisions where article_id = :id order by replaced_at desc, id desc"""


def paragraphs(body: str | None) -> list[str]:
    """The body's paragraphs (stored joined by new lines), without empty ones."""
    return [line.strip() for line in (body or "").split("\n") if line.strip()]


async def article_context(database: Database, article_id: int) -> dict[str, Any] | None:
    """What the article template shows, or None when there is no such article."""
    params = {"id": article_id}
    found = (await database.execute(ARTICLE, params)).first()
    if found is None:
        return None
    article = dict(found)
    article["paragraphs"] = paragraphs(article["body"])
    revisions = [dict(row) for row in await database.execute(REVISIONS, params)]
    for revision in revisions:
        revision["paragraphs"] = paragraphs(revision["body"])
    return {
        "article": article,
        "categories": [dict(row) for row in await database.execute(CATEGORIES, params)],
        "addresses": [row["url"] for row in await database.execute(URLS, params)],
        "revisions": revisions,
    }
