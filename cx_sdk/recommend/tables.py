"""Recommendations: its tables, registered on the collector's metadata.

Counts are kept ready for rendering (a widget reads neighbours, never the event table).
``rec_history`` and ``rec_order_items`` hold a customer's data and carry ``user_id``,
``anonymous_id`` and ``order_id``, so the collector's erase and export reach them.
"""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    DateTime,
    Float,
    Index,
    Integer,
    String,
    Table,
    Text,
)

from ..server.tables import PROJECTION
from ..server.tables import metadata as metadata

# One row per product: what a card shows and the counts the scores divide by.
rec_items = Table(
    "rec_items",
    metadata,
    Column("shop_id", String(40), primary_key=True),
    Column("product_id", String(200), primary_key=True),
    Column("name", String(300), nullable=True),
    Column("price", String(40), nullable=True),
    Column("currency", String(3), nullable=True),
    Column("image_url", Text, nullable=True),
    Column("url", Text, nullable=True),
    Column("category", String(200), nullable=True),
    # None: the shop never said; a card is shown unless it is known to be out of stock.
    Column("in_stock", Boolean, nullable=True),
    # Orders that held the product (net of refunds) and visitors' view sessions of it.
    Column("baskets", Float, nullable=False),
    Column("views", Float, nullable=False),
    # Time-decayed sales in "epoch units" (core.decay_weight): ordering by it is ordering
    # by the sales decayed to any moment, so it never needs rewriting as time passes.
    Column("trend", Float, nullable=False),
    Column("updated_at", DateTime, nullable=False),
    Index("ix_rec_items_shop_trend", "shop_id", "trend"),
    Index("ix_rec_items_shop_baskets", "shop_id", "baskets"),
    Index("ix_rec_items_shop_views", "shop_id", "views"),
    Index("ix_rec_items_shop_category_trend", "shop_id", "category", "trend"),
    info=PROJECTION,
)

# Co-occurrence counts: kind "b" = bought in one order, "v" = viewed in one session.
rec_pairs = Table(
    "rec_pairs",
    metadata,
    Column("shop_id", String(40), primary_key=True),
    Column("kind", String(1), primary_key=True),
    Column("product_id", String(200), primary_key=True),
    Column("other_id", String(200), primary_key=True),
    Column("together", Float, nullable=False),
    Index("ix_rec_pairs_shop_kind_product_together", "shop_id", "kind", "product_id", "together"),
    info=PROJECTION,
)

# A visitor's products: views (recently viewed, sessions for "also viewed") and purchases
# (for you). ``visitor`` is "u:<user id>" or "a:<anonymous id>".
rec_history = Table(
    "rec_history",
    metadata,
    Column("shop_id", String(40), primary_key=True),
    Column("visitor", String(210), primary_key=True),
    Column("product_id", String(200), primary_key=True),
    Column("user_id", String(200), nullable=True),
    Column("anonymous_id", String(200), nullable=True),
    Column("viewed", Float, nullable=False),
    Column("bought", Float, nullable=False),
    Column("last_viewed_at", DateTime, nullable=True),
    Column("last_bought_at", DateTime, nullable=True),
    Index("ix_rec_history_shop_visitor_viewed", "shop_id", "visitor", "last_viewed_at"),
    info=PROJECTION,
)

# What each order held, so a refund can take it back out and "just bought" is excluded.
rec_order_items = Table(
    "rec_order_items",
    metadata,
    Column("shop_id", String(40), primary_key=True),
    Column("order_id", String(200), primary_key=True),
    Column("product_id", String(200), primary_key=True),
    Column("user_id", String(200), nullable=True),
    Column("anonymous_id", String(200), nullable=True),
    Column("placed_at", DateTime, nullable=False),
    Column("refunded", Boolean, nullable=False),
    Index("ix_rec_order_items_shop_user", "shop_id", "user_id"),
    info=PROJECTION,
)

# Shop-wide totals the scores divide by (baskets, view sessions) and the mark a migration
# leaves for ``cx recs rebuild``.
rec_totals = Table(
    "rec_totals",
    metadata,
    Column("shop_id", String(40), primary_key=True),
    Column("name", String(50), primary_key=True),
    Column("value", BigInteger, nullable=False),
    info=PROJECTION,
)

# The merchant's choices: strategy and count per placement, excluded products.
rec_settings = Table(
    "rec_settings",
    metadata,
    Column("shop_id", String(40), primary_key=True),
    Column("placements", JSON, nullable=False),
    Column("excluded", JSON, nullable=False),
    Column("version", Integer, nullable=False),
    Column("updated_at", DateTime, nullable=False),
)
