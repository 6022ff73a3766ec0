"""full-text search index

Revision ID: 0004
Revises: 0002
Create Date: 2026-11-28

Creates `article_search` (SQLite FTS5 / PostgreSQL tsvector + GIN, see storage.search)
and indexes the articles already stored, with the segmenter the writer uses.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql
from sqlalchemy.orm import Session

from storage.search import index_articles

if TYPE_CHECKING:
    from collections.abc import Sequence

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BACKFILL_BATCH = 500


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.create_table(
            "article_search",
            sa.Column("article_id", sa.BigInteger(), nullable=False),
            sa.Column("document", postgresql.TSVECTOR(), nullable=False),
            sa.ForeignKeyConstraint(
                ["article_id"],
                ["articles.id"],
                name=op.f("fk_article_search_article_id_articles"),
                ondelete="CASCADE",
            ),
            sa.PrimaryKeyConstraint("article_id", name=op.f("pk_article_search")),
        )
        op.create_index(
            "ix_article_search_document",
            "article_search",
            ["document"],
            postgresql_using="gin",
        )
    else:
        # Tokens arrive segmented and space-joined; unicode61 only splits on the spaces.
        op.execute(
            "CREATE VIRTUAL TABLE article_search USING fts5(words, grams, tokenize='unicode61')"
        )
    _backfill()


def _backfill() -> None:
    # A Session on the migration's connection joins its transaction (never commits it).
    with Session(bind=op.get_bind()) as session:
        last = 0
        while ids := list(
            session.scalars(
                sa.text("SELECT id FROM articles WHERE id > :last ORDER BY id LIMIT :n"),
                {"last": last, "n": BACKFILL_BATCH},
            )
        ):
            index_articles(session, ids)
            last = ids[-1]


def downgrade() -> None:
    op.drop_table("article_search")
