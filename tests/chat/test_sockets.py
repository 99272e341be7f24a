"""The chat over WebSockets (Starlette's TestClient): visitor ↔ agent, resync, out-of-office,
limits, origins, tokens and shop isolation."""

from __future__ import annotations

import gzip
from typing import Any

import pytest
from starlette.testclient import TestClient
from starlette.websockets import WebSocketDisconnect

from cx_sdk.chat.conversations import Chats
from cx_sdk.chat.http import asset
from cx_sdk.chat.limits import MAX_FRAME_BYTES
from cx_sdk.chat.visitor import conversation_token
from cx_sdk.server import CreatedShop, Store
from cx_sdk.widgets.config import SurveyConfig, WidgetConfig
from cx_sdk.widgets.registry import settings_for
from cx_sdk.widgets.tokens import shop_key

from .conftest import ALWAYS_CLOSED, ALWAYS_OPEN, ORIGIN, set_hours, settle, sign_in


def visitor(client: TestClient, shop: CreatedShop, query: str = "", **headers: str) -> Any:
    return client.websocket_connect(
        f"/chat/{shop.shop.id}/ws?locale=en{query}", headers={**ORIGIN, **headers}
    )


def agent(client: TestClient) -> Any:
    return client.websocket_connect("/console/chat/ws", headers=ORIGIN)


def start(ws: Any, body: str = "Hello") -> tuple[str, str, dict[str, Any]]:
    """Sends the first message; returns conversation id, token and the echoed message."""
    ws.send_json({"type": "msg", "body": body})
    token = ws.receive_json()
    assert token["type"] == "token"
    echo = ws.receive_json()
    assert echo["type"] == "msg" and echo["from"] == "visitor" and echo["body"] == body
    return token["c"], token["t"], echo


def events(store: Store, shop: CreatedShop, name: str) -> list[dict[str, Any]]:
    return [e for _, e in store.iter_events(shop.shop.id, event=name)]


def test_visitor_and_agent_talk_in_real_time(
    client: TestClient, store: Store, shop: CreatedShop
) -> None:
    set_hours(store, shop, ALWAYS_OPEN)
    sign_in(client, shop)
    with agent(client) as desk, visitor(client, shop) as chat:
        conversation, _, _ = start(chat, "Is the boot waterproof?")
        seen = desk.receive_json()
        assert seen["c"] == conversation and seen["body"] == "Is the boot waterproof?"
        chat.send_json({"type": "typing"})
        assert desk.receive_json() == {"type": "typing", "c": conversation, "from": "visitor"}
        desk.send_json({"type": "typing", "c": conversation})
        assert chat.receive_json() == {"type": "typing", "c": conversation, "from": "agent"}
        desk.send_json({"type": "msg", "c": conversation, "body": "Yes, fully."})
        answer = chat.receive_json()
        assert answer["from"] == "agent" and answer["body"] == "Yes, fully."
        assert desk.receive_json()["id"] == answer["id"]
    settle(client)
    assert len(events(store, shop, "Live Chat Message Received")) == 1
    assert len(events(store, shop, "Live Chat Conversation Started")) == 1
    stored = Chats(store).get(shop.shop.id, conversation)
    assert stored is not None and stored.first_response_at is not None


def test_reconnect_resyncs_everything_after_the_last_seen_id(
    client: TestClient, store: Store, shop: CreatedShop
) -> None:
    set_hours(store, shop, ALWAYS_OPEN)
    csrf = sign_in(client, shop)
    with visitor(client, shop) as chat:
        conversation, token, first = start(chat, "one")
    # While the visitor is away, the agent answers through the plain console form.
    reply = client.post(
        f"/console/chat/{conversation}/reply",
        data={"csrf": csrf, "body": "answer while you were away"},
        headers=ORIGIN,
        follow_redirects=False,
    )
    assert reply.status_code == 303
    with visitor(client, shop, f"&t={token}&after={first['id']}") as chat:
        missed = chat.receive_json()
        assert missed["body"] == "answer while you were away" and missed["from"] == "agent"
        chat.send_json({"type": "msg", "body": "two"})
        again = chat.receive_json()
        assert again["body"] == "two" and again["id"] > missed["id"]
    assert [c.id for c in Chats(store).listing(shop.shop.id)] == [conversation]


def test_out_of_office_answer_comes_once_and_says_when_the_shop_is_back(
    client: TestClient, store: Store, shop: CreatedShop
) -> None:
    set_hours(store, shop, ALWAYS_CLOSED)
    with visitor(client, shop) as chat:
        start(chat, "Anyone there?")
        away = chat.receive_json()
        assert away["from"] == "auto"
        assert "Nobody is online right now" in away["body"] and "email address" in away["body"]
        chat.send_json({"type": "msg", "body": "Hello?"})
        assert chat.receive_json()["body"] == "Hello?"
        chat.send_json({"type": "bogus"})
        # The next frame is the error, not a second automatic answer.
        assert chat.receive_json()["type"] == "error"
    settle(client)
    assert len(events(store, shop, "Live Chat Message Received")) == 1


def test_out_of_office_in_german(client: TestClient, store: Store, shop: CreatedShop) -> None:
    set_hours(store, shop, ALWAYS_CLOSED)
    with client.websocket_connect(f"/chat/{shop.shop.id}/ws?locale=de", headers=ORIGIN) as chat:
        start(chat, "Hallo")
        assert "Gerade ist niemand online" in chat.receive_json()["body"]


def test_email_is_kept_and_the_agent_is_told(
    client: TestClient, store: Store, shop: CreatedShop
) -> None:
    set_hours(store, shop, ALWAYS_OPEN)
    sign_in(client, shop)
    with agent(client) as desk, visitor(client, shop) as chat:
        conversation, _, _ = start(chat)
        desk.receive_json()
        chat.send_json({"type": "email", "email": "not-an-address"})
        assert chat.receive_json() == {
            "type": "error",
            "error": "email does not look like an address",
        }
        chat.send_json({"type": "email", "email": "anna@example.de"})
        assert chat.receive_json() == {"type": "email_saved"}
        assert desk.receive_json() == {"type": "update", "c": conversation}
    stored = Chats(store).get(shop.shop.id, conversation)
    assert stored is not None and stored.email == "anna@example.de"


def test_socket_from_a_foreign_origin_is_refused(client: TestClient, shop: CreatedShop) -> None:
    for origin in ("https://evil.example", ""):
        with pytest.raises(WebSocketDisconnect) as refused:
            with visitor(client, shop, origin=origin) as chat:
                chat.receive_json()
        assert refused.value.code == 4403
    # The shop's own domain is allowed (the widget may be embedded without the iframe).
    with visitor(client, shop, origin="https://testladen.example") as chat:
        start(chat)


def test_token_of_another_shop_or_forged_is_refused(
    client: TestClient, store: Store, shop: CreatedShop, settings: Any
) -> None:
    other = store.create_shop("Fremd")
    settings_for(store).save(other.shop.id, WidgetConfig("chat", enabled=True))
    with visitor(client, shop) as chat:
        conversation, token, _ = start(chat)
    forged_for_other = conversation_token(
        shop_key(store, settings, other.shop), other.shop.id, conversation
    )
    for bad in (forged_for_other, token[:-2] + "xx"):
        with pytest.raises(WebSocketDisconnect) as refused:
            with visitor(client, shop, f"&t={bad}") as chat:
                chat.receive_json()
        assert refused.value.code == 4401
    # The genuine token on the other shop's socket does not open this conversation either.
    with pytest.raises(WebSocketDisconnect) as refused:
        with client.websocket_connect(
            f"/chat/{other.shop.id}/ws?t={token}", headers=ORIGIN
        ) as chat:
            chat.receive_json()
    assert refused.value.code in (4401, 4403)


def test_oversized_frames_and_floods_are_refused(
    client: TestClient, store: Store, shop: CreatedShop
) -> None:
    set_hours(store, shop, ALWAYS_OPEN)
    with visitor(client, shop) as chat:
        chat.send_json({"type": "msg", "body": "x" * 2001})
        assert "longer than 2000" in chat.receive_json()["error"]
        chat.send_text("not json")
        assert "JSON" in chat.receive_json()["error"]
        for _ in range(12):
            chat.send_json({"type": "typing"})
        # Burst of 10 frames per socket: the next are refused until tokens refill.
        chat.send_json({"type": "typing"})
        assert chat.receive_json()["error"].startswith("too many messages")
    with visitor(client, shop) as chat:
        chat.send_text("x" * (MAX_FRAME_BYTES + 1))
        assert "over the limit" in chat.receive_json()["error"]
        with pytest.raises(WebSocketDisconnect) as closed:
            chat.receive_json()
        assert closed.value.code == 1009
    assert Chats(store).listing(shop.shop.id) == []


def test_one_address_holds_a_limited_number_of_visitor_sockets(
    client: TestClient, store: Store, shop: CreatedShop
) -> None:
    client.app.state.settings.chat_sockets_per_ip = 2  # type: ignore[attr-defined]
    set_hours(store, shop, ALWAYS_OPEN)
    with visitor(client, shop) as first, visitor(client, shop):
        with visitor(client, shop) as third, pytest.raises(WebSocketDisconnect) as refused:
            third.receive_json()
        assert refused.value.code == 4429
        assert "too many chat connections" in refused.value.reason
        # The sockets within the limit work as before.
        start(first, "still here")
    # Closed sockets give their place back.
    with visitor(client, shop) as again, visitor(client, shop) as other:
        start(again, "back")
        start(other, "me too")


def test_switched_off_chat_has_no_socket_panel_or_launcher(
    client: TestClient, store: Store, shop: CreatedShop
) -> None:
    settings_for(store).set_enabled(shop.shop.id, "chat", False)
    with pytest.raises(WebSocketDisconnect) as refused:
        with visitor(client, shop) as chat:
            chat.receive_json()
    assert refused.value.code == 4404
    assert client.get(f"/chat/{shop.shop.id}/panel").status_code == 404
    assert client.get(f"/widgets/{shop.shop.id}/chat").status_code == 204


def test_agent_socket_needs_a_console_session_and_stays_in_its_shop(
    client: TestClient, store: Store, shop: CreatedShop
) -> None:
    with pytest.raises(WebSocketDisconnect) as refused:
        with agent(client) as desk:
            desk.receive_json()
    assert refused.value.code == 4403
    other = store.create_shop("Fremd")
    foreign = Chats(store).start(other.shop, "de", _now())
    csrf = sign_in(client, shop)
    with pytest.raises(WebSocketDisconnect):
        with client.websocket_connect(
            "/console/chat/ws", headers={"origin": "https://evil.example"}
        ) as desk:
            desk.receive_json()
    with agent(client) as desk:
        desk.send_json({"type": "msg", "c": foreign.id, "body": "psst"})
        assert desk.receive_json() == {"type": "error", "error": "no such conversation"}
    for action in ("reply", "resolve", "reopen"):
        response = client.post(
            f"/console/chat/{foreign.id}/{action}",
            data={"csrf": csrf, "body": "psst"},
            headers=ORIGIN,
        )
        assert response.status_code == 404
    assert Chats(store).messages(other.shop.id, foreign.id) == []
    assert foreign.id not in client.get("/console/chat").text


def _now() -> Any:
    from datetime import UTC, datetime

    return datetime.now(UTC)


def test_visitor_writing_after_the_agent_resolved_reopens_the_conversation(
    client: TestClient, store: Store, shop: CreatedShop
) -> None:
    set_hours(store, shop, ALWAYS_OPEN)
    csrf = sign_in(client, shop)
    with visitor(client, shop) as chat:
        conversation, _, _ = start(chat)
        client.post(f"/console/chat/{conversation}/resolve", data={"csrf": csrf}, headers=ORIGIN)
        assert chat.receive_json()["type"] == "ended"
        assert Chats(store).listing(shop.shop.id) == []
        # Same socket, whose conversation was open when it last wrote.
        chat.send_json({"type": "msg", "body": "One more question"})
        assert chat.receive_json()["body"] == "One more question"
    [reopened] = Chats(store).listing(shop.shop.id)
    assert reopened.id == conversation and reopened.resolved_at is None


def test_resolve_ends_the_chat_and_offers_the_csat_survey(
    client: TestClient, store: Store, shop: CreatedShop
) -> None:
    set_hours(store, shop, ALWAYS_OPEN)
    settings_for(store).save_survey(
        shop.shop.id, SurveyConfig("chat-csat", survey_type="csat", trigger="chat", delay_days=0)
    )
    csrf = sign_in(client, shop)
    with visitor(client, shop) as chat:
        conversation, _, _ = start(chat)
        done = client.post(
            f"/console/chat/{conversation}/resolve", data={"csrf": csrf}, headers=ORIGIN
        )
        assert done.status_code == 200
        ended = chat.receive_json()
        assert ended["type"] == "ended"
    survey = client.get(ended["survey"].replace("http://testserver", ""))
    assert survey.status_code == 200 and 'name="score"' in survey.text
    [ended_event] = events(store, shop, "Live Chat Conversation Ended")
    assert ended_event["properties"]["first_response_seconds"] is None
    [shown] = events(store, shop, "Survey Shown")
    assert shown["properties"]["conversation_id"] == conversation
    assert Chats(store).listing(shop.shop.id) == []
    reopened = client.post(
        f"/console/chat/{conversation}/reopen", data={"csrf": csrf}, headers=ORIGIN
    )
    assert reopened.status_code == 200
    assert [c.id for c in Chats(store).listing(shop.shop.id)] == [conversation]


def test_console_page_escapes_messages_and_sends_its_own_csp(
    client: TestClient, store: Store, shop: CreatedShop
) -> None:
    set_hours(store, shop, ALWAYS_OPEN)
    with visitor(client, shop) as chat:
        conversation, _, _ = start(chat, '<script>alert("x")</script>')
    sign_in(client, shop)
    page = client.get(f"/console/chat?c={conversation}")
    assert page.status_code == 200
    assert '<script>alert("x")</script>' not in page.text
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;" in page.text
    csp = page.headers["content-security-policy"]
    assert "script-src 'self'" in csp and "connect-src 'self'" in csp
    assert "frame-ancestors 'none'" in csp
    assert client.get("/console/chat/static/agent.js").status_code == 200
    assert client.get("/console/chat/static/../http.py").status_code == 404


def test_console_saves_business_hours_and_explains_bad_input(
    client: TestClient, store: Store, shop: CreatedShop
) -> None:
    csrf = sign_in(client, shop)
    form = {"csrf": csrf, "timezone": "Europe/Vienna", "ask_email": "on"}
    for day in range(7):
        form |= {f"mode_{day}": "hours", f"from_{day}": "08:00", f"to_{day}": "20:00"}
    form["mode_6"] = "closed"
    saved = client.post("/console/chat/hours", data=form, headers=ORIGIN, follow_redirects=False)
    assert saved.status_code == 303
    hours = Chats(store).hours(shop.shop.id)
    assert hours.timezone == "Europe/Vienna" and hours.days[6].mode == "closed"
    bad = client.post(
        "/console/chat/hours?locale=en", data={**form, "to_0": "07:00"}, headers=ORIGIN
    )
    assert bad.status_code == 400
    assert "closing time 07:00 must be after opening time 08:00" in bad.text


def test_nothing_is_stored_before_the_visitor_writes(
    client: TestClient, store: Store, shop: CreatedShop
) -> None:
    launcher = client.get(f"/widgets/{shop.shop.id}/chat?locale=en")
    opened = client.get(f"/widgets/{shop.shop.id}/chat?locale=en&open=1")
    panel = client.get(f"/chat/{shop.shop.id}/panel?locale=en")
    assert "Questions? Chat with us" in launcher.text and "<iframe" in opened.text
    assert "set-cookie" not in launcher.headers and "set-cookie" not in panel.headers
    assert 'role="log"' in panel.text and 'aria-live="polite"' in panel.text
    assert "script-src 'self'" in panel.headers["content-security-policy"]
    with visitor(client, shop):
        pass
    assert Chats(store).listing(shop.shop.id) == []
    assert events(store, shop, "Live Chat Conversation Started") == []


def test_launcher_and_chat_script_stay_within_their_budgets(
    client: TestClient, shop: CreatedShop
) -> None:
    launcher = client.get(f"/widgets/{shop.shop.id}/chat").content
    assert len(gzip.compress(launcher)) < 3 * 1024
    script = asset("chat.js") + asset("chat.css")
    assert len(gzip.compress(script, compresslevel=9)) < 10 * 1024


def test_pre_chat_email_rides_with_the_first_message(
    client: TestClient, store: Store, shop: CreatedShop
) -> None:
    set_hours(store, shop, ALWAYS_CLOSED)
    with visitor(client, shop) as chat:
        chat.send_json({"type": "msg", "body": "Hallo", "email": "bad"})
        assert chat.receive_json()["error"] == "email does not look like an address"
        chat.send_json({"type": "msg", "body": "Hallo", "email": "anna@example.de"})
        token = chat.receive_json()
        assert chat.receive_json() == {"type": "email_saved"}
        assert chat.receive_json()["from"] == "visitor"
        away = chat.receive_json()
        # The address is known, so the automatic answer does not ask for it.
        assert away["from"] == "auto" and "email" not in away["body"]
    stored = Chats(store).get(shop.shop.id, token["c"])
    assert stored is not None and stored.email == "anna@example.de"
    assert len(Chats(store).listing(shop.shop.id)) == 1


def test_chat_stays_off_until_the_merchant_switches_it_on(client: TestClient, store: Store) -> None:
    fresh = store.create_shop("Neu")
    assert client.get(f"/widgets/{fresh.shop.id}/chat").status_code == 204
    settings_for(store).save(fresh.shop.id, WidgetConfig("chat", enabled=True))
    assert client.get(f"/widgets/{fresh.shop.id}/chat").status_code == 200
    assert settings_for(store).get(fresh.shop.id, "tracking").enabled  # the others start on
