"""Odd payloads on every mapped topic are answered 2xx or a clear 4xx, never a server error."""

from __future__ import annotations

from typing import Any

import pytest
from starlette.testclient import TestClient

from cx_sdk.integrations.shopify import oauth, signature
from cx_sdk.server import CreatedShop, Store

from .conftest import API_SECRET, DOMAIN, Deliver, fixture

ODD_VALUES: list[Any] = [None, "x", -1, 1.5, True, [], {"a": 1}, "\x00", "9" * 200]
SAMPLES = {
    "orders/create": "orders_create.json",
    "refunds/create": "refunds_create.json",
    "checkouts/create": "checkouts_create.json",
    "fulfillments/create": "fulfillments_create.json",
    "fulfillment_events/create": "fulfillment_events_create.json",
    "returns/decline": "returns_decline.json",
    "reverse_deliveries/attach_deliverable": "reverse_deliveries_attach_deliverable.json",
    "customers/redact": "customers_redact.json",
    "customers/data_request": "customers_data_request.json",
}


# shop/redact is left out: erasing the shop, whatever the body, is its point.
@pytest.mark.parametrize("topic", [*oauth.TOPICS, "customers/data_request", "customers/redact"])
@pytest.mark.parametrize("body", [{}, [], "text", None])
def test_empty_or_non_object_bodies_never_cause_a_server_error(
    deliver: Deliver, topic: str, body: Any
) -> None:
    response = deliver(topic, body)
    assert response.status_code < 500, (topic, body, response.text)
    if response.status_code >= 400:
        assert response.json()["error"]


@pytest.mark.parametrize("topic", sorted(SAMPLES))
def test_odd_values_in_every_field_never_cause_a_server_error(deliver: Deliver, topic: str) -> None:
    sample = fixture(SAMPLES[topic])
    for key in sample:
        for value in ODD_VALUES:
            payload = {**sample, key: value}
            response = deliver(topic, payload)
            assert response.status_code < 500, (topic, key, value, response.text)


def test_overlong_tracking_fields_are_bounded_for_later_events_too(
    deliver: Deliver, store: Store, shopify_shop: CreatedShop
) -> None:
    fulfillment = fixture("fulfillments_create.json")
    fulfillment["tracking_company"] = "C" * 300
    assert deliver("fulfillments/create", fulfillment).status_code == 200
    assert (
        deliver("fulfillment_events/create", fixture("fulfillment_events_create.json")).status_code
        == 200
    )
    order = store.get_order(shopify_shop.shop.id, "820982911946154508")
    assert order is not None
    assert order.shipments[0].carrier == "C" * 200


@pytest.mark.parametrize(
    ("header", "value"),
    [("X-Shopify-Topic", "orders/" + "x" * 200), ("X-Shopify-Webhook-Id", "w" * 300)],
)
def test_overlong_headers_are_a_clear_400(
    client: TestClient, shopify_shop: CreatedShop, header: str, value: str
) -> None:
    body = b"{}"
    headers = {
        "X-Shopify-Topic": "orders/create",
        "X-Shopify-Shop-Domain": DOMAIN,
        "X-Shopify-Webhook-Id": "w1",
        "X-Shopify-Hmac-Sha256": signature.sign_webhook(body, API_SECRET),
        header: value,
    }
    response = client.post("/integrations/shopify/webhooks", content=body, headers=headers)
    assert response.status_code == 400
    assert "too long" in response.json()["error"]
