"""Chat fixtures: a signed-in console and helpers to open the two kinds of sockets."""

from __future__ import annotations

import re

import pytest
from starlette.testclient import TestClient

from cx_sdk.chat.conversations import Chats
from cx_sdk.chat.hours import Day, Hours
from cx_sdk.server import CreatedShop, Store
from cx_sdk.widgets.config import WidgetConfig
from cx_sdk.widgets.registry import settings_for

ORIGIN = {"origin": "http://testserver"}
ALWAYS_OPEN = Hours(days=(Day("open"),) * 7)
ALWAYS_CLOSED = Hours(days=(Day("closed"),) * 7)


def sign_in(client: TestClient, shop: CreatedShop) -> str:
    """Signs the client in to the console; returns the CSRF token of its forms."""
    response = client.post(
        "/console/login", data={"token": shop.admin_token}, headers=ORIGIN, follow_redirects=False
    )
    assert response.status_code == 303, response.text
    page = client.get("/console/chat")
    match = re.search(r'name="csrf" value="([0-9a-f]{64})"', page.text)
    assert match, page.text
    return match.group(1)


def settle(client: TestClient) -> None:
    """Waits for the chat writer: messages are out before their journey events are stored."""
    from cx_sdk.chat.writer import writer_of

    client.portal.call(writer_of(client.app.state).flush)  # type: ignore[union-attr]


def set_hours(store: Store, shop: CreatedShop, hours: Hours) -> None:
    Chats(store).save_hours(shop.shop.id, hours)


@pytest.fixture
def shop(shop: CreatedShop, store: Store) -> CreatedShop:
    """The suite's shop with its chat switched on (it starts off)."""
    settings_for(store).save(shop.shop.id, WidgetConfig("chat", enabled=True))
    return shop
