"""never worse: listing titles per URL, held poorer versions

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-28
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import sqlalchemy as sa
from alembic import op

if TYPE_CHECKING:
    from collections.abc import Sequence

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("article_urls", schema=None) as batch_op:
        batch_op.add_column(sa.Column("listing_title", sa.Text(), nullable=True))
    op.create_table(
        "held_changes",
        sa.Column(
            "article_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("content_hash", sa.String(length=64), nullable=False),
        sa.Column("reason", sa.String(length=64), nullable=False),
        sa.Column("first_held_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_held_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("times", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["article_id"],
            ["articles.id"],
            name=op.f("fk_held_changes_article_id_articles"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("article_id", name=op.f("pk_held_changes")),
    )


def downgrade() -> None:
    op.drop_table("held_changes")
    with op.batch_alter_table("article_urls", schema=None) as batch_op:
        batch_op.drop_column("listing_title")
