"""site layouts: learned layouts with their evidence, the layout of each article

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-03
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import sqlalchemy as sa
from alembic import op

if TYPE_CHECKING:
    from collections.abc import Sequence

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("articles", schema=None) as batch_op:
        batch_op.add_column(sa.Column("layout_version", sa.String(length=32), nullable=True))
    op.create_table(
        "layouts",
        sa.Column("version", sa.String(length=32), nullable=False),
        sa.Column("description", sa.JSON(), nullable=False),
        sa.Column("evidence", sa.JSON(), nullable=False),
        sa.Column("adopted_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("pinned", sa.Boolean(), nullable=False),
        sa.Column("forgotten_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("version", name=op.f("pk_layouts")),
    )


def downgrade() -> None:
    op.drop_table("layouts")
    with op.batch_alter_table("articles", schema=None) as batch_op:
        batch_op.drop_column("layout_version")
