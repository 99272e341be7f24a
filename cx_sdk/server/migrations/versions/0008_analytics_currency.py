"""Analytics money per currency: an order fact's currency, a customer's first order per currency;
covering indexes for the KPI reads.

Revision ID: 0008
Revises: 0007
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("analytics_orders") as batch_op:
        batch_op.add_column(sa.Column("currency", sa.String(length=3), nullable=True))
    with op.batch_alter_table("analytics_customers") as batch_op:
        batch_op.add_column(sa.Column("first_order_days", sa.JSON(), nullable=True))
    op.create_index(
        "ix_analytics_daily_shop_metric_day",
        "analytics_daily",
        ["shop_id", "metric", "day", "key", "value"],
    )
    op.create_index(
        "ix_analytics_customer_days_shop_day_steps",
        "analytics_customer_days",
        ["shop_id", "day", "customer", "steps"],
    )


def downgrade() -> None:
    op.drop_index("ix_analytics_customer_days_shop_day_steps", "analytics_customer_days")
    op.drop_index("ix_analytics_daily_shop_metric_day", "analytics_daily")
    with op.batch_alter_table("analytics_customers") as batch_op:
        batch_op.drop_column("first_order_days")
    with op.batch_alter_table("analytics_orders") as batch_op:
        batch_op.drop_column("currency")
