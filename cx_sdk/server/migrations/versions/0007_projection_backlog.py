"""The parts' projectors follow ingest through a backlog instead of running inside it.

Revision ID: 0007
Revises: 0006
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    big_id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
    op.create_table(
        "projection_backlog",
        sa.Column("id", big_id, primary_key=True, autoincrement=True),
        sa.Column("shop_id", sa.String(length=40), nullable=False),
        sa.Column("event_ids", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
    )
    op.create_index("ix_projection_backlog_shop", "projection_backlog", ["shop_id", "id"])


def downgrade() -> None:
    op.drop_index("ix_projection_backlog_shop", table_name="projection_backlog")
    op.drop_table("projection_backlog")
