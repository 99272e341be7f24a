"""Conversations on SQLite and PostgreSQL: clocks, journey events, scoping and privacy."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from cx_sdk.chat.conversations import Chats
from cx_sdk.chat.hours import Day, Hours
from cx_sdk.events.envelope import derive_message_id
from cx_sdk.server import CreatedShop, Store

from ..widgets.journeys import EMAIL, ingest, placed, shipped

T0 = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)


def chat_events(store: Store, shop_id: str) -> list[dict[str, Any]]:
    return [
        event
        for _, event in store.iter_events(shop_id)
        if str(event.get("event", "")).startswith("Live Chat")
    ]


def test_a_conversation_emits_started_sent_received_and_ended(
    store: Store, shop: CreatedShop
) -> None:
    chats = Chats(store)
    conversation = chats.start(shop.shop, "de", T0)
    asked = chats.post(shop.shop, conversation, "visitor", "Wo ist mein Paket?", T0)
    answered = chats.post(
        shop.shop, conversation, "agent", "Unterwegs!", T0 + timedelta(seconds=90), agent_id="a1"
    )
    ended = chats.resolve(shop.shop, conversation, T0 + timedelta(minutes=10))
    events = chat_events(store, shop.shop.id)
    assert [e["event"] for e in events] == [
        "Live Chat Conversation Started",
        "Live Chat Message Sent",
        "Live Chat Message Received",
        "Live Chat Conversation Ended",
    ]
    assert all(e["anonymousId"] == f"chat-{conversation.id}" for e in events)
    assert all(e["context"]["channel"] == "chat" for e in events)
    assert events[1]["properties"]["message_id"] == str(asked.id)
    assert events[2]["properties"]["agent_id"] == "a1"
    assert events[1]["messageId"] == derive_message_id(
        "track", "Live Chat Message Sent", shop.shop.id, conversation.id, asked.id
    )
    assert events[3]["properties"]["conversation_duration"] == 600
    assert events[3]["properties"]["first_response_seconds"] == 90
    assert ended.first_response_seconds == 90 and ended.status == "resolved"
    assert answered.sender == "agent"


def test_message_bodies_stay_out_of_events_unless_the_shop_stores_pii(store: Store) -> None:
    private = store.create_shop("Privat")
    open_shop = store.create_shop("Offen")
    store.update_shop(open_shop.shop.id, store_pii=True)
    for created in (private, open_shop):
        shop = store.get_shop(created.shop.id)
        assert shop is not None
        chats = Chats(store)
        chats.post(shop, chats.start(shop, "de", T0), "visitor", "Meine Adresse ist …", T0)
    [sent_private] = [e for e in chat_events(store, private.shop.id) if e["event"].endswith("Sent")]
    [sent_open] = [e for e in chat_events(store, open_shop.shop.id) if e["event"].endswith("Sent")]
    assert "message_body" not in sent_private["properties"]
    assert sent_open["properties"]["message_body"] == "Meine Adresse ist …"
    # The body itself is kept in the chat tables either way.
    conversation_id = sent_private["properties"]["conversation_id"]
    [kept] = Chats(store).messages(private.shop.id, conversation_id)
    assert kept.body == "Meine Adresse ist …"


def test_conversation_ended_without_agent_reply_has_null_first_response(
    store: Store, shop: CreatedShop
) -> None:
    chats = Chats(store)
    conversation = chats.start(shop.shop, "en", T0)
    chats.post(shop.shop, conversation, "visitor", "hello", T0)
    chats.post(shop.shop, conversation, "auto", "We are back tomorrow", T0)
    chats.resolve(shop.shop, conversation, T0 + timedelta(hours=1))
    ended = chat_events(store, shop.shop.id)[-1]
    assert ended["properties"]["first_response_seconds"] is None
    assert ended["properties"]["conversation_duration"] == 3600


def test_listing_is_newest_activity_first_and_scoped_to_the_shop(
    store: Store, shop: CreatedShop
) -> None:
    other = store.create_shop("Anderer Laden")
    chats = Chats(store)
    first = chats.start(shop.shop, "de", T0)
    second = chats.start(shop.shop, "de", T0 + timedelta(minutes=1))
    foreign = chats.start(other.shop, "de", T0 + timedelta(minutes=2))
    chats.post(shop.shop, first, "visitor", "noch da?", T0 + timedelta(minutes=5))
    assert [c.id for c in chats.listing(shop.shop.id)] == [first.id, second.id]
    assert chats.get(shop.shop.id, foreign.id) is None
    assert chats.messages(shop.shop.id, foreign.id) == []
    chats.resolve(shop.shop, first, T0 + timedelta(minutes=6))
    assert [c.id for c in chats.listing(shop.shop.id)] == [second.id]
    assert [c.id for c in chats.listing(shop.shop.id, "resolved")] == [first.id]


def test_resync_returns_messages_after_the_last_seen_id(store: Store, shop: CreatedShop) -> None:
    chats = Chats(store)
    conversation = chats.start(shop.shop, "de", T0)
    sent = [chats.post(shop.shop, conversation, "visitor", f"m{i}", T0) for i in range(4)]
    assert [m.body for m in chats.messages(shop.shop.id, conversation.id, sent[1].id)] == [
        "m2",
        "m3",
    ]


def test_away_answer_is_claimed_once_per_day(store: Store, shop: CreatedShop) -> None:
    chats = Chats(store)
    conversation = chats.start(shop.shop, "de", T0)
    assert chats.claim_away(shop.shop.id, conversation.id, "2026-11-23")
    assert not chats.claim_away(shop.shop.id, conversation.id, "2026-11-23")
    assert chats.claim_away(shop.shop.id, conversation.id, "2026-11-24")


def test_hours_are_saved_per_shop(store: Store, shop: CreatedShop) -> None:
    chats = Chats(store)
    assert chats.hours(shop.shop.id) == Hours()
    custom = Hours("Europe/Vienna", (Day("open"),) * 7, ask_email=False)
    chats.save_hours(shop.shop.id, custom)
    chats.save_hours(shop.shop.id, custom)
    assert chats.hours(shop.shop.id) == custom
    assert chats.hours(store.create_shop("Other").shop.id) == Hours()


def test_email_ties_the_chat_to_the_customer_and_erase_and_export_reach_it(
    store: Store, shop: CreatedShop
) -> None:
    ingest(
        store, shop.shop.id, placed(at=T0 - timedelta(days=3)), shipped(at=T0 - timedelta(days=2))
    )
    chats = Chats(store)
    conversation = chats.start(shop.shop, "de", T0)
    chats.post(shop.shop, conversation, "visitor", "Wo bleibt #1001?", T0)
    tied = chats.set_email(shop.shop.id, conversation.id, EMAIL)
    assert tied is not None and tied.user_id == "cust-1"
    chats.post(shop.shop, tied, "agent", "Es ist unterwegs.", T0 + timedelta(minutes=1))
    customer = chats.customer(shop.shop.id, tied)
    assert customer["order"].order_number == "#1001"
    assert [s.carrier for s in customer["order"].shipments] == ["DHL"]

    exported = store.export_customer(shop.shop.id, email=EMAIL)["tables"]
    assert [row["id"] for row in exported["chat_conversations"]] == [conversation.id]
    assert {row["body"] for row in exported["chat_messages"]} == {
        "Wo bleibt #1001?",
        "Es ist unterwegs.",
    }
    counts = store.erase_customer(shop.shop.id, email=EMAIL)
    assert counts["chat_conversations"] == 1 and counts["chat_messages"] == 2
    assert chats.get(shop.shop.id, conversation.id) is None
    assert chats.messages(shop.shop.id, conversation.id) == []
    assert not store.has_customer_data(shop.shop.id, "cust-1")


def test_erase_by_user_id_leaves_other_customers_chats(store: Store, shop: CreatedShop) -> None:
    ingest(store, shop.shop.id, placed(at=T0 - timedelta(days=3)))
    chats = Chats(store)
    mine = chats.start(shop.shop, "de", T0)
    chats.post(shop.shop, mine, "visitor", "hallo", T0)
    chats.set_email(shop.shop.id, mine.id, EMAIL)
    theirs = chats.start(shop.shop, "de", T0)
    chats.post(shop.shop, theirs, "visitor", "servus", T0)
    store.erase_customer(shop.shop.id, user_id="cust-1")
    assert chats.get(shop.shop.id, mine.id) is None
    assert [m.body for m in chats.messages(shop.shop.id, theirs.id)] == ["servus"]


def test_erase_by_email_reaches_a_guest_chat_that_matches_no_order(
    store: Store, shop: CreatedShop
) -> None:
    chats = Chats(store)
    guest = chats.start(shop.shop, "de", T0)
    chats.post(shop.shop, guest, "visitor", "Gibt es den Schuh in 44?", T0)
    tied = chats.set_email(shop.shop.id, guest.id, "gast@example.org")
    assert tied is not None and tied.user_id is None

    def guest_events() -> list[dict[str, object]]:
        return [
            event
            for _, event in store.iter_events(shop.shop.id)
            if event.get("anonymousId") == guest.anonymous_id
        ]

    assert guest_events()  # the chat is in the journey
    exported = store.export_customer(shop.shop.id, email="gast@example.org")["tables"]
    assert [row["id"] for row in exported["chat_conversations"]] == [guest.id]
    counts = store.erase_customer(shop.shop.id, email="gast@example.org")
    assert counts["chat_conversations"] == 1 and counts["chat_messages"] == 1
    assert chats.get(shop.shop.id, guest.id) is None
    assert guest_events() == []
