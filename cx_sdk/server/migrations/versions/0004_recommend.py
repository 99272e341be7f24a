"""Recommendations: precomputed neighbours and product data.

Revision ID: 0004
Revises: 0003
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "rec_items",
        sa.Column("shop_id", sa.String(length=40), nullable=False),
        sa.Column("product_id", sa.String(length=200), nullable=False),
        sa.Column("name", sa.String(length=300), nullable=True),
        sa.Column("price", sa.String(length=40), nullable=True),
        sa.Column("currency", sa.String(length=3), nullable=True),
        sa.Column("image_url", sa.Text(), nullable=True),
        sa.Column("url", sa.Text(), nullable=True),
        sa.Column("category", sa.String(length=200), nullable=True),
        sa.Column("in_stock", sa.Boolean(), nullable=True),
        sa.Column("baskets", sa.Float(), nullable=False),
        sa.Column("views", sa.Float(), nullable=False),
        sa.Column("trend", sa.Float(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("shop_id", "product_id", name=op.f("pk_rec_items")),
    )
    op.create_index("ix_rec_items_shop_trend", "rec_items", ["shop_id", "trend"])
    op.create_index("ix_rec_items_shop_baskets", "rec_items", ["shop_id", "baskets"])
    op.create_index("ix_rec_items_shop_views", "rec_items", ["shop_id", "views"])
    op.create_index(
        "ix_rec_items_shop_category_trend", "rec_items", ["shop_id", "category", "trend"]
    )
    op.create_table(
        "rec_pairs",
        sa.Column("shop_id", sa.String(length=40), nullable=False),
        sa.Column("kind", sa.String(length=1), nullable=False),
        sa.Column("product_id", sa.String(length=200), nullable=False),
        sa.Column("other_id", sa.String(length=200), nullable=False),
        sa.Column("together", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint(
            "shop_id", "kind", "product_id", "other_id", name=op.f("pk_rec_pairs")
        ),
    )
    op.create_index(
        "ix_rec_pairs_shop_kind_product_together",
        "rec_pairs",
        ["shop_id", "kind", "product_id", "together"],
    )
    op.create_table(
        "rec_history",
        sa.Column("shop_id", sa.String(length=40), nullable=False),
        sa.Column("visitor", sa.String(length=210), nullable=False),
        sa.Column("product_id", sa.String(length=200), nullable=False),
        sa.Column("user_id", sa.String(length=200), nullable=True),
        sa.Column("anonymous_id", sa.String(length=200), nullable=True),
        sa.Column("viewed", sa.Float(), nullable=False),
        sa.Column("bought", sa.Float(), nullable=False),
        sa.Column("last_viewed_at", sa.DateTime(), nullable=True),
        sa.Column("last_bought_at", sa.DateTime(), nullable=True),
        sa.PrimaryKeyConstraint("shop_id", "visitor", "product_id", name=op.f("pk_rec_history")),
    )
    op.create_index(
        "ix_rec_history_shop_visitor_viewed",
        "rec_history",
        ["shop_id", "visitor", "last_viewed_at"],
    )
    op.create_table(
        "rec_order_items",
        sa.Column("shop_id", sa.String(length=40), nullable=False),
        sa.Column("order_id", sa.String(length=200), nullable=False),
        sa.Column("product_id", sa.String(length=200), nullable=False),
        sa.Column("user_id", sa.String(length=200), nullable=True),
        sa.Column("anonymous_id", sa.String(length=200), nullable=True),
        sa.Column("placed_at", sa.DateTime(), nullable=False),
        sa.Column("refunded", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint(
            "shop_id", "order_id", "product_id", name=op.f("pk_rec_order_items")
        ),
    )
    op.create_index("ix_rec_order_items_shop_user", "rec_order_items", ["shop_id", "user_id"])
    op.create_table(
        "rec_settings",
        sa.Column("shop_id", sa.String(length=40), nullable=False),
        sa.Column("placements", sa.JSON(), nullable=False),
        sa.Column("excluded", sa.JSON(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("shop_id", name=op.f("pk_rec_settings")),
    )


def downgrade() -> None:
    op.drop_table("rec_settings")
    op.drop_index("ix_rec_order_items_shop_user", table_name="rec_order_items")
    op.drop_table("rec_order_items")
    op.drop_index("ix_rec_history_shop_visitor_viewed", table_name="rec_history")
    op.drop_table("rec_history")
    op.drop_index("ix_rec_pairs_shop_kind_product_together", table_name="rec_pairs")
    op.drop_table("rec_pairs")
    for name in (
        "ix_rec_items_shop_category_trend",
        "ix_rec_items_shop_views",
        "ix_rec_items_shop_baskets",
        "ix_rec_items_shop_trend",
    ):
        op.drop_index(name, table_name="rec_items")
    op.drop_table("rec_items")
