"""Conversations and messages: the chat tables, and the journey events every change emits.

Every query is scoped by ``shop_id``. Events go through ``Store.ingest`` like everything else,
with message ids derived from the conversation and the chat message id, so a retried write
never counts twice. Message bodies reach the event log only when the shop stores PII.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import or_, select, update
from sqlalchemy.engine import Row

from ..events import (
    Context,
    LiveChatConversationEnded,
    LiveChatConversationStarted,
    LiveChatMessageReceived,
    LiveChatMessageSent,
)
from ..privacy import hash_email
from ..server.store import Shop, Store
from ..server.tables import orders
from ..widgets.tables import survey_contacts
from .hours import Hours, utc
from .tables import chat_conversations, chat_messages, chat_settings

SENDERS = ("visitor", "agent", "auto")


def _naive(value: datetime) -> datetime:
    return value.astimezone(UTC).replace(tzinfo=None)


@dataclass(frozen=True)
class Message:
    id: int
    conversation_id: str
    sender: str
    body: str
    created_at: datetime
    agent_id: str | None = None

    def wire(self) -> dict[str, Any]:
        """What sockets receive; the client renders ``body`` as text, never as HTML."""
        return {
            "type": "msg",
            "id": self.id,
            "c": self.conversation_id,
            "from": self.sender,
            "body": self.body,
            "at": self.created_at.isoformat(),
        }


@dataclass(frozen=True)
class Conversation:
    id: str
    shop_id: str
    anonymous_id: str
    user_id: str | None
    email: str | None
    email_hash: str | None
    locale: str
    status: str
    started_at: datetime
    last_activity_at: datetime
    last_agent_at: datetime | None
    first_response_at: datetime | None
    resolved_at: datetime | None
    away_day: str | None

    @property
    def first_response_seconds(self) -> float | None:
        if self.first_response_at is None:
            return None
        return (self.first_response_at - self.started_at).total_seconds()


def _conversation(row: Row[Any]) -> Conversation:
    return Conversation(
        id=row.id,
        shop_id=row.shop_id,
        anonymous_id=row.anonymous_id,
        user_id=row.user_id,
        email=row.email,
        email_hash=row.email_hash,
        locale=row.locale,
        status=row.status,
        started_at=row.started_at.replace(tzinfo=UTC),
        last_activity_at=row.last_activity_at.replace(tzinfo=UTC),
        last_agent_at=utc(row.last_agent_at),
        first_response_at=utc(row.first_response_at),
        resolved_at=utc(row.resolved_at),
        away_day=row.away_day,
    )


def _message(row: Row[Any]) -> Message:
    return Message(
        id=int(row.id),
        conversation_id=row.conversation_id,
        sender=row.sender,
        body=row.body,
        created_at=row.created_at.replace(tzinfo=UTC),
        agent_id=row.agent_id,
    )


class Chats:
    """The chat part's data access for one store."""

    def __init__(self, store: Store) -> None:
        self.store = store

    # --- settings ------------------------------------------------------------------------

    def hours(self, shop_id: str) -> Hours:
        from .hours import hours_from

        with self.store.engine.connect() as conn:
            row = conn.execute(
                select(chat_settings).where(chat_settings.c.shop_id == shop_id)
            ).first()
        if row is None:
            return Hours()
        return hours_from(row.timezone, list(row.hours), bool(row.ask_email))

    def save_hours(self, shop_id: str, hours: Hours) -> None:
        values = {
            "timezone": hours.timezone,
            "hours": hours.as_json(),
            "ask_email": hours.ask_email,
            "updated_at": _naive(datetime.now(UTC)),
        }
        with self.store.engine.begin() as conn:
            done = conn.execute(
                update(chat_settings).where(chat_settings.c.shop_id == shop_id).values(**values)
            ).rowcount
            if not done:
                conn.execute(chat_settings.insert().values(shop_id=shop_id, **values))

    # --- conversations -------------------------------------------------------------------

    def start(self, shop: Shop, locale: str, now: datetime) -> Conversation:
        conversation_id = secrets.token_urlsafe(12)
        row = {
            "id": conversation_id,
            "shop_id": shop.id,
            "anonymous_id": f"chat-{conversation_id}",
            "user_id": None,
            "email": None,
            "email_hash": None,
            "locale": locale,
            "status": "open",
            "started_at": _naive(now),
            "last_activity_at": _naive(now),
            "last_agent_at": None,
            "first_response_at": None,
            "resolved_at": None,
            "away_day": None,
        }
        with self.store.engine.begin() as conn:
            conn.execute(chat_conversations.insert().values(**row))
        conversation = self.get(shop.id, conversation_id)
        assert conversation is not None
        self._emit(
            shop,
            conversation,
            LiveChatConversationStarted,
            now,
            {"conversation_id": conversation_id},
            conversation_id,
        )
        return conversation

    def get(self, shop_id: str, conversation_id: str) -> Conversation | None:
        with self.store.engine.connect() as conn:
            row = conn.execute(
                select(chat_conversations).where(
                    chat_conversations.c.shop_id == shop_id,
                    chat_conversations.c.id == conversation_id,
                )
            ).first()
        return _conversation(row) if row is not None else None

    def listing(self, shop_id: str, status: str = "open", limit: int = 100) -> list[Conversation]:
        """The shop's conversations of one status, newest activity first."""
        with self.store.engine.connect() as conn:
            rows = conn.execute(
                select(chat_conversations)
                .where(
                    chat_conversations.c.shop_id == shop_id,
                    chat_conversations.c.status == status,
                )
                .order_by(chat_conversations.c.last_activity_at.desc())
                .limit(limit)
            ).all()
        return [_conversation(row) for row in rows]

    def messages(self, shop_id: str, conversation_id: str, after: int = 0) -> list[Message]:
        with self.store.engine.connect() as conn:
            rows = conn.execute(
                select(chat_messages)
                .where(
                    chat_messages.c.shop_id == shop_id,
                    chat_messages.c.conversation_id == conversation_id,
                    chat_messages.c.id > after,
                )
                .order_by(chat_messages.c.id)
                .limit(1000)
            ).all()
        return [_message(row) for row in rows]

    def post(
        self,
        shop: Shop,
        conversation: Conversation,
        sender: str,
        body: str,
        now: datetime,
        agent_id: str | None = None,
    ) -> Message:
        """Store one message and move the conversation's clocks; emits Sent or Received."""
        if sender not in SENDERS:
            raise ValueError(f"sender must be one of {', '.join(SENDERS)}")
        at = _naive(now)
        changes: dict[str, Any] = {"last_activity_at": at}
        if sender == "agent":
            changes["last_agent_at"] = at
        with self.store.engine.begin() as conn:
            inserted = conn.execute(
                chat_messages.insert().values(
                    shop_id=shop.id,
                    conversation_id=conversation.id,
                    anonymous_id=conversation.anonymous_id,
                    user_id=conversation.user_id,
                    sender=sender,
                    agent_id=agent_id,
                    body=body,
                    created_at=at,
                )
            )
            message_id = int(inserted.inserted_primary_key[0])  # type: ignore[index]
            where = (
                chat_conversations.c.shop_id == shop.id,
                chat_conversations.c.id == conversation.id,
            )
            conn.execute(update(chat_conversations).where(*where).values(**changes))
            if sender == "agent":
                conn.execute(
                    update(chat_conversations)
                    .where(*where, chat_conversations.c.first_response_at.is_(None))
                    .values(first_response_at=at)
                )
        message = Message(
            message_id, conversation.id, sender, body, at.replace(tzinfo=UTC), agent_id
        )
        properties: dict[str, Any] = {
            "conversation_id": conversation.id,
            "message_id": str(message_id),
            "agent_id": agent_id,
        }
        if shop.store_pii:
            properties["message_body"] = body
        event = LiveChatMessageSent if sender == "visitor" else LiveChatMessageReceived
        self._emit(shop, conversation, event, now, properties, conversation.id, message_id)
        return message

    def claim_away(self, shop_id: str, conversation_id: str, day: str) -> bool:
        """True for the one caller that may send today's out-of-office answer."""
        with self.store.engine.begin() as conn:
            claimed = conn.execute(
                update(chat_conversations)
                .where(
                    chat_conversations.c.shop_id == shop_id,
                    chat_conversations.c.id == conversation_id,
                    (chat_conversations.c.away_day.is_(None))
                    | (chat_conversations.c.away_day != day),
                )
                .values(away_day=day)
            ).rowcount
        return bool(claimed)

    def set_email(self, shop_id: str, conversation_id: str, email: str) -> Conversation | None:
        """Keep the visitor's email; when it matches a known customer, tie the conversation
        (and its messages) to that customer so the agent sees the journey and erase finds it."""
        digest = hash_email(email)
        with self.store.engine.begin() as conn:
            owner = conn.execute(
                select(orders.c.user_id)
                .where(
                    orders.c.shop_id == shop_id,
                    orders.c.email_hash == digest,
                    orders.c.user_id.is_not(None),
                )
                .order_by(orders.c.placed_at.desc())
                .limit(1)
            ).scalar()
            values: dict[str, Any] = {"email": email, "email_hash": digest}
            if owner:
                values["user_id"] = owner
                conn.execute(
                    update(chat_messages)
                    .where(
                        chat_messages.c.shop_id == shop_id,
                        chat_messages.c.conversation_id == conversation_id,
                    )
                    .values(user_id=owner)
                )
            conn.execute(
                update(chat_conversations)
                .where(
                    chat_conversations.c.shop_id == shop_id,
                    chat_conversations.c.id == conversation_id,
                )
                .values(**values)
            )
        return self.get(shop_id, conversation_id)

    def resolve(self, shop: Shop, conversation: Conversation, now: datetime) -> Conversation:
        """Close it and emit Conversation Ended with its duration and first response time."""
        resolved = self._set_status(
            shop.id, conversation.id, "resolved", resolved_at=_naive(now), at=now
        )
        self._emit(
            shop,
            resolved,
            LiveChatConversationEnded,
            now,
            {
                "conversation_id": conversation.id,
                "conversation_duration": max((now - resolved.started_at).total_seconds(), 0.0),
                "first_response_seconds": resolved.first_response_seconds,
            },
            conversation.id,
            "ended",
            _naive(now).isoformat(),
        )
        return resolved

    def reopen(self, shop: Shop, conversation: Conversation, now: datetime) -> Conversation:
        return self._set_status(shop.id, conversation.id, "open", resolved_at=None, at=now)

    def _set_status(
        self,
        shop_id: str,
        conversation_id: str,
        status: str,
        *,
        resolved_at: datetime | None,
        at: datetime,
    ) -> Conversation:
        with self.store.engine.begin() as conn:
            conn.execute(
                update(chat_conversations)
                .where(
                    chat_conversations.c.shop_id == shop_id,
                    chat_conversations.c.id == conversation_id,
                )
                .values(status=status, resolved_at=resolved_at, last_activity_at=_naive(at))
            )
        changed = self.get(shop_id, conversation_id)
        assert changed is not None
        return changed

    # --- the customer beside the conversation --------------------------------------------

    def customer(self, shop_id: str, conversation: Conversation) -> dict[str, Any]:
        """Last order (with shipments) and last survey answer of the visitor, when known."""
        order_id: str | None = None
        with self.store.engine.connect() as conn:
            filters = []
            if conversation.user_id:
                filters.append(orders.c.user_id == conversation.user_id)
            if conversation.email_hash:
                filters.append(orders.c.email_hash == conversation.email_hash)
            if filters:
                order_id = conn.execute(
                    select(orders.c.order_id)
                    .where(orders.c.shop_id == shop_id, or_(*filters))
                    .order_by(orders.c.placed_at.desc())
                    .limit(1)
                ).scalar()
            subjects = [
                *([f"u:{conversation.user_id}"] if conversation.user_id else []),
                *([f"e:{conversation.email_hash}"] if conversation.email_hash else []),
            ]
            survey = None
            if subjects:
                survey = conn.execute(
                    select(survey_contacts)
                    .where(
                        survey_contacts.c.shop_id == shop_id,
                        survey_contacts.c.subject.in_(subjects),
                        survey_contacts.c.answered_at.is_not(None),
                    )
                    .order_by(survey_contacts.c.answered_at.desc())
                    .limit(1)
                ).first()
        order = self.store.get_order(shop_id, order_id) if order_id else None
        return {
            "order": order,
            "survey": (
                {
                    "survey_id": survey.survey_id,
                    "score": survey.score,
                    "at": utc(survey.answered_at),
                }
                if survey is not None
                else None
            ),
        }

    # --- events --------------------------------------------------------------------------

    def _emit(
        self,
        shop: Shop,
        conversation: Conversation,
        model: Any,
        now: datetime,
        properties: dict[str, Any],
        *key: object,
    ) -> None:
        event = model(
            user_id=conversation.user_id,
            anonymous_id=conversation.anonymous_id,
            timestamp=now,
            properties=properties,
            context=Context.model_validate({"channel": "chat", "locale": conversation.locale}),
        ).keyed(shop.id, *key)
        result = self.store.ingest(shop.id, [event.to_wire()])
        if result.rejected:
            raise ValueError(f"chat event refused: {result.rejected[0]}")
