"""article_view (migration 0003): local dates for downstream SQL, on SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt
import shutil
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

import pytest
from alembic import command
from alembic.script import ScriptDirectory
from sqlalchemy import text

from storage.db import MIGRATIONS_DIR, Database, alembic_config
from storage.export import export_records
from storage.models import Article, ArticleCategory, Category, Source

if TYPE_CHECKING:
    from pathlib import Path

SHANGHAI = ZoneInfo("Asia/Shanghai")
# url -> local publication time; the site dates the first four 2025-08-22.
PUBLISHED = {
    "/midnight": dt.datetime(2025, 8, 22, 0, 0, tzinfo=SHANGHAI),
    "/early": dt.datetime(2025, 8, 22, 3, 15, tzinfo=SHANGHAI),
    "/before-eight": dt.datetime(2025, 8, 22, 7, 59, 59, tzinfo=SHANGHAI),
    "/late": dt.datetime(2025, 8, 22, 23, 59, tzinfo=SHANGHAI),
    "/day-before": dt.datetime(2025, 8, 21, 23, 59, 59, tzinfo=SHANGHAI),
    "/day-after": dt.datetime(2025, 8, 23, 0, 0, tzinfo=SHANGHAI),
}


@pytest.fixture
def database(database_url: str) -> Database:
    return seeded(database_url)


def seeded(database_url: str) -> Database:
    """A database at head holding the PUBLISHED articles."""
    database = Database(database_url)
    seen = dt.datetime(2025, 8, 22, 1, 2, 3, tzinfo=dt.UTC)
    with database.sessions.begin() as session:
        source = Source(name="新华网")
        rdjj, zcfg = Category(slug="rdjj", name="热点聚焦"), Category(slug="zcfg", name="政策法规")
        session.add_all([source, rdjj, zcfg])
        session.flush()
        for n, (url, published) in enumerate(PUBLISHED.items()):
            article = Article(
                url=url,
                title=f"title {url}",
                body=f"body {url}",
                content_hash=f"hash{n}",
                dedupe_key=f"key{n}",
                published_at=published,
                date_precision="second",
                source_id=source.id if n % 2 else None,
                author="张三" if n == 0 else None,
                first_seen_at=seen,
                updated_at=seen,
                last_seen_at=seen,
            )
            session.add(article)
            session.flush()
            categories = [zcfg, rdjj] if n == 0 else [rdjj]
            session.add_all(
                ArticleCategory(article_id=article.id, category_id=c.id) for c in categories
            )
    return database


def test_published_date_is_the_sites_own_day(database: Database) -> None:
    with database.engine.connect() as connection:
        urls = connection.execute(
            text("SELECT url FROM article_view WHERE published_date = '2025-08-22' ORDER BY url")
        ).scalars()
        assert sorted(urls) == ["/before-eight", "/early", "/late", "/midnight"]
    database.dispose()


def test_a_row_holds_the_article_with_its_source_and_categories(database: Database) -> None:
    with database.engine.connect() as connection:
        row = (
            connection.execute(text("SELECT * FROM article_view WHERE url = '/midnight'"))
            .mappings()
            .one()
        )
        early = connection.execute(
            text("SELECT source FROM article_view WHERE url = '/early'")
        ).scalar()
    database.dispose()
    # A date on PostgreSQL, ISO text on SQLite: equal to '2025-08-22' in SQL on both.
    got = dict(row) | {"id": 0, "published_date": str(row["published_date"])}
    assert got == {
        "id": 0,
        "url": "/midnight",
        "title": "title /midnight",
        "published_at": "2025-08-22T00:00:00+08:00",
        "published_date": "2025-08-22",
        "date_precision": "second",
        "source": None,
        "source_title": None,
        "author": "张三",
        "categories": "rdjj,zcfg",
        "body": "body /midnight",
        "content_hash": "hash0",
        "first_seen_at": "2025-08-22T09:02:03+08:00",
        "updated_at": "2025-08-22T09:02:03+08:00",
    }
    assert early == "新华网"


def test_the_view_says_what_the_export_says(database: Database) -> None:
    fields = ("url", "published_at", "source", "first_seen_at", "updated_at")
    with database.sessions() as session:
        exported = {r["url"]: tuple(r[f] for f in fields) for r in export_records(session)}
        viewed = {
            row[0]: tuple(row)
            for row in session.execute(text(f"SELECT {', '.join(fields)} FROM article_view"))
        }
    database.dispose()
    assert viewed == exported


BATCH_REVISION = '''
"""test only: a batch migration that copies and renames the articles table"""
import sqlalchemy as sa
from alembic import op

revision = "9999"
down_revision = "{head}"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("articles", recreate="always") as batch_op:
        batch_op.add_column(sa.Column("extra", sa.Integer(), nullable=True))


def downgrade() -> None:
    pass
'''


def test_a_later_batch_migration_of_articles_keeps_the_view(
    sqlite_url: str, tmp_path: Path
) -> None:
    """SQLite refuses to rename a table copy while a view names the table, unless the
    migration environment asks for the legacy rename (storage/migrations/env.py)."""
    database = seeded(sqlite_url)
    database.dispose()
    scripts = tmp_path / "migrations"
    shutil.copytree(MIGRATIONS_DIR, scripts, ignore=shutil.ignore_patterns("__pycache__"))
    config = alembic_config(sqlite_url)
    head = ScriptDirectory.from_config(config).get_current_head()
    (scripts / "versions" / "9999_batch.py").write_text(
        BATCH_REVISION.replace("{head}", str(head)), "utf-8"
    )
    config.set_main_option("script_location", str(scripts))
    command.upgrade(config, "head")
    with database.engine.connect() as connection:
        count = connection.execute(
            text("SELECT count(*) FROM article_view WHERE published_date = '2025-08-22'")
        ).scalar()
    database.dispose()
    assert count == 4
