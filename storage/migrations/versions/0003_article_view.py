"""article_view: one row per article, with local (+08:00) times for downstream readers

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-28

Times are stored in UTC (naive UTC text on SQLite, timestamptz on PostgreSQL), so a
reader filtering `date(published_at) = '2025-08-22'` on the tables misses articles
published between 00:00 and 08:00 in China. The view renders them in the site's own
time: China has kept +08:00 all year since 1991, so SQLite can add a fixed 8 hours.

SQLite checks views when a table is renamed: a later batch migration (table copy and
rename) of `articles`, `sources`, `article_categories` or `categories` must drop this
view first and create it again afterwards (see docs/data-contract.md, "The view").
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from alembic import op

if TYPE_CHECKING:
    from collections.abc import Sequence

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# The same view twice, spelled out per dialect so a reader can copy either.
SQLITE_VIEW = """
CREATE VIEW article_view AS
SELECT
    a.id AS id,
    a.url AS url,
    a.title AS title,
    strftime('%Y-%m-%dT%H:%M:%S', a.published_at, '+8 hours') || '+08:00' AS published_at,
    date(a.published_at, '+8 hours') AS published_date,
    a.date_precision AS date_precision,
    s.name AS source,
    a.source_title AS source_title,
    a.author AS author,
    (SELECT group_concat(slug, ',') FROM (
        SELECT c.slug FROM article_categories ac JOIN categories c ON c.id = ac.category_id
        WHERE ac.article_id = a.id ORDER BY c.slug)) AS categories,
    a.body AS body,
    a.content_hash AS content_hash,
    strftime('%Y-%m-%dT%H:%M:%S', a.first_seen_at, '+8 hours') || '+08:00' AS first_seen_at,
    strftime('%Y-%m-%dT%H:%M:%S', a.updated_at, '+8 hours') || '+08:00' AS updated_at
FROM articles a
LEFT JOIN sources s ON s.id = a.source_id
"""

POSTGRESQL_VIEW = """
CREATE VIEW article_view AS
SELECT
    a.id AS id,
    a.url AS url,
    a.title AS title,
    to_char(a.published_at AT TIME ZONE 'Asia/Shanghai', 'YYYY-MM-DD"T"HH24:MI:SS')
        || '+08:00' AS published_at,
    (a.published_at AT TIME ZONE 'Asia/Shanghai')::date AS published_date,
    a.date_precision AS date_precision,
    s.name AS source,
    a.source_title AS source_title,
    a.author AS author,
    (SELECT string_agg(c.slug, ',' ORDER BY c.slug)
        FROM article_categories ac JOIN categories c ON c.id = ac.category_id
        WHERE ac.article_id = a.id) AS categories,
    a.body AS body,
    a.content_hash AS content_hash,
    to_char(a.first_seen_at AT TIME ZONE 'Asia/Shanghai', 'YYYY-MM-DD"T"HH24:MI:SS')
        || '+08:00' AS first_seen_at,
    to_char(a.updated_at AT TIME ZONE 'Asia/Shanghai', 'YYYY-MM-DD"T"HH24:MI:SS')
        || '+08:00' AS updated_at
FROM articles a
LEFT JOIN sources s ON s.id = a.source_id
"""


def upgrade() -> None:
    op.execute(SQLITE_VIEW if op.get_bind().dialect.name == "sqlite" else POSTGRESQL_VIEW)


def downgrade() -> None:
    op.execute("DROP VIEW IF EXISTS article_view")
