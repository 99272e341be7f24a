"""Journey analytics: daily sums, per-entity facts and personas (see cx_sdk/analytics/tables.py).

Revision ID: 0005
Revises: 0004
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "analytics_chats",
        sa.Column("shop_id", sa.String(length=40), nullable=False),
        sa.Column("conversation_id", sa.String(length=200), nullable=False),
        sa.Column("user_id", sa.String(length=200), nullable=True),
        sa.Column("anonymous_id", sa.String(length=200), nullable=True),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("first_response_seconds", sa.Float(), nullable=True),
        sa.Column("resolution_seconds", sa.Float(), nullable=True),
        sa.PrimaryKeyConstraint("shop_id", "conversation_id", name=op.f("pk_analytics_chats")),
    )
    op.create_index(
        "ix_analytics_chats_shop_day", "analytics_chats", ["shop_id", "day"], unique=False
    )
    op.create_table(
        "analytics_checkouts",
        sa.Column("shop_id", sa.String(length=40), nullable=False),
        sa.Column("checkout_key", sa.String(length=210), nullable=False),
        sa.Column("customer", sa.String(length=210), nullable=True),
        sa.Column("user_id", sa.String(length=200), nullable=True),
        sa.Column("anonymous_id", sa.String(length=200), nullable=True),
        sa.Column("started_at", sa.DateTime(), nullable=False),
        sa.Column("ordered_at", sa.DateTime(), nullable=True),
        sa.PrimaryKeyConstraint("shop_id", "checkout_key", name=op.f("pk_analytics_checkouts")),
    )
    op.create_index(
        "ix_analytics_checkouts_shop_customer",
        "analytics_checkouts",
        ["shop_id", "customer", "started_at"],
        unique=False,
    )
    op.create_table(
        "analytics_comments",
        sa.Column("shop_id", sa.String(length=40), nullable=False),
        sa.Column("message_id", sa.String(length=100), nullable=False),
        sa.Column("user_id", sa.String(length=200), nullable=True),
        sa.Column("anonymous_id", sa.String(length=200), nullable=True),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("source", sa.String(length=10), nullable=False),
        sa.Column("label", sa.String(length=10), nullable=False),
        sa.Column("score", sa.Float(), nullable=False),
        sa.Column("drivers", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("shop_id", "message_id", name=op.f("pk_analytics_comments")),
    )
    op.create_index(
        "ix_analytics_comments_shop_day", "analytics_comments", ["shop_id", "day"], unique=False
    )
    op.create_table(
        "analytics_customer_days",
        sa.Column("shop_id", sa.String(length=40), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("customer", sa.String(length=210), nullable=False),
        sa.Column("user_id", sa.String(length=200), nullable=True),
        sa.Column("anonymous_id", sa.String(length=200), nullable=True),
        sa.Column("steps", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint(
            "shop_id", "day", "customer", name=op.f("pk_analytics_customer_days")
        ),
    )
    op.create_index(
        "ix_analytics_customer_days_shop_customer",
        "analytics_customer_days",
        ["shop_id", "customer"],
        unique=False,
    )
    op.create_table(
        "analytics_customers",
        sa.Column("shop_id", sa.String(length=40), nullable=False),
        sa.Column("customer", sa.String(length=210), nullable=False),
        sa.Column("user_id", sa.String(length=200), nullable=True),
        sa.Column("anonymous_id", sa.String(length=200), nullable=True),
        sa.Column("orders", sa.Integer(), nullable=False),
        sa.Column("revenue", sa.Float(), nullable=False),
        sa.Column("first_order_day", sa.Date(), nullable=True),
        sa.Column("last_order_day", sa.Date(), nullable=True),
        sa.Column("segment", sa.String(length=20), nullable=True),
        sa.Column("segment_day", sa.Date(), nullable=True),
        sa.PrimaryKeyConstraint("shop_id", "customer", name=op.f("pk_analytics_customers")),
    )
    op.create_index(
        "ix_analytics_customers_shop_first",
        "analytics_customers",
        ["shop_id", "customer", "first_order_day"],
        unique=False,
    )
    op.create_index(
        "ix_analytics_customers_shop_last",
        "analytics_customers",
        ["shop_id", "last_order_day"],
        unique=False,
    )
    op.create_index(
        "ix_analytics_customers_shop_segment",
        "analytics_customers",
        ["shop_id", "segment"],
        unique=False,
    )
    op.create_table(
        "analytics_daily",
        sa.Column("shop_id", sa.String(length=40), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("metric", sa.String(length=40), nullable=False),
        sa.Column("key", sa.String(length=120), nullable=False),
        sa.Column("value", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("shop_id", "day", "metric", "key", name=op.f("pk_analytics_daily")),
    )
    op.create_table(
        "analytics_orders",
        sa.Column("shop_id", sa.String(length=40), nullable=False),
        sa.Column("order_id", sa.String(length=200), nullable=False),
        sa.Column("customer", sa.String(length=210), nullable=True),
        sa.Column("user_id", sa.String(length=200), nullable=True),
        sa.Column("anonymous_id", sa.String(length=200), nullable=True),
        sa.Column("checkout_id", sa.String(length=200), nullable=True),
        sa.Column("placed_at", sa.DateTime(), nullable=True),
        sa.Column("total", sa.Float(), nullable=False),
        sa.Column("refunded", sa.Float(), nullable=False),
        sa.Column("returned", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("shop_id", "order_id", name=op.f("pk_analytics_orders")),
    )
    op.create_index(
        "ix_analytics_orders_shop_checkout",
        "analytics_orders",
        ["shop_id", "checkout_id"],
        unique=False,
    )
    op.create_index(
        "ix_analytics_orders_shop_customer",
        "analytics_orders",
        ["shop_id", "customer"],
        unique=False,
    )
    op.create_index(
        "ix_analytics_orders_shop_placed",
        "analytics_orders",
        ["shop_id", "placed_at", "customer"],
        unique=False,
    )
    op.create_table(
        "analytics_shipments",
        sa.Column("shop_id", sa.String(length=40), nullable=False),
        sa.Column("shipment_id", sa.String(length=200), nullable=False),
        sa.Column("order_id", sa.String(length=200), nullable=False),
        sa.Column("user_id", sa.String(length=200), nullable=True),
        sa.Column("delivered_day", sa.Date(), nullable=True),
        sa.Column("promised", sa.Boolean(), nullable=False),
        sa.Column("on_time", sa.Boolean(), nullable=False),
        sa.Column("delivery_days", sa.Float(), nullable=True),
        sa.PrimaryKeyConstraint("shop_id", "shipment_id", name=op.f("pk_analytics_shipments")),
    )


def downgrade() -> None:
    op.drop_table("analytics_shipments")
    op.drop_index("ix_analytics_orders_shop_placed", table_name="analytics_orders")
    op.drop_index("ix_analytics_orders_shop_customer", table_name="analytics_orders")
    op.drop_index("ix_analytics_orders_shop_checkout", table_name="analytics_orders")
    op.drop_table("analytics_orders")
    op.drop_table("analytics_daily")
    op.drop_index("ix_analytics_customers_shop_segment", table_name="analytics_customers")
    op.drop_index("ix_analytics_customers_shop_last", table_name="analytics_customers")
    op.drop_index("ix_analytics_customers_shop_first", table_name="analytics_customers")
    op.drop_table("analytics_customers")
    op.drop_index("ix_analytics_customer_days_shop_customer", table_name="analytics_customer_days")
    op.drop_table("analytics_customer_days")
    op.drop_index("ix_analytics_comments_shop_day", table_name="analytics_comments")
    op.drop_table("analytics_comments")
    op.drop_index("ix_analytics_checkouts_shop_customer", table_name="analytics_checkouts")
    op.drop_table("analytics_checkouts")
    op.drop_index("ix_analytics_chats_shop_day", table_name="analytics_chats")
    op.drop_table("analytics_chats")
