"""Fill a database with N synthetic articles fast, to time storing new ones on top.

One ``INSERT … SELECT`` per table from a row generator (a recursive CTE on SQLite,
``generate_series`` on PostgreSQL), so a million articles take seconds, not an hour of
``BatchWriter.write``. The rows obey the schema of storage/models.py and its unique
constraints: every article has its URL in ``article_urls``, a ``pages`` row with
validators, a listing in one of the four categories and that category linked, a source
among 300, a random 64-hex ``content_hash`` and ``dedupe_key`` (as SHA-256 values are).
Bodies are short (tens of bytes): the indexes, not the body heap, decide what a lookup
costs, and real bodies would make the file 3 GB for no change in what is measured.
Their URLs are on ``preload.invalid``, so none collides with the site's.
"""

from __future__ import annotations

import re
import sqlite3
import time
from typing import TYPE_CHECKING, Any

from sqlalchemy import create_engine, text

from storage.db import Database

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine

PREFIX = "http://preload.invalid/news/"
SOURCES = 300
CATEGORIES = {"rdjj": "热点聚焦", "sjbg": "数据报告", "zcfg": "政策法规", "jxal": "教学案例"}
LAST_MODIFIED = "Wed, 01 Jan 2025 00:00:00 GMT"

_SQLITE = [
    """WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < :sources)
    INSERT INTO sources (name) SELECT '预载来源' || i FROM n""",
    """WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < :rows)
    INSERT INTO articles (url, title, body, content_hash, dedupe_key, published_at,
        date_precision, source_id, first_seen_at, updated_at, last_seen_at)
    SELECT :prefix || (CASE i % 4 WHEN 0 THEN 'rdjj' WHEN 1 THEN 'sjbg' WHEN 2 THEN 'zcfg'
            ELSE 'jxal' END) || '/' || i || '.html',
        '预载文章第' || i || '篇', '这是第' || i || '篇预载文章的正文。',
        lower(hex(randomblob(32))), lower(hex(randomblob(32))),
        strftime('%Y-%m-%d %H:%M:%S.000000', '2015-01-01', '+' || (i * 5) || ' minutes'),
        'minute', 1 + i % :sources, :now, :now, :now
    FROM n""",
    """INSERT INTO article_urls (url, article_id, first_seen_at, last_seen_at)
    SELECT url, id, first_seen_at, last_seen_at FROM articles""",
    """INSERT INTO pages (url, status, etag, last_modified, fetched_at)
    SELECT url, 200, '"' || content_hash || '"', :last_modified, last_seen_at FROM articles""",
    """INSERT INTO listings (category_id, url, listing_date, last_seen_at)
    SELECT c.id, a.url, date(a.published_at), a.last_seen_at
    FROM articles a JOIN categories c ON c.slug = substr(a.url, length(:prefix) + 1, 4)""",
    """INSERT INTO article_categories (article_id, category_id)
    SELECT a.id, c.id FROM articles a
    JOIN categories c ON c.slug = substr(a.url, length(:prefix) + 1, 4)""",
]

_POSTGRES = [
    """INSERT INTO sources (name) SELECT '预载来源' || i FROM generate_series(1, :sources) i""",
    """INSERT INTO articles (url, title, body, content_hash, dedupe_key, published_at,
        date_precision, source_id, first_seen_at, updated_at, last_seen_at)
    SELECT :prefix || (ARRAY['rdjj', 'sjbg', 'zcfg', 'jxal'])[1 + i % 4] || '/' || i || '.html',
        '预载文章第' || i || '篇', '这是第' || i || '篇预载文章的正文。',
        md5(random()::text) || md5(random()::text), md5(random()::text) || md5(random()::text),
        timestamptz '2015-01-01 00:00+00' + i * interval '5 minutes',
        'minute', (SELECT min(id) FROM sources) + i % :sources, now(), now(), now()
    FROM generate_series(1, :rows) i""",
    """INSERT INTO article_urls (url, article_id, first_seen_at, last_seen_at)
    SELECT url, id, first_seen_at, last_seen_at FROM articles""",
    """INSERT INTO pages (url, status, etag, last_modified, fetched_at)
    SELECT url, 200, '"' || content_hash || '"', :last_modified, last_seen_at FROM articles""",
    """INSERT INTO listings (category_id, url, listing_date, last_seen_at)
    SELECT c.id, a.url, (a.published_at AT TIME ZONE 'UTC')::date, a.last_seen_at
    FROM articles a JOIN categories c ON c.slug = split_part(a.url, '/', 5)""",
    """INSERT INTO article_categories (article_id, category_id)
    SELECT a.id, c.id FROM articles a JOIN categories c ON c.slug = split_part(a.url, '/', 5)""",
]

_TABLES = ("sources", "articles", "article_urls", "pages", "listings", "article_categories")

# Index and constraint definitions of the tables filled, except primary keys: dropped before
# the load and made again after it (one sort per index instead of a million random inserts;
# the same names and definitions, so the schema ends as the migrations made it).
_PG_CONSTRAINTS = """SELECT conrelid::regclass::text, conname, pg_get_constraintdef(oid), contype
    FROM pg_constraint WHERE contype IN ('u', 'f') AND conrelid::regclass::text = ANY(:tables)
    ORDER BY contype DESC"""
_PG_INDEXES = """SELECT i.indexname, i.indexdef FROM pg_indexes i
    WHERE i.schemaname = current_schema() AND i.tablename = ANY(:tables)
    AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conname = i.indexname)"""


def preload(database_url: str, rows: int) -> float:
    """Migrate ``database_url`` (an empty database) and add ``rows`` articles; seconds taken."""
    Database(database_url).dispose()  # the schema, by the project's own migrations
    started = time.perf_counter()
    engine = create_engine(database_url)
    params = {
        "rows": rows,
        "sources": SOURCES,
        "prefix": PREFIX,
        "last_modified": LAST_MODIFIED,
        "now": "2025-01-01 00:00:00.000000",
        "tables": list(_TABLES),
    }
    if engine.dialect.name == "sqlite":
        assert engine.url.database is not None
        _load_sqlite(engine.url.database, params)
    else:
        _load_postgres(engine, params)
    engine.dispose()
    return time.perf_counter() - started


def _load_sqlite(database: str, params: dict[str, Any]) -> None:
    # The stdlib driver, to set what SQLAlchemy's transaction handling would not let us:
    # for this load only, no rollback journal, no syncs, a big page cache; then back to
    # WAL, the crawl's journal mode, before anyone else connects.
    conn = sqlite3.connect(database, isolation_level=None)
    try:
        conn.execute("PRAGMA journal_mode=OFF")
        conn.execute("PRAGMA synchronous=OFF")
        conn.execute("PRAGMA cache_size=-512000")
        conn.execute("BEGIN")
        conn.executemany(
            "INSERT INTO categories (slug, name) VALUES (?, ?)", list(CATEGORIES.items())
        )
        for statement in _SQLITE:
            names = set(re.findall(r":([a-z_]+)", statement))
            conn.execute(statement, {k: v for k, v in params.items() if k in names})
        conn.execute("COMMIT")
        conn.execute("PRAGMA journal_mode=WAL")
    finally:
        conn.close()


def _load_postgres(engine: Engine, params: dict[str, Any]) -> None:
    with engine.begin() as conn:
        conn.exec_driver_sql("SET LOCAL maintenance_work_mem = '256MB'")
        constraints = conn.execute(text(_PG_CONSTRAINTS), params).all()
        indexes = conn.execute(text(_PG_INDEXES), params).all()
        for table, name, _, _ in reversed(constraints):  # foreign keys first
            conn.exec_driver_sql(f'ALTER TABLE {table} DROP CONSTRAINT "{name}"')
        for name, _ in indexes:
            conn.exec_driver_sql(f'DROP INDEX "{name}"')
        conn.execute(
            text("INSERT INTO categories (slug, name) VALUES (:slug, :name)"),
            [{"slug": slug, "name": name} for slug, name in CATEGORIES.items()],
        )
        for statement in _POSTGRES:
            conn.execute(text(statement), params)
        for table, name, definition, _ in constraints:  # unique ones first
            conn.exec_driver_sql(f'ALTER TABLE {table} ADD CONSTRAINT "{name}" {definition}')
        for _, definition in indexes:
            conn.exec_driver_sql(definition)
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.exec_driver_sql("ANALYZE")  # as autovacuum would have on a database this size
