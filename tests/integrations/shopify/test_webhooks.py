"""POST /integrations/shopify/webhooks against the real collector (SQLite and PostgreSQL)."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from starlette.testclient import TestClient

from cx_sdk.integrations.shopify import signature
from cx_sdk.server import CreatedShop, Store

from ...server.helpers import bearer
from .conftest import DOMAIN, PREVIOUS_SECRET, Deliver, fixture

ORDER = "820982911946154508"
CUSTOMER = "115310627314723954"


def open_order(**changes: Any) -> dict[str, Any]:
    order = fixture("orders_create.json")
    order.update(cancelled_at=None, cancel_reason=None, financial_status="pending")
    order.update(changes)
    return order


def events(store: Store, shop_id: str) -> list[dict[str, Any]]:
    return [event for _, event in store.iter_events(shop_id)]


@pytest.mark.parametrize(
    "topic",
    ["orders/create", "customers/data_request", "customers/redact", "shop/redact"],
)
def test_forged_shopify_webhook_is_refused(
    deliver: Deliver, store: Store, shopify_shop: CreatedShop, topic: str
) -> None:
    payload = fixture("shop_redact.json") if "redact" in topic else open_order()
    forged = deliver(topic, payload, secret="not-the-app-secret")
    assert forged.status_code == 401
    assert "X-Shopify-Hmac-Sha256" in forged.json()["error"]
    unsigned = deliver(topic, payload, hmac_header="")
    assert unsigned.status_code == 401
    assert "missing" in unsigned.json()["error"]
    assert store.get_shop(shopify_shop.shop.id) is not None
    assert store.count_events(shopify_shop.shop.id) == 0


def test_webhook_for_unknown_shop_domain_is_refused(deliver: Deliver) -> None:
    response = deliver("orders/create", open_order(), domain="someone-else.myshopify.com")
    assert response.status_code == 401
    assert "Shop-Domain" in response.json()["error"]


def test_body_changed_after_signing_is_refused(client: TestClient, shopify_shop: Any) -> None:
    body = b'{"id": 1}'
    response = client.post(
        "/integrations/shopify/webhooks",
        content=b'{"id": 2}',
        headers={
            "X-Shopify-Topic": "orders/create",
            "X-Shopify-Shop-Domain": DOMAIN,
            "X-Shopify-Webhook-Id": "w1",
            "X-Shopify-Hmac-Sha256": signature.sign_webhook(body, "test-client-secret"),
        },
    )
    assert response.status_code == 401


def test_delivery_signed_with_the_previous_secret_is_accepted(
    deliver: Deliver, store: Store, shopify_shop: CreatedShop
) -> None:
    response = deliver("orders/create", open_order(), secret=PREVIOUS_SECRET)
    assert response.status_code == 200, response.text
    assert response.json()["events"] == 1
    order = store.get_order(shopify_shop.shop.id, ORDER)
    assert order is not None and order.status == "placed"


def test_redelivered_webhook_id_is_a_duplicate(
    deliver: Deliver, store: Store, shopify_shop: CreatedShop
) -> None:
    first = deliver("orders/create", open_order(), webhook_id="wh-1")
    again = deliver("orders/create", open_order(), webhook_id="wh-1")
    assert first.json()["status"] == "processed"
    assert again.json() == {"status": "duplicate", "delivery": "wh-1"}
    assert store.count_events(shopify_shop.shop.id) == 1


def test_same_event_id_from_two_subscriptions_is_processed_once(
    deliver: Deliver, store: Store, shopify_shop: CreatedShop
) -> None:
    one = deliver("orders/create", open_order(), webhook_id="a", event_id="evt-9")
    two = deliver("orders/create", open_order(), webhook_id="b", event_id="evt-9")
    assert one.json()["status"] == "processed"
    assert two.json()["status"] == "duplicate"
    assert store.count_events(shopify_shop.shop.id) == 1


def test_failed_delivery_is_processed_again_when_shopify_retries(
    deliver: Deliver, store: Store, shopify_shop: CreatedShop
) -> None:
    bad = deliver("orders/create", open_order(currency=None), webhook_id="retry-me")
    assert bad.status_code == 422
    assert "no currency" in bad.json()["error"]
    # Shopify retries the same webhook id; this time the payload is whole (a fixed app).
    good = deliver("orders/create", open_order(), webhook_id="retry-me")
    assert good.status_code == 200
    assert good.json()["status"] == "processed"
    assert store.count_events(shopify_shop.shop.id) == 1


@pytest.mark.parametrize(
    ("body", "status"),
    [(b"not json", 400), (b"[1, 2]", 422), (b'{"id": true, "currency": "USD"}', 422)],
)
def test_bad_bodies_are_clear_4xx(deliver: Deliver, body: bytes, status: int) -> None:
    response = deliver("orders/create", body)
    assert response.status_code == status
    assert response.json()["error"]


def test_topic_without_mapping_is_acknowledged(deliver: Deliver) -> None:
    response = deliver("products/update", {"id": 1})
    assert response.status_code == 200
    assert response.json() == {"status": "ignored", "topic": "products/update"}


def test_order_story_with_duplicates_and_reordering_ends_in_the_right_state(
    deliver: Deliver, store: Store, shopify_shop: CreatedShop
) -> None:
    shop_id = shopify_shop.shop.id
    placed = open_order()
    paid = open_order(financial_status="paid", updated_at="2022-01-01T00:05:00-05:00")
    fulfillment = fixture("fulfillments_create.json")
    step = fixture("fulfillment_events_create.json")

    def status_event(raw: str, at: str, event_id: int) -> dict[str, Any]:
        return {**copy.deepcopy(step), "id": event_id, "status": raw, "happened_at": at}

    in_transit = status_event("in_transit", "2022-01-02T08:00:00-05:00", 1)
    out_for_delivery = status_event("out_for_delivery", "2022-01-03T07:00:00-05:00", 2)
    delivered = status_event("delivered", "2022-01-03T12:00:00-05:00", 3)
    delivered["estimated_delivery_at"] = "2022-01-03T18:00:00-05:00"
    refund = fixture("refunds_create.json")

    deliveries = [
        ("orders/paid", paid),  # paid arrives before create
        ("orders/create", placed),
        ("orders/create", placed),  # Shopify retry under a new webhook id
        ("fulfillments/create", fulfillment),
        ("fulfillment_events/create", delivered),  # delivered overtakes the earlier steps
        ("fulfillment_events/create", in_transit),
        ("fulfillment_events/create", out_for_delivery),
        ("fulfillment_events/create", in_transit),  # duplicate
        ("refunds/create", refund),
        ("orders/updated", {**paid, "refunds": [refund]}),  # the same refund again
    ]
    for topic, payload in deliveries:
        response = deliver(topic, payload)
        assert response.status_code == 200, (topic, response.text)

    names = sorted(e["event"] for e in events(store, shop_id))
    assert names == sorted(
        [
            "Order Completed",
            "Order Paid",
            "Shipment Created",
            "Shipment Status Updated",
            "Shipment Status Updated",
            "Shipment Delivered",
            "Order Refunded",
        ]
    )
    order = store.get_order(shop_id, ORDER)
    assert order is not None
    assert order.user_id == CUSTOMER
    assert order.order_number == "1234"
    assert order.status == "partially_refunded"
    assert order.total == "404.95"
    assert order.refunded == "85.00"
    (shipment,) = order.shipments
    assert shipment.shipment_id == "123456"
    assert shipment.status == "delivered"  # the older steps did not move it back
    assert shipment.carrier == "UPS"
    assert shipment.tracking_number == "1z827wk74630"
    assert shipment.estimated_delivery_date == "2022-01-03"
    assert [e["status"] for e in shipment.events if e["event"] != "Shipment Created"] == [
        "in_transit",
        "out_for_delivery",
        "delivered",
    ]
    # Same order found by the number the shopper knows.
    by_number = store.get_order(shop_id, "1234")
    assert by_number is not None and by_number.order_id == ORDER


def test_return_story_links_the_reverse_delivery_to_its_order(
    deliver: Deliver, store: Store, shopify_shop: CreatedShop
) -> None:
    shop_id = shopify_shop.shop.id
    for topic, name in [
        ("returns/request", "returns_request.json"),
        ("returns/approve", "returns_approve.json"),
        ("reverse_deliveries/attach_deliverable", "reverse_deliveries_attach_deliverable.json"),
    ]:
        response = deliver(topic, fixture(name))
        assert response.json()["events"] == 1, (topic, response.text)
    order = store.get_order(shop_id, "4783296544821")
    assert order is not None
    assert [e["event"] for e in order.timeline] == [
        "Return Requested",
        "Return Approved",
        "Return Shipment Created",
    ]


def test_checkout_followed_by_its_order_is_marked_completed(
    deliver: Deliver, store: Store, shopify_shop: CreatedShop
) -> None:
    shop_id = shopify_shop.shop.id
    assert deliver("checkouts/create", fixture("checkouts_create.json")).json()["events"] == 1
    assert deliver("checkouts/update", fixture("checkouts_create.json")).json()["events"] == 0
    deliver("orders/create", open_order(checkout_token="123123123"))
    state = store.get_state(shop_id, "checkout", "123123123")
    assert state is not None
    assert state["completed"] is True and state["order_id"] == ORDER


def test_customers_redact_erases_the_customer_by_id_and_email(
    deliver: Deliver, store: Store, shopify_shop: CreatedShop
) -> None:
    shop_id = shopify_shop.shop.id
    deliver("orders/create", open_order())
    guest = open_order(id=999, customer=None, email="john@example.com", order_number=77)
    deliver("orders/create", guest)
    other = open_order(id=555, customer={"id": 1}, email="other@example.com", order_number=78)
    deliver("orders/create", other)
    assert store.count_events(shop_id) == 3
    redact = fixture("customers_redact.json")
    redact["customer"] = {"id": int(CUSTOMER), "email": "john@example.com", "phone": None}
    response = deliver("customers/redact", redact)
    assert response.status_code == 200, response.text
    assert store.get_order(shop_id, ORDER) is None
    assert store.get_order(shop_id, "999") is None  # the guest order, found by email
    assert store.get_order(shop_id, "555") is not None
    assert store.count_events(shop_id) == 1
    (request,) = store.privacy_requests(shop_id)
    assert request["kind"] == "erase"
    # The integration state named them too: gone, the other customer's stays.
    assert store.get_state(shop_id, "order", ORDER) is None
    assert store.get_state(shop_id, "order", "999") is None
    assert store.get_state(shop_id, "order", "555") is not None
    assert response.json()["erased"]["integration_state"] == 2


def test_customers_data_request_stores_an_export_the_merchant_can_fetch(
    deliver: Deliver, client: TestClient, shopify_shop: CreatedShop
) -> None:
    deliver("orders/create", open_order())
    payload = fixture("customers_data_request.json")
    payload["customer"]["id"] = int(CUSTOMER)
    response = deliver("customers/data_request", payload)
    assert response.status_code == 200, response.text
    fetched = client.get(
        "/api/v1/privacy/requests",
        headers={"Authorization": f"Bearer {shopify_shop.admin_token}"},
    )
    (request,) = fetched.json()["requests"]
    assert request["kind"] == "export"
    export = request["payload"]["export"]
    assert request["payload"]["shopify_request_id"] == 9999
    assert export["user_ids"] == [CUSTOMER]
    assert export["order_ids"] == [ORDER]
    assert len(export["tables"]["events"]) == 1


def test_shop_redact_erases_the_whole_shop(
    deliver: Deliver, store: Store, shopify_shop: CreatedShop
) -> None:
    deliver("orders/create", open_order())
    response = deliver("shop/redact", fixture("shop_redact.json"))
    assert response.status_code == 200, response.text
    assert store.get_shop(shopify_shop.shop.id) is None
    assert store.count_events(shopify_shop.shop.id) == 0


def test_app_uninstalled_forgets_the_access_token(
    deliver: Deliver, store: Store, shopify_shop: CreatedShop
) -> None:
    response = deliver("app/uninstalled", {"id": 548380009, "domain": DOMAIN})
    assert response.status_code == 200
    shop = store.get_shop(shopify_shop.shop.id)
    assert shop is not None and "access_token" not in shop.secrets
    assert store.get_state(shop.id, "app", "installation") is not None


def test_redact_also_erases_the_kept_body_of_a_failed_delivery(
    deliver: Deliver, store: Store, shopify_shop: CreatedShop
) -> None:
    from sqlalchemy import select

    from cx_sdk.server.tables import webhook_deliveries

    shop_id = shopify_shop.shop.id
    assert deliver("orders/create", open_order(currency=None), webhook_id="bad").status_code == 422
    redact = fixture("customers_redact.json")
    redact["customer"] = {"id": int(CUSTOMER), "email": "jon@example.com", "phone": None}
    assert deliver("customers/redact", redact).status_code == 200
    with store.engine.connect() as conn:
        bodies = conn.execute(
            select(webhook_deliveries.c.body).where(
                webhook_deliveries.c.shop_id == shop_id,
                webhook_deliveries.c.delivery_id == "bad",
            )
        ).all()
    assert bodies == []


def test_repeated_data_requests_do_not_nest_earlier_exports(
    deliver: Deliver, store: Store, shopify_shop: CreatedShop
) -> None:
    deliver("orders/create", open_order())
    payload = fixture("customers_data_request.json")
    payload["customer"]["id"] = int(CUSTOMER)
    for _ in range(3):
        assert deliver("customers/data_request", payload).status_code == 200
    *_, last = store.privacy_requests(shopify_shop.shop.id)
    listed = last["payload"]["export"]["tables"]["privacy_requests"]
    assert len(listed) == 2
    assert all("payload" not in row for row in listed)


def test_customers_redact_removes_their_checkout_and_shipment_state(
    deliver: Deliver, store: Store, shopify_shop: CreatedShop
) -> None:
    shop_id = shopify_shop.shop.id
    deliver("checkouts/create", fixture("checkouts_create.json"))
    deliver("orders/create", open_order())
    deliver("fulfillments/create", fixture("fulfillments_create.json"))
    redact = fixture("customers_redact.json")
    redact["customer"] = {"id": 603851970716743426, "email": "example@email.com", "phone": None}
    assert deliver("customers/redact", redact).status_code == 200
    assert store.get_state(shop_id, "checkout", "123123123") is None
    assert store.get_state(shop_id, "order", ORDER) is not None  # someone else's order
    redact["customer"] = {"id": int(CUSTOMER), "email": "jon@example.com", "phone": None}
    assert deliver("customers/redact", redact).status_code == 200
    assert store.get_state(shop_id, "order", ORDER) is None
    assert store.get_state(shop_id, "fulfillment", "123456") is None


def test_the_collectors_erase_and_export_reach_the_shopify_state_too(
    deliver: Deliver, client: TestClient, store: Store, shopify_shop: CreatedShop
) -> None:
    shop_id = shopify_shop.shop.id
    deliver("checkouts/create", fixture("checkouts_create.json"))
    deliver("orders/create", open_order())
    deliver("fulfillments/create", fixture("fulfillments_create.json"))
    auth = bearer(shopify_shop.admin_token)
    export = client.get("/api/v1/privacy/export", params={"user_id": CUSTOMER}, headers=auth)
    assert export.status_code == 200, export.text
    listed = {(row["kind"], row["key"]) for row in export.json()["tables"]["integration_state"]}
    assert listed == {("order", ORDER), ("fulfillment", "123456")}
    # The merchant's erase, not Shopify's redact: the state that names the customer goes too.
    erased = client.post("/api/v1/privacy/erase", json={"user_id": CUSTOMER}, headers=auth)
    assert erased.status_code == 200, erased.text
    assert erased.json()["erased"]["integration_state"] == 2
    assert store.get_state(shop_id, "order", ORDER) is None
    assert store.get_state(shop_id, "fulfillment", "123456") is None
    assert store.get_state(shop_id, "checkout", "123123123") is not None  # someone else's
    after = store.export_customer(shop_id, user_id=CUSTOMER)["tables"]
    assert after["integration_state"] == []
