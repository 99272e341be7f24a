"""Live chat: its tables, registered on the collector's metadata.

Conversations and messages carry ``user_id`` and ``anonymous_id`` (``chat-<conversation>``),
so the collector's erase and export reach them without knowing about chat.
"""

from __future__ import annotations

from sqlalchemy import JSON, Boolean, Column, DateTime, Index, String, Table, Text

from ..server.tables import BigId
from ..server.tables import metadata as metadata

# One row per shop: weekly hours in the shop's time zone and the pre-chat email switch.
chat_settings = Table(
    "chat_settings",
    metadata,
    Column("shop_id", String(40), primary_key=True),
    Column("timezone", String(64), nullable=False),
    # Seven entries, Monday first: {"mode": "hours"|"open"|"closed", "from": "09:00", "to": …}.
    Column("hours", JSON, nullable=False),
    Column("ask_email", Boolean, nullable=False),
    Column("updated_at", DateTime, nullable=False),
)

chat_conversations = Table(
    "chat_conversations",
    metadata,
    Column("id", String(40), primary_key=True),
    Column("shop_id", String(40), nullable=False),
    Column("anonymous_id", String(200), nullable=False),
    Column("user_id", String(200), nullable=True),
    # What the visitor typed so that an answer can follow by mail; erased with the rest.
    Column("email", String(254), nullable=True),
    Column("email_hash", String(64), nullable=True),
    Column("locale", String(10), nullable=False),
    Column("status", String(10), nullable=False),
    Column("started_at", DateTime, nullable=False),
    Column("last_activity_at", DateTime, nullable=False),
    Column("last_agent_at", DateTime, nullable=True),
    Column("first_response_at", DateTime, nullable=True),
    Column("resolved_at", DateTime, nullable=True),
    # The shop-local day (YYYY-MM-DD) of the last out-of-office answer: at most one a day.
    Column("away_day", String(10), nullable=True),
    Index("ix_chat_conversations_shop_status", "shop_id", "status", "last_activity_at"),
)

chat_messages = Table(
    "chat_messages",
    metadata,
    # Increasing: a reconnecting client asks for everything after the last id it saw.
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("shop_id", String(40), nullable=False),
    Column("conversation_id", String(40), nullable=False),
    Column("anonymous_id", String(200), nullable=False),
    Column("user_id", String(200), nullable=True),
    # "visitor", "agent" or "auto" (the out-of-office answer).
    Column("sender", String(10), nullable=False),
    Column("agent_id", String(40), nullable=True),
    Column("body", Text, nullable=False),
    Column("created_at", DateTime, nullable=False),
    Index("ix_chat_messages_shop_conversation", "shop_id", "conversation_id", "id"),
)
