"""Shopify test fixtures: the collector configured with app credentials, an installed shop,
and a helper that delivers a signed webhook like Shopify does."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from starlette.testclient import TestClient

from cx_sdk.integrations.shopify import signature
from cx_sdk.server import CreatedShop, Settings, Store

API_KEY = "test-client-id"
API_SECRET = "test-client-secret"
PREVIOUS_SECRET = "rotated-out-secret"
DOMAIN = "cx-test.myshopify.com"
FIXTURES = Path(__file__).parents[2] / "fixtures" / "shopify"

Deliver = Callable[..., httpx.Response]


def fixture(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((FIXTURES / name).read_text())
    return data


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """The suite's settings plus the app's credentials."""
    return settings.model_copy(
        update={
            "shopify_api_key": API_KEY,
            "shopify_api_secret": API_SECRET,
            "shopify_api_secret_previous": PREVIOUS_SECRET,
        }
    )


@pytest.fixture
def shopify_shop(store: Store) -> CreatedShop:
    return store.create_shop(
        "Shopify Testladen", "shopify", domain=DOMAIN, secrets={"access_token": "shpat_x"}
    )


@pytest.fixture
def deliver(client: TestClient, shopify_shop: CreatedShop) -> Deliver:
    def send(
        topic: str,
        payload: Any,
        *,
        webhook_id: str | None = None,
        event_id: str | None = None,
        secret: str = API_SECRET,
        domain: str = DOMAIN,
        hmac_header: str | None = None,
    ) -> httpx.Response:
        body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
        headers = {
            "Content-Type": "application/json",
            "X-Shopify-Topic": topic,
            "X-Shopify-Shop-Domain": domain,
            "X-Shopify-Webhook-Id": webhook_id or str(uuid.uuid4()),
            "X-Shopify-API-Version": "2026-07",
            "X-Shopify-Hmac-Sha256": hmac_header
            if hmac_header is not None
            else signature.sign_webhook(body, secret),
        }
        if event_id:
            headers["X-Shopify-Event-Id"] = event_id
        return client.post("/integrations/shopify/webhooks", content=body, headers=headers)

    return send
