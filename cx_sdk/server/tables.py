"""The collector's tables (SQLAlchemy Core), portable between SQLite and PostgreSQL.

Every table carries ``shop_id``; every table holding a customer's data carries ``user_id``
(and, where it applies, ``anonymous_id`` or ``order_id``), which is what privacy erase and
export walk, so a table added later is reached without touching them.
Times are naive UTC ``DateTime`` columns: both engines compare them the same way.
"""

from __future__ import annotations

import importlib

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    DateTime,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)

from . import parts

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "pk": "pk_%(table_name)s",
    }
)

# A table built from the event stream by the parts' projectors: on SQLite it lives in the
# projection file beside the core one (``db.make_engine``), so the follower process writes it
# while ingest writes the core file.
PROJECTION = {"projection": True}

# Integer primary keys that stay autoincrementing on SQLite and BIGINT on PostgreSQL.
BigId = BigInteger().with_variant(Integer(), "sqlite")

shops = Table(
    "shops",
    metadata,
    Column("id", String(40), primary_key=True),
    Column("name", String(200), nullable=False),
    Column("platform", String(20), nullable=False),
    Column("domain", String(255), nullable=True, unique=True),
    Column("default_locale", String(10), nullable=False, server_default="de"),
    Column("store_pii", Boolean, nullable=False, server_default="0"),
    Column("secrets", JSON, nullable=False),
    Column("created_at", DateTime, nullable=False),
)

api_keys = Table(
    "api_keys",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("shop_id", String(40), nullable=False, index=True),
    Column("kind", String(10), nullable=False),
    Column("key_hash", String(64), nullable=False, unique=True),
    Column("prefix", String(16), nullable=False),
    Column("created_at", DateTime, nullable=False),
    Column("revoked_at", DateTime, nullable=True),
)

events = Table(
    "events",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("shop_id", String(40), nullable=False),
    Column("message_id", String(100), nullable=False),
    Column("type", String(10), nullable=False),
    Column("event", String(200), nullable=True),
    Column("stage", String(20), nullable=True),
    Column("channel", String(20), nullable=False),
    Column("user_id", String(200), nullable=True),
    Column("anonymous_id", String(200), nullable=True),
    Column("timestamp", DateTime, nullable=False),
    Column("original_timestamp", DateTime, nullable=False),
    Column("sent_at", DateTime, nullable=True),
    Column("received_at", DateTime, nullable=False),
    Column("body", Text, nullable=False),
    UniqueConstraint("shop_id", "message_id"),
    Index("ix_events_shop_time", "shop_id", "timestamp"),
    Index("ix_events_shop_user", "shop_id", "user_id"),
    Index("ix_events_shop_anon", "shop_id", "anonymous_id"),
    Index("ix_events_shop_event", "shop_id", "event"),
)

profiles = Table(
    "profiles",
    metadata,
    Column("shop_id", String(40), primary_key=True),
    Column("user_id", String(200), primary_key=True),
    Column("email_hash", String(64), nullable=True),
    Column("traits", JSON, nullable=False),
    Column("consent", JSON, nullable=True),
    Column("first_seen", DateTime, nullable=False),
    Column("last_seen", DateTime, nullable=False),
    Index("ix_profiles_shop_email", "shop_id", "email_hash"),
)

identities = Table(
    "identities",
    metadata,
    Column("shop_id", String(40), primary_key=True),
    Column("anonymous_id", String(200), primary_key=True),
    Column("user_id", String(200), nullable=False),
    Column("linked_at", DateTime, nullable=False),
    Index("ix_identities_shop_user", "shop_id", "user_id"),
)

orders = Table(
    "orders",
    metadata,
    Column("shop_id", String(40), primary_key=True),
    Column("order_id", String(200), primary_key=True),
    Column("order_number", String(200), nullable=True),
    Column("user_id", String(200), nullable=True),
    Column("anonymous_id", String(200), nullable=True),
    Column("email_hash", String(64), nullable=True),
    Column("status", String(30), nullable=False),
    Column("currency", String(3), nullable=True),
    Column("total", String(40), nullable=True),
    Column("refunded", String(40), nullable=True),
    Column("return_status", String(30), nullable=True),
    Column("placed_at", DateTime, nullable=True),
    Column("paid_at", DateTime, nullable=True),
    Column("cancelled_at", DateTime, nullable=True),
    Column("updated_at", DateTime, nullable=False),
    # New on every write of the projection (any event, in any order): what caches of views
    # rendered from it (the tracking widget) are keyed on.
    Column("revision", String(32), nullable=True),
    Index("ix_orders_shop_number", "shop_id", "order_number"),
    Index("ix_orders_shop_user", "shop_id", "user_id"),
)

shipments = Table(
    "shipments",
    metadata,
    Column("shop_id", String(40), primary_key=True),
    Column("shipment_id", String(200), primary_key=True),
    Column("order_id", String(200), nullable=False),
    Column("user_id", String(200), nullable=True),
    Column("status", String(30), nullable=False),
    Column("raw_status", String(100), nullable=True),
    Column("carrier", String(200), nullable=True),
    Column("tracking_number", String(200), nullable=True),
    Column("tracking_url", Text, nullable=True),
    Column("promised_delivery_date", String(10), nullable=True),
    Column("estimated_delivery_date", String(10), nullable=True),
    Column("shipped_at", DateTime, nullable=True),
    Column("delivered_at", DateTime, nullable=True),
    Column("status_at", DateTime, nullable=False),
    Index("ix_shipments_shop_order", "shop_id", "order_id"),
)

# The per-order timeline widgets render: one row per order-related event, newest state
# lives in ``orders``/``shipments``.
order_timeline = Table(
    "order_timeline",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("shop_id", String(40), nullable=False),
    Column("order_id", String(200), nullable=False),
    Column("user_id", String(200), nullable=True),
    Column("message_id", String(100), nullable=False),
    Column("event", String(200), nullable=False),
    Column("shipment_id", String(200), nullable=True),
    Column("status", String(30), nullable=True),
    Column("at", DateTime, nullable=False),
    Column("data", JSON, nullable=False),
    UniqueConstraint("shop_id", "message_id"),
    Index("ix_order_timeline_shop_order", "shop_id", "order_id"),
)

webhook_deliveries = Table(
    "webhook_deliveries",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("shop_id", String(40), nullable=False),
    Column("platform", String(20), nullable=False),
    Column("delivery_id", String(200), nullable=False),
    Column("topic", String(100), nullable=False),
    # Set by the integration once it knows whose delivery it is, so erase reaches the raw body.
    Column("user_id", String(200), nullable=True),
    Column("headers", JSON, nullable=False),
    Column("body", LargeBinary, nullable=False),
    Column("received_at", DateTime, nullable=False),
    Column("processed_at", DateTime, nullable=True),
    Column("error", Text, nullable=True),
    UniqueConstraint("shop_id", "platform", "delivery_id"),
)

integration_state = Table(
    "integration_state",
    metadata,
    Column("shop_id", String(40), primary_key=True),
    Column("kind", String(50), primary_key=True),
    Column("key", String(200), primary_key=True),
    Column("value", JSON, nullable=False),
    Column("updated_at", DateTime, nullable=False),
)

counters = Table(
    "counters",
    metadata,
    Column("shop_id", String(40), primary_key=True),
    Column("name", String(50), primary_key=True),
    Column("value", BigInteger, nullable=False),
)

# Answers to platform privacy requests (Shopify's customers/data_request) the merchant fetches.
privacy_requests = Table(
    "privacy_requests",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("shop_id", String(40), nullable=False, index=True),
    Column("user_id", String(200), nullable=True),
    Column("kind", String(20), nullable=False),
    Column("created_at", DateTime, nullable=False),
    Column("payload", JSON, nullable=False),
)

# Batches of stored events the parts' projectors (analytics, recommendations) have yet to see:
# ingest adds one row per batch in its own transaction. On PostgreSQL the follower claims and
# deletes rows in the transaction that projects them; on SQLite it moves ``follower_cursor``
# past them (it never writes the core file) and ingest deletes them later. Either way every
# batch is projected exactly once. AUTOINCREMENT: an id below the cursor is never handed out
# again once its row is gone.
projection_backlog = Table(
    "projection_backlog",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("shop_id", String(40), nullable=False),
    Column("event_ids", Text, nullable=False),
    Column("created_at", DateTime, nullable=False),
    Index("ix_projection_backlog_shop", "shop_id", "id"),
    sqlite_autoincrement=True,
)

# The last backlog id the follower projected (one row; stays 0 on PostgreSQL, which deletes
# what it claims). Beside the projections, so both commit together.
follower_cursor = Table(
    "follower_cursor",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("position", BigInteger, nullable=False),
    info=PROJECTION,
)

# Failed projections of one backlog batch on its own; at follower.MAX_ATTEMPTS it is set aside
# (kept, no longer claimed) until ``cx db backlog --retry``.
projection_failures = Table(
    "projection_failures",
    metadata,
    Column("backlog_id", BigInteger, primary_key=True, autoincrement=False),
    Column("shop_id", String(40), nullable=False),
    Column("attempts", Integer, nullable=False),
    Column("last_error", Text, nullable=True),
    Column("failed_at", DateTime, nullable=False),
    info=PROJECTION,
)

# Optional parts keep their tables next to their code and register them on this metadata when
# imported; importing them here means erase and export always see every customer table.
for _module in parts.PARTS.values():
    if (parts.folder(_module) / "tables.py").exists():
        importlib.import_module(f"{_module}.tables")
