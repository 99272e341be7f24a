"""App proxy: signed storefront requests get widget fragments; ownership is enforced."""

from __future__ import annotations

import time
from urllib.parse import urlencode

import pytest
from starlette.testclient import TestClient

from cx_sdk.integrations.shopify import signature
from cx_sdk.server import CreatedShop, Store, follower
from cx_sdk.widgets.config import WidgetConfig
from cx_sdk.widgets.registry import settings_for

from .conftest import API_SECRET, DOMAIN, PREVIOUS_SECRET, Deliver, fixture

ORDER = "820982911946154508"
CUSTOMER = "115310627314723954"


def proxied(
    widget: str,
    *,
    customer: str = "",
    extra: dict[str, str] | None = None,
    secret: str = API_SECRET,
    at: float | None = None,
    shop: str = DOMAIN,
) -> str:
    params = [
        *(extra or {}).items(),
        ("shop", shop),
        ("logged_in_customer_id", customer),
        ("path_prefix", "/apps/cx"),
        ("timestamp", str(int(at if at is not None else time.time()))),
    ]
    query = urlencode([*params, ("signature", signature.sign_proxy(params, secret))])
    return f"/integrations/shopify/proxy/{widget}?{query}"


@pytest.fixture
def placed(deliver: Deliver) -> None:
    order = fixture("orders_create.json")
    order.update(cancelled_at=None, cancel_reason=None, financial_status="paid")
    assert deliver("orders/create", order).status_code == 200
    assert deliver("fulfillments/create", fixture("fulfillments_create.json")).status_code == 200


def test_logged_in_owner_sees_the_tracking_of_their_order(
    client: TestClient, placed: None, shopify_shop: CreatedShop
) -> None:
    response = client.get(
        proxied("tracking", customer=CUSTOMER, extra={"order": "1234", "locale": "en"})
    )
    assert response.status_code == 200, response.text
    assert "Tracking number: 1z827wk74630" in response.text
    assert response.headers["cache-control"] == "private, no-store"
    german = client.get(
        proxied("tracking", customer=CUSTOMER, extra={"order": "1234", "locale": "de"})
    )
    assert "Sendungsnummer: 1z827wk74630" in german.text
    assert german.headers["content-language"] == "de"


def test_logged_in_customer_who_does_not_own_the_order_sees_nothing_of_it(
    client: TestClient, placed: None
) -> None:
    response = client.get(proxied("tracking", customer="42", extra={"order": "1234"}))
    assert response.status_code == 200
    assert "1z827wk74630" not in response.text
    assert 'role="alert"' in response.text


def test_shopper_cannot_smuggle_a_customer_token(client: TestClient, placed: None) -> None:
    response = client.get(proxied("tracking", extra={"order": "1234", "customer": "forged-token"}))
    assert response.status_code == 200
    assert "1z827wk74630" not in response.text


def test_anonymous_shopper_still_proves_the_order_with_its_email(
    client: TestClient, placed: None
) -> None:
    response = client.get(proxied("tracking", extra={"order": "1234", "email": "jon@example.com"}))
    assert "1z827wk74630" in response.text


def test_unsigned_or_forged_proxy_request_is_refused(client: TestClient, placed: None) -> None:
    forged = client.get(proxied("tracking", customer=CUSTOMER, secret="not-the-secret"))
    assert forged.status_code == 401
    tampered = proxied("tracking", customer="42").replace(
        "customer_id=42", f"customer_id={CUSTOMER}"
    )
    assert client.get(tampered).status_code == 401
    assert client.get("/integrations/shopify/proxy/tracking?shop=" + DOMAIN).status_code == 401


def test_proxy_request_older_than_90_seconds_is_refused(client: TestClient, placed: None) -> None:
    stale = client.get(proxied("tracking", customer=CUSTOMER, at=time.time() - 120))
    assert stale.status_code == 401
    assert "90 s" in stale.json()["error"]


def test_proxy_request_signed_with_previous_secret_is_accepted(
    client: TestClient, placed: None
) -> None:
    response = client.get(proxied("tracking", secret=PREVIOUS_SECRET))
    assert response.status_code == 200


def test_proxy_for_unknown_shop_or_widget_is_a_clear_4xx(client: TestClient, placed: None) -> None:
    assert client.get(proxied("tracking", shop="other.myshopify.com")).status_code == 401
    missing = client.get(proxied("nonexistent"))
    assert missing.status_code == 404
    assert "tracking" in missing.json()["error"]
    bad_customer = client.get(proxied("tracking", customer="1 OR 1=1"))
    assert bad_customer.status_code == 400


def test_survey_is_offered_to_the_logged_in_owner_of_a_delivered_order_only(
    client: TestClient, placed: None, deliver: Deliver
) -> None:
    delivered = fixture("fulfillment_events_create.json")
    delivered["status"] = "delivered"
    assert deliver("fulfillment_events/create", delivered).status_code == 200
    owner = client.get(
        proxied("survey", customer=CUSTOMER, extra={"order": "1234", "locale": "en"})
    )
    assert owner.status_code == 200, owner.text
    assert "<form" in owner.text
    stranger = client.get(proxied("survey", customer="42", extra={"order": "1234"}))
    assert stranger.status_code == 204


def test_theme_blocks_for_recommendations_and_chat_get_their_fragments(
    client: TestClient, placed: None, shopify_shop: CreatedShop, store: Store
) -> None:
    follower.settle(store, shopify_shop.shop.id)  # the order's counts, without waiting
    recs = client.get(proxied("recommendations", extra={"strategy": "bestsellers", "locale": "en"}))
    assert recs.status_code == 200, recs.text
    assert 'data-cx-widget="recommendations"' in recs.text
    assert 'class="cx-rec"' in recs.text
    # The chat launcher appears once the merchant switches the chat on.
    assert client.get(proxied("chat", extra={"locale": "de"})).status_code == 204
    settings_for(store).save(shopify_shop.shop.id, WidgetConfig("chat", enabled=True))
    chat = client.get(proxied("chat", extra={"locale": "de"}))
    assert chat.status_code == 200 and 'data-cx-widget="chat"' in chat.text
