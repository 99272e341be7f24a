"""The chat writer: concurrent messages share a transaction, a bad one costs only itself,
events follow the fan-out, and the catch-up re-sends what a dead worker never ingested."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy.engine import Connection

from cx_sdk.chat.conversations import Chats, Event, Message
from cx_sdk.chat.writer import Writer
from cx_sdk.server import CreatedShop, Settings, Store


def chat_events(store: Store, shop_id: str, name: str) -> list[dict[str, Any]]:
    return [event for _, event in store.iter_events(shop_id, event=name)]


def reply(chats: Chats, created: CreatedShop, conversation_id: str, body: str) -> Any:
    def job(conn: Connection) -> tuple[Message, list[Event]]:
        conversation = chats.get_in(conn, created.shop.id, conversation_id)
        assert conversation is not None
        message, event = chats.post_in(
            conn, created.shop, conversation, "agent", body, datetime.now(UTC), agent_id="a1"
        )
        return message, [event]

    return job


def test_concurrent_messages_are_stored_together_and_their_events_follow(
    store: Store, shop: CreatedShop
) -> None:
    chats = Chats(store)
    conversations = [chats.start(shop.shop, "de", datetime.now(UTC)) for _ in range(20)]

    async def main() -> list[Message]:
        writer = Writer(store)
        try:
            sent = await asyncio.gather(
                *(
                    writer.run(reply(chats, shop, c.id, f"Antwort {i}"))
                    for i, c in enumerate(conversations)
                )
            )
            # Everything a socket could have shown is in the database already.
            for message in sent:
                [stored] = chats.messages(shop.shop.id, message.conversation_id)
                assert stored.id == message.id and stored.body == message.body
            assert writer.batches < len(conversations)  # group commit, not one per message
            await writer.flush()
            return sent
        finally:
            await writer.close()

    sent = asyncio.run(main())
    received = chat_events(store, shop.shop.id, "Live Chat Message Received")
    assert sorted(e["properties"]["message_id"] for e in received) == sorted(
        str(m.id) for m in sent
    )
    for conversation in conversations:
        stored = chats.get(shop.shop.id, conversation.id)
        assert stored is not None and stored.first_response_at is not None


def test_a_failing_message_costs_only_itself(store: Store, shop: CreatedShop) -> None:
    chats = Chats(store)
    good = chats.start(shop.shop, "de", datetime.now(UTC))

    def broken(conn: Connection) -> tuple[None, list[Event]]:
        chats.post_in(conn, shop.shop, good, "robot", "nope", datetime.now(UTC))
        return None, []

    async def main() -> list[Any]:
        writer = Writer(store)
        try:
            return await asyncio.gather(
                writer.run(reply(chats, shop, good.id, "eins")),
                writer.run(broken),
                writer.run(reply(chats, shop, good.id, "zwei")),
                return_exceptions=True,
            )
        finally:
            await writer.close()

    async def alone() -> Any:
        writer = Writer(store)
        try:
            return await asyncio.wait_for(writer.run(broken), 10)
        finally:
            await writer.close()

    first, failed, second = asyncio.run(main())
    assert isinstance(failed, ValueError) and "sender must be one of" in str(failed)
    # Alone in its batch, its caller hears of it too (and does not wait forever).
    with pytest.raises(ValueError, match="sender must be one of"):
        asyncio.run(alone())
    assert [m.body for m in chats.messages(shop.shop.id, good.id)] == ["eins", "zwei"]
    assert {first.id, second.id} == {m.id for m in chats.messages(shop.shop.id, good.id)}


def test_catch_up_resends_the_events_a_dead_worker_left_behind(
    store: Store, shop: CreatedShop
) -> None:
    chats = Chats(store)
    now = datetime.now(UTC)
    chats.catch_up(now)  # the first pass sets the shop's mark
    # A worker stores a conversation and two messages, then dies before their events.
    earlier = now - timedelta(minutes=5)
    with store.begin() as conn:
        conversation, _ = chats.start_in(conn, shop.shop, "de", earlier)
        asked, _ = chats.post_in(conn, shop.shop, conversation, "visitor", "Hallo?", earlier)
        answered, _ = chats.post_in(conn, shop.shop, conversation, "agent", "Ja!", earlier, "a1")
    # One of them did get its event in.
    chats.ingest([chats._message_event(shop.shop, conversation, asked)])
    # Too fresh for the catch-up: a message stored a moment ago is its writer's to finish.
    with store.begin() as conn:
        fresh, _ = chats.post_in(conn, shop.shop, conversation, "visitor", "Noch da?", now)

    assert chats.catch_up(now) == 3  # Started, Sent and Received (Sent is dropped as a duplicate)
    assert [
        e["properties"]["message_id"]
        for e in chat_events(store, shop.shop.id, "Live Chat Message Received")
    ] == [str(answered.id)]
    assert len(chat_events(store, shop.shop.id, "Live Chat Message Sent")) == 1
    assert len(chat_events(store, shop.shop.id, "Live Chat Conversation Started")) == 1
    assert chats.catch_up(now) == 0  # the mark moved on
    # A minute later the fresh one is due.
    assert chats.catch_up(now + timedelta(minutes=2)) == 2
    sent = chat_events(store, shop.shop.id, "Live Chat Message Sent")
    assert sorted(e["properties"]["message_id"] for e in sent) == sorted(
        [str(asked.id), str(fresh.id)]
    )


@pytest.mark.parametrize("store_pii", [False, True])
def test_catch_up_keeps_bodies_out_unless_the_shop_stores_pii(
    store: Store, shop: CreatedShop, store_pii: bool
) -> None:
    store.update_shop(shop.shop.id, store_pii=store_pii)
    created = store.get_shop(shop.shop.id)
    assert created is not None
    chats = Chats(store)
    now = datetime.now(UTC)
    chats.catch_up(now)
    with store.begin() as conn:
        conversation, _ = chats.start_in(conn, created, "de", now - timedelta(minutes=5))
        chats.post_in(conn, created, conversation, "visitor", "geheim", now - timedelta(minutes=5))
    chats.catch_up(now)
    [sent] = chat_events(store, shop.shop.id, "Live Chat Message Sent")
    assert ("message_body" in sent["properties"]) is store_pii


def test_events_still_queued_are_stored_when_the_app_stops(
    store: Store, shop: CreatedShop, settings: Settings
) -> None:
    from starlette.testclient import TestClient

    from cx_sdk.server import create_app

    with TestClient(create_app(settings, store)) as client:
        with client.websocket_connect(
            f"/chat/{shop.shop.id}/ws", headers={"origin": "http://testserver"}
        ) as chat:
            chat.send_json({"type": "msg", "body": "Hallo"})
            assert chat.receive_json()["type"] == "token"
            assert chat.receive_json()["body"] == "Hallo"
    # No flush: stopping the application drains the writer (its shutdown hook).
    assert len(chat_events(store, shop.shop.id, "Live Chat Message Sent")) == 1
    assert len(chat_events(store, shop.shop.id, "Live Chat Conversation Started")) == 1
