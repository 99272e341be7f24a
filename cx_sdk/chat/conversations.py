"""Conversations and messages: the chat tables, and the journey events every change emits.

Every query is scoped by ``shop_id``. Events go through ``Store.ingest`` like everything else,
with message ids derived from the conversation and the chat message id, so a retried write
never counts twice. Message bodies reach the event log only when the shop stores PII.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import Any

from sqlalchemy import bindparam, func, or_, select, update
from sqlalchemy.engine import Connection, Row

from ..events import (
    Context,
    LiveChatConversationEnded,
    LiveChatConversationStarted,
    LiveChatMessageReceived,
    LiveChatMessageSent,
)
from ..privacy import hash_email
from ..server.clock import naive_utc, utcnow
from ..server.store import Shop, Store
from ..server.tables import orders
from ..widgets.tables import survey_contacts
from .hours import Hours, utc
from .tables import chat_conversations, chat_messages, chat_settings

SENDERS = ("visitor", "agent", "auto")
# A journey event waiting to be ingested: made into the shop and the event's wire form only
# when it is ingested (building the event model is no work for the message's transaction).
Event = Callable[[], tuple[str, dict[str, Any]]]
# Where the catch-up of message events (``Chats.catch_up``) keeps how far it got.
CATCH_UP = ("chat", "events")
# Messages younger than this are left to the writer that stored them (see ``catch_up``).
SETTLE = timedelta(seconds=60)
log = logging.getLogger("cx.chat")


# Built once: constructing a statement per message cost more than running it.
_GET = select(chat_conversations).where(
    chat_conversations.c.shop_id == bindparam("shop"),
    chat_conversations.c.id == bindparam("conversation"),
)
_INSERT_MESSAGE = chat_messages.insert()
_TOUCH = {
    sender: update(chat_conversations)
    .where(
        chat_conversations.c.shop_id == bindparam("shop"),
        chat_conversations.c.id == bindparam("conversation"),
    )
    .values(
        last_activity_at=bindparam("at"),
        **(
            {
                "last_agent_at": bindparam("at"),
                "first_response_at": func.coalesce(
                    chat_conversations.c.first_response_at, bindparam("at")
                ),
            }
            if sender == "agent"
            else {}
        ),
    )
    for sender in ("visitor", "agent", "auto")
}


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
        with self.store.engine.connect() as conn:
            return self.hours_in(conn, shop_id)

    def hours_in(self, conn: Connection, shop_id: str) -> Hours:
        from .hours import hours_from

        row = conn.execute(select(chat_settings).where(chat_settings.c.shop_id == shop_id)).first()
        if row is None:
            return Hours()
        return hours_from(row.timezone, list(row.hours), bool(row.ask_email))

    def save_hours(self, shop_id: str, hours: Hours) -> None:
        values = {
            "timezone": hours.timezone,
            "hours": hours.as_json(),
            "ask_email": hours.ask_email,
            "updated_at": utcnow(),
        }
        with self.store.engine.begin() as conn:
            done = conn.execute(
                update(chat_settings).where(chat_settings.c.shop_id == shop_id).values(**values)
            ).rowcount
            if not done:
                conn.execute(chat_settings.insert().values(shop_id=shop_id, **values))

    # --- conversations -------------------------------------------------------------------

    def start(self, shop: Shop, locale: str, now: datetime) -> Conversation:
        with self.store.begin() as conn:
            conversation, event = self.start_in(conn, shop, locale, now)
        self.ingest([event])
        return conversation

    def start_in(
        self, conn: Connection, shop: Shop, locale: str, now: datetime
    ) -> tuple[Conversation, Event]:
        """Create a conversation inside the caller's transaction; returns its Started event."""
        conversation_id = secrets.token_urlsafe(12)
        at = naive_utc(now)
        row: dict[str, Any] = {
            "id": conversation_id,
            "shop_id": shop.id,
            "anonymous_id": f"chat-{conversation_id}",
            "user_id": None,
            "email": None,
            "email_hash": None,
            "locale": locale,
            "status": "open",
            "started_at": at,
            "last_activity_at": at,
            "last_agent_at": None,
            "first_response_at": None,
            "resolved_at": None,
            "away_day": None,
        }
        conn.execute(chat_conversations.insert().values(**row))
        conversation = Conversation(
            id=conversation_id,
            shop_id=shop.id,
            anonymous_id=f"chat-{conversation_id}",
            user_id=None,
            email=None,
            email_hash=None,
            locale=locale,
            status="open",
            started_at=at.replace(tzinfo=UTC),
            last_activity_at=at.replace(tzinfo=UTC),
            last_agent_at=None,
            first_response_at=None,
            resolved_at=None,
            away_day=None,
        )
        return conversation, self._started(shop, conversation)

    def _started(self, shop: Shop, conversation: Conversation) -> Event:
        return self._event(
            shop,
            conversation,
            LiveChatConversationStarted,
            conversation.started_at,
            {"conversation_id": conversation.id},
            conversation.id,
        )

    def get(self, shop_id: str, conversation_id: str) -> Conversation | None:
        with self.store.engine.connect() as conn:
            return self.get_in(conn, shop_id, conversation_id)

    def get_in(self, conn: Connection, shop_id: str, conversation_id: str) -> Conversation | None:
        row = conn.execute(_GET, {"shop": shop_id, "conversation": conversation_id}).first()
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
        with self.store.begin() as conn:
            message, event = self.post_in(conn, shop, conversation, sender, body, now, agent_id)
        self.ingest([event])
        return message

    def post_in(
        self,
        conn: Connection,
        shop: Shop,
        conversation: Conversation,
        sender: str,
        body: str,
        now: datetime,
        agent_id: str | None = None,
    ) -> tuple[Message, Event]:
        """``post`` inside the caller's transaction; returns the message's event (Sent or
        Received) for the caller to ingest once the message is out."""
        if sender not in SENDERS:
            raise ValueError(f"sender must be one of {', '.join(SENDERS)}")
        at = naive_utc(now)
        inserted = conn.execute(
            _INSERT_MESSAGE,
            {
                "shop_id": shop.id,
                "conversation_id": conversation.id,
                "anonymous_id": conversation.anonymous_id,
                "user_id": conversation.user_id,
                "sender": sender,
                "agent_id": agent_id,
                "body": body,
                "created_at": at,
            },
        )
        message_id = int(inserted.inserted_primary_key[0])  # type: ignore[index]
        conn.execute(_TOUCH[sender], {"shop": shop.id, "conversation": conversation.id, "at": at})
        message = Message(
            message_id, conversation.id, sender, body, at.replace(tzinfo=UTC), agent_id
        )
        return message, self._message_event(shop, conversation, message)

    def _message_event(self, shop: Shop, conversation: Conversation, message: Message) -> Event:
        properties: dict[str, Any] = {
            "conversation_id": conversation.id,
            "message_id": str(message.id),
            "agent_id": message.agent_id,
        }
        if shop.store_pii:
            properties["message_body"] = message.body
        event = LiveChatMessageSent if message.sender == "visitor" else LiveChatMessageReceived
        return self._event(
            shop, conversation, event, message.created_at, properties, conversation.id, message.id
        )

    @staticmethod
    def after_post(conversation: Conversation, message: Message) -> Conversation:
        """The conversation as ``post_in`` left it, without reading it back."""
        at = message.created_at
        if message.sender != "agent":
            return replace(conversation, last_activity_at=at)
        return replace(
            conversation,
            last_activity_at=at,
            last_agent_at=at,
            first_response_at=conversation.first_response_at or at,
        )

    def claim_away(self, shop_id: str, conversation_id: str, day: str) -> bool:
        """True for the one caller that may send today's out-of-office answer."""
        with self.store.begin() as conn:
            return self.claim_away_in(conn, shop_id, conversation_id, day)

    def claim_away_in(self, conn: Connection, shop_id: str, conversation_id: str, day: str) -> bool:
        claimed = conn.execute(
            update(chat_conversations)
            .where(
                chat_conversations.c.shop_id == shop_id,
                chat_conversations.c.id == conversation_id,
                (chat_conversations.c.away_day.is_(None)) | (chat_conversations.c.away_day != day),
            )
            .values(away_day=day)
        ).rowcount
        return bool(claimed)

    def set_email(self, shop_id: str, conversation_id: str, email: str) -> Conversation | None:
        """Keep the visitor's email; when it matches a known customer, tie the conversation
        (and its messages) to that customer so the agent sees the journey and erase finds it."""
        with self.store.begin() as conn:
            return self.set_email_in(conn, shop_id, conversation_id, email)

    def set_email_in(
        self, conn: Connection, shop_id: str, conversation_id: str, email: str
    ) -> Conversation | None:
        digest = hash_email(email)
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
        return self.get_in(conn, shop_id, conversation_id)

    def resolve(self, shop: Shop, conversation: Conversation, now: datetime) -> Conversation:
        """Close it and emit Conversation Ended with its duration and first response time."""
        with self.store.begin() as conn:
            resolved = self.set_status_in(
                conn, shop.id, conversation.id, "resolved", resolved_at=naive_utc(now), at=now
            )
        self.ingest(
            [
                self._event(
                    shop,
                    resolved,
                    LiveChatConversationEnded,
                    now,
                    {
                        "conversation_id": conversation.id,
                        "conversation_duration": max(
                            (now - resolved.started_at).total_seconds(), 0.0
                        ),
                        "first_response_seconds": resolved.first_response_seconds,
                    },
                    conversation.id,
                    "ended",
                    naive_utc(now).isoformat(),
                )
            ]
        )
        return resolved

    def reopen(self, shop: Shop, conversation: Conversation, now: datetime) -> Conversation:
        with self.store.begin() as conn:
            return self.reopen_in(conn, shop, conversation, now)

    def reopen_in(
        self, conn: Connection, shop: Shop, conversation: Conversation, now: datetime
    ) -> Conversation:
        return self.set_status_in(conn, shop.id, conversation.id, "open", resolved_at=None, at=now)

    def set_status_in(
        self,
        conn: Connection,
        shop_id: str,
        conversation_id: str,
        status: str,
        *,
        resolved_at: datetime | None,
        at: datetime,
    ) -> Conversation:
        conn.execute(
            update(chat_conversations)
            .where(
                chat_conversations.c.shop_id == shop_id,
                chat_conversations.c.id == conversation_id,
            )
            .values(status=status, resolved_at=resolved_at, last_activity_at=naive_utc(at))
        )
        changed = self.get_in(conn, shop_id, conversation_id)
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

    def _event(
        self,
        shop: Shop,
        conversation: Conversation,
        model: Any,
        now: datetime,
        properties: dict[str, Any],
        *key: object,
    ) -> Event:
        return partial(self._wire, shop.id, conversation, model, now, properties, key)

    @staticmethod
    def _wire(
        shop_id: str,
        conversation: Conversation,
        model: Any,
        now: datetime,
        properties: dict[str, Any],
        key: tuple[object, ...],
    ) -> tuple[str, dict[str, Any]]:
        event = model(
            user_id=conversation.user_id,
            anonymous_id=conversation.anonymous_id,
            timestamp=now,
            properties=properties,
            context=Context.model_validate({"channel": "chat", "locale": conversation.locale}),
        ).keyed(shop_id, *key)
        return shop_id, event.to_wire()

    def ingest(self, events: Iterable[Event]) -> None:
        """Store journey events through ``Store.ingest``, one call per shop. Their message ids
        derive from the chat rows, so ingesting an event twice stores it once."""
        by_shop: dict[str, list[dict[str, Any]]] = {}
        for event in events:
            shop_id, wire = event()
            by_shop.setdefault(shop_id, []).append(wire)
        for shop_id, wires in by_shop.items():
            result = self.store.ingest(shop_id, wires)
            if result.rejected:
                raise ValueError(f"chat event refused: {result.rejected[0]}")

    def catch_up(self, now: datetime, limit: int = 500) -> int:
        """Ingest the events of messages that were stored but whose events a crashed worker
        never ingested; returns how many events were (re)sent.

        Message events are ingested right after the fan-out (``writer.Writer``), so a worker
        that dies in between leaves messages without events. This pass, run periodically
        and when a worker starts writing, re-sends the events of every message after the
        shop's mark that has settled (older than ``SETTLE``: no transaction that could still
        commit a lower id is in flight) and moves the mark. Ingest drops the duplicates.
        """
        sent = 0
        settled = naive_utc(now - SETTLE)
        for shop in self.store.list_shops():
            state = self.store.get_state(shop.id, *CATCH_UP)
            with self.store.engine.connect() as conn:
                if state is None:
                    # First pass on this database: older messages had their events written
                    # inline; a day back covers any crash around an upgrade.
                    through = conn.execute(
                        select(func.max(chat_messages.c.id)).where(
                            chat_messages.c.shop_id == shop.id,
                            chat_messages.c.created_at < naive_utc(now - timedelta(days=1)),
                        )
                    ).scalar()
                else:
                    through = state.get("through")
                through = int(through or 0)
                rows = conn.execute(
                    select(chat_messages)
                    .where(
                        chat_messages.c.shop_id == shop.id,
                        chat_messages.c.id > through,
                        chat_messages.c.created_at < settled,
                    )
                    .order_by(chat_messages.c.id)
                    .limit(limit)
                ).all()
                ids = {row.conversation_id for row in rows}
                conversations = (
                    {
                        row.id: _conversation(row)
                        for row in conn.execute(
                            select(chat_conversations).where(
                                chat_conversations.c.shop_id == shop.id,
                                chat_conversations.c.id.in_(ids),
                            )
                        )
                    }
                    if ids
                    else {}
                )
            if not rows:
                if state is None:
                    self.store.put_state(shop.id, *CATCH_UP, {"through": through})
                continue
            events: list[Event] = []
            for conversation in conversations.values():
                events.append(self._started(shop, conversation))
            for row in rows:
                owner = conversations.get(row.conversation_id)
                if owner is not None:
                    events.append(self._message_event(shop, owner, _message(row)))
            self.ingest(events)
            sent += len(events)
            self.store.put_state(shop.id, *CATCH_UP, {"through": int(rows[-1].id)})
        return sent
