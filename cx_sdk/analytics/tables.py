"""Journey analytics: its tables, registered on the collector's metadata.

``analytics_daily`` holds additive sums per shop, day, metric and key (no customer in it), so a
KPI over any period is a sum of a few hundred small rows. The other tables are per-entity
facts (a customer, an order, a checkout, a shipment, a chat, a comment): the daily sums are
maintained as "new contribution minus old contribution" of the facts an event changed, which
makes late, repeated and reordered events harmless. Every fact table carries ``user_id`` and
``anonymous_id`` (or ``order_id``), so the collector's erase and export reach it.
"""

from __future__ import annotations

from sqlalchemy import JSON, Boolean, Column, Date, DateTime, Float, Index, Integer, String, Table

from ..server.tables import PROJECTION
from ..server.tables import metadata as metadata

analytics_daily = Table(
    "analytics_daily",
    metadata,
    Column("shop_id", String(40), primary_key=True),
    Column("day", Date, primary_key=True),
    Column("metric", String(40), primary_key=True),
    Column("key", String(120), primary_key=True),
    Column("value", Float, nullable=False),
    # Lifetime sums (revenue, first orders) before a period read only their metrics' rows,
    # from the index alone.
    Index("ix_analytics_daily_shop_metric_day", "shop_id", "metric", "day", "key", "value"),
    info=PROJECTION,
)

# Which funnel steps a customer reached on a day (bit mask, see aggregates.STEPS): distinct
# customers over a period cannot be summed from daily counts.
analytics_customer_days = Table(
    "analytics_customer_days",
    metadata,
    Column("shop_id", String(40), primary_key=True),
    Column("day", Date, primary_key=True),
    Column("customer", String(210), primary_key=True),
    Column("user_id", String(200), nullable=True),
    Column("anonymous_id", String(200), nullable=True),
    Column("steps", Integer, nullable=False),
    Index("ix_analytics_customer_days_shop_customer", "shop_id", "customer"),
    # A period's funnel reads its days' rows from the index alone.
    Index("ix_analytics_customer_days_shop_day_steps", "shop_id", "day", "customer", "steps"),
    info=PROJECTION,
)

analytics_customers = Table(
    "analytics_customers",
    metadata,
    Column("shop_id", String(40), primary_key=True),
    Column("customer", String(210), primary_key=True),
    Column("user_id", String(200), nullable=True),
    Column("anonymous_id", String(200), nullable=True),
    Column("orders", Integer, nullable=False),
    Column("revenue", Float, nullable=False),
    Column("first_order_day", Date, nullable=True),
    Column("last_order_day", Date, nullable=True),
    Column("segment", String(20), nullable=True),
    Column("segment_day", Date, nullable=True),
    # Currency → day of the first order in it: the customers a per-currency CLV divides by.
    Column("first_order_days", JSON, nullable=True),
    Index("ix_analytics_customers_shop_segment", "shop_id", "segment"),
    Index("ix_analytics_customers_shop_last", "shop_id", "last_order_day"),
    Index("ix_analytics_customers_shop_first", "shop_id", "customer", "first_order_day"),
    info=PROJECTION,
)

analytics_orders = Table(
    "analytics_orders",
    metadata,
    Column("shop_id", String(40), primary_key=True),
    Column("order_id", String(200), primary_key=True),
    Column("customer", String(210), nullable=True),
    Column("user_id", String(200), nullable=True),
    Column("anonymous_id", String(200), nullable=True),
    Column("checkout_id", String(200), nullable=True),
    Column("placed_at", DateTime, nullable=True),
    Column("total", Float, nullable=False),
    Column("refunded", Float, nullable=False),
    Column("currency", String(3), nullable=True),
    Column("returned", Boolean, nullable=False),
    # Covering the KPI read (orders of a period and whose they are) spares a table lookup.
    Index("ix_analytics_orders_shop_placed", "shop_id", "placed_at", "customer"),
    Index("ix_analytics_orders_shop_customer", "shop_id", "customer"),
    Index("ix_analytics_orders_shop_checkout", "shop_id", "checkout_id"),
    info=PROJECTION,
)

analytics_checkouts = Table(
    "analytics_checkouts",
    metadata,
    Column("shop_id", String(40), primary_key=True),
    Column("checkout_key", String(210), primary_key=True),
    Column("customer", String(210), nullable=True),
    Column("user_id", String(200), nullable=True),
    Column("anonymous_id", String(200), nullable=True),
    Column("started_at", DateTime, nullable=False),
    Column("ordered_at", DateTime, nullable=True),
    Index("ix_analytics_checkouts_shop_customer", "shop_id", "customer", "started_at"),
    info=PROJECTION,
)

analytics_shipments = Table(
    "analytics_shipments",
    metadata,
    Column("shop_id", String(40), primary_key=True),
    Column("shipment_id", String(200), primary_key=True),
    Column("order_id", String(200), nullable=False),
    Column("user_id", String(200), nullable=True),
    Column("delivered_day", Date, nullable=True),
    Column("promised", Boolean, nullable=False),
    Column("on_time", Boolean, nullable=False),
    Column("delivery_days", Float, nullable=True),
    info=PROJECTION,
)

analytics_chats = Table(
    "analytics_chats",
    metadata,
    Column("shop_id", String(40), primary_key=True),
    Column("conversation_id", String(200), primary_key=True),
    Column("user_id", String(200), nullable=True),
    Column("anonymous_id", String(200), nullable=True),
    Column("day", Date, nullable=False),
    Column("first_response_seconds", Float, nullable=True),
    Column("resolution_seconds", Float, nullable=True),
    Index("ix_analytics_chats_shop_day", "shop_id", "day"),
    info=PROJECTION,
)

# One scored comment (survey or chat); the text stays in the event log only.
analytics_comments = Table(
    "analytics_comments",
    metadata,
    Column("shop_id", String(40), primary_key=True),
    Column("message_id", String(100), primary_key=True),
    Column("user_id", String(200), nullable=True),
    Column("anonymous_id", String(200), nullable=True),
    Column("day", Date, nullable=False),
    Column("source", String(10), nullable=False),
    Column("label", String(10), nullable=False),
    Column("score", Float, nullable=False),
    Column("drivers", JSON, nullable=False),
    Index("ix_analytics_comments_shop_day", "shop_id", "day"),
    info=PROJECTION,
)

TABLES = (
    analytics_daily,
    analytics_customer_days,
    analytics_customers,
    analytics_orders,
    analytics_checkouts,
    analytics_shipments,
    analytics_chats,
    analytics_comments,
)
