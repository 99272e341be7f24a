"""The initial tables: shops, keys, events, profiles, identities, order projections,
webhook deliveries, integration state, counters, privacy requests.

Revision ID: 0001
Revises: (none)
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "api_keys",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("shop_id", sa.String(length=40), nullable=False),
        sa.Column("kind", sa.String(length=10), nullable=False),
        sa.Column("key_hash", sa.String(length=64), nullable=False),
        sa.Column("prefix", sa.String(length=16), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("revoked_at", sa.DateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_api_keys")),
        sa.UniqueConstraint("key_hash", name=op.f("uq_api_keys_key_hash")),
    )
    with op.batch_alter_table("api_keys", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_api_keys_shop_id"), ["shop_id"], unique=False)

    op.create_table(
        "counters",
        sa.Column("shop_id", sa.String(length=40), nullable=False),
        sa.Column("name", sa.String(length=50), nullable=False),
        sa.Column("value", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("shop_id", "name", name=op.f("pk_counters")),
    )
    op.create_table(
        "events",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("shop_id", sa.String(length=40), nullable=False),
        sa.Column("message_id", sa.String(length=100), nullable=False),
        sa.Column("type", sa.String(length=10), nullable=False),
        sa.Column("event", sa.String(length=200), nullable=True),
        sa.Column("stage", sa.String(length=20), nullable=True),
        sa.Column("channel", sa.String(length=20), nullable=False),
        sa.Column("user_id", sa.String(length=200), nullable=True),
        sa.Column("anonymous_id", sa.String(length=200), nullable=True),
        sa.Column("timestamp", sa.DateTime(), nullable=False),
        sa.Column("original_timestamp", sa.DateTime(), nullable=False),
        sa.Column("sent_at", sa.DateTime(), nullable=True),
        sa.Column("received_at", sa.DateTime(), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_events")),
        sa.UniqueConstraint("shop_id", "message_id", name=op.f("uq_events_shop_id_message_id")),
    )
    with op.batch_alter_table("events", schema=None) as batch_op:
        batch_op.create_index("ix_events_shop_anon", ["shop_id", "anonymous_id"], unique=False)
        batch_op.create_index("ix_events_shop_event", ["shop_id", "event"], unique=False)
        batch_op.create_index("ix_events_shop_time", ["shop_id", "timestamp"], unique=False)
        batch_op.create_index("ix_events_shop_user", ["shop_id", "user_id"], unique=False)

    op.create_table(
        "identities",
        sa.Column("shop_id", sa.String(length=40), nullable=False),
        sa.Column("anonymous_id", sa.String(length=200), nullable=False),
        sa.Column("user_id", sa.String(length=200), nullable=False),
        sa.Column("linked_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("shop_id", "anonymous_id", name=op.f("pk_identities")),
    )
    with op.batch_alter_table("identities", schema=None) as batch_op:
        batch_op.create_index("ix_identities_shop_user", ["shop_id", "user_id"], unique=False)

    op.create_table(
        "integration_state",
        sa.Column("shop_id", sa.String(length=40), nullable=False),
        sa.Column("kind", sa.String(length=50), nullable=False),
        sa.Column("key", sa.String(length=200), nullable=False),
        sa.Column("value", sa.JSON(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("shop_id", "kind", "key", name=op.f("pk_integration_state")),
    )
    op.create_table(
        "order_timeline",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("shop_id", sa.String(length=40), nullable=False),
        sa.Column("order_id", sa.String(length=200), nullable=False),
        sa.Column("user_id", sa.String(length=200), nullable=True),
        sa.Column("message_id", sa.String(length=100), nullable=False),
        sa.Column("event", sa.String(length=200), nullable=False),
        sa.Column("shipment_id", sa.String(length=200), nullable=True),
        sa.Column("status", sa.String(length=30), nullable=True),
        sa.Column("at", sa.DateTime(), nullable=False),
        sa.Column("data", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_order_timeline")),
        sa.UniqueConstraint(
            "shop_id", "message_id", name=op.f("uq_order_timeline_shop_id_message_id")
        ),
    )
    with op.batch_alter_table("order_timeline", schema=None) as batch_op:
        batch_op.create_index("ix_order_timeline_shop_order", ["shop_id", "order_id"], unique=False)

    op.create_table(
        "orders",
        sa.Column("shop_id", sa.String(length=40), nullable=False),
        sa.Column("order_id", sa.String(length=200), nullable=False),
        sa.Column("order_number", sa.String(length=200), nullable=True),
        sa.Column("user_id", sa.String(length=200), nullable=True),
        sa.Column("anonymous_id", sa.String(length=200), nullable=True),
        sa.Column("email_hash", sa.String(length=64), nullable=True),
        sa.Column("status", sa.String(length=30), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=True),
        sa.Column("total", sa.String(length=40), nullable=True),
        sa.Column("refunded", sa.String(length=40), nullable=True),
        sa.Column("return_status", sa.String(length=30), nullable=True),
        sa.Column("placed_at", sa.DateTime(), nullable=True),
        sa.Column("paid_at", sa.DateTime(), nullable=True),
        sa.Column("cancelled_at", sa.DateTime(), nullable=True),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("shop_id", "order_id", name=op.f("pk_orders")),
    )
    with op.batch_alter_table("orders", schema=None) as batch_op:
        batch_op.create_index("ix_orders_shop_number", ["shop_id", "order_number"], unique=False)
        batch_op.create_index("ix_orders_shop_user", ["shop_id", "user_id"], unique=False)

    op.create_table(
        "privacy_requests",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("shop_id", sa.String(length=40), nullable=False),
        sa.Column("user_id", sa.String(length=200), nullable=True),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_privacy_requests")),
    )
    with op.batch_alter_table("privacy_requests", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_privacy_requests_shop_id"), ["shop_id"], unique=False)

    op.create_table(
        "profiles",
        sa.Column("shop_id", sa.String(length=40), nullable=False),
        sa.Column("user_id", sa.String(length=200), nullable=False),
        sa.Column("email_hash", sa.String(length=64), nullable=True),
        sa.Column("traits", sa.JSON(), nullable=False),
        sa.Column("consent", sa.JSON(), nullable=True),
        sa.Column("first_seen", sa.DateTime(), nullable=False),
        sa.Column("last_seen", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("shop_id", "user_id", name=op.f("pk_profiles")),
    )
    with op.batch_alter_table("profiles", schema=None) as batch_op:
        batch_op.create_index("ix_profiles_shop_email", ["shop_id", "email_hash"], unique=False)

    op.create_table(
        "shipments",
        sa.Column("shop_id", sa.String(length=40), nullable=False),
        sa.Column("shipment_id", sa.String(length=200), nullable=False),
        sa.Column("order_id", sa.String(length=200), nullable=False),
        sa.Column("user_id", sa.String(length=200), nullable=True),
        sa.Column("status", sa.String(length=30), nullable=False),
        sa.Column("raw_status", sa.String(length=100), nullable=True),
        sa.Column("carrier", sa.String(length=200), nullable=True),
        sa.Column("tracking_number", sa.String(length=200), nullable=True),
        sa.Column("tracking_url", sa.Text(), nullable=True),
        sa.Column("promised_delivery_date", sa.String(length=10), nullable=True),
        sa.Column("estimated_delivery_date", sa.String(length=10), nullable=True),
        sa.Column("shipped_at", sa.DateTime(), nullable=True),
        sa.Column("delivered_at", sa.DateTime(), nullable=True),
        sa.Column("status_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("shop_id", "shipment_id", name=op.f("pk_shipments")),
    )
    with op.batch_alter_table("shipments", schema=None) as batch_op:
        batch_op.create_index("ix_shipments_shop_order", ["shop_id", "order_id"], unique=False)

    op.create_table(
        "shops",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("platform", sa.String(length=20), nullable=False),
        sa.Column("domain", sa.String(length=255), nullable=True),
        sa.Column("default_locale", sa.String(length=10), server_default="de", nullable=False),
        sa.Column("store_pii", sa.Boolean(), server_default="0", nullable=False),
        sa.Column("secrets", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_shops")),
        sa.UniqueConstraint("domain", name=op.f("uq_shops_domain")),
    )
    op.create_table(
        "webhook_deliveries",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("shop_id", sa.String(length=40), nullable=False),
        sa.Column("platform", sa.String(length=20), nullable=False),
        sa.Column("delivery_id", sa.String(length=200), nullable=False),
        sa.Column("topic", sa.String(length=100), nullable=False),
        sa.Column("user_id", sa.String(length=200), nullable=True),
        sa.Column("headers", sa.JSON(), nullable=False),
        sa.Column("body", sa.LargeBinary(), nullable=False),
        sa.Column("received_at", sa.DateTime(), nullable=False),
        sa.Column("processed_at", sa.DateTime(), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_webhook_deliveries")),
        sa.UniqueConstraint(
            "shop_id",
            "platform",
            "delivery_id",
            name=op.f("uq_webhook_deliveries_shop_id_platform_delivery_id"),
        ),
    )


def downgrade() -> None:
    op.drop_table("webhook_deliveries")
    op.drop_table("shops")
    with op.batch_alter_table("shipments", schema=None) as batch_op:
        batch_op.drop_index("ix_shipments_shop_order")

    op.drop_table("shipments")
    with op.batch_alter_table("profiles", schema=None) as batch_op:
        batch_op.drop_index("ix_profiles_shop_email")

    op.drop_table("profiles")
    with op.batch_alter_table("privacy_requests", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_privacy_requests_shop_id"))

    op.drop_table("privacy_requests")
    with op.batch_alter_table("orders", schema=None) as batch_op:
        batch_op.drop_index("ix_orders_shop_user")
        batch_op.drop_index("ix_orders_shop_number")

    op.drop_table("orders")
    with op.batch_alter_table("order_timeline", schema=None) as batch_op:
        batch_op.drop_index("ix_order_timeline_shop_order")

    op.drop_table("order_timeline")
    op.drop_table("integration_state")
    with op.batch_alter_table("identities", schema=None) as batch_op:
        batch_op.drop_index("ix_identities_shop_user")

    op.drop_table("identities")
    with op.batch_alter_table("events", schema=None) as batch_op:
        batch_op.drop_index("ix_events_shop_user")
        batch_op.drop_index("ix_events_shop_time")
        batch_op.drop_index("ix_events_shop_event")
        batch_op.drop_index("ix_events_shop_anon")

    op.drop_table("events")
    op.drop_table("counters")
    with op.batch_alter_table("api_keys", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_api_keys_shop_id"))

    op.drop_table("api_keys")
