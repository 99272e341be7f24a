from __future__ import annotations

import orjson
from starlette.testclient import TestClient

from cx_sdk.privacy import hash_email
from cx_sdk.server import CreatedShop, Store

from .helpers import basic, bearer, order_completed, track


def _customer_story(client: TestClient, shop: CreatedShop, store: Store) -> None:
    """One customer in every table: events, identity, profile, order, shipment, timeline,
    a raw webhook delivery and a privacy request."""
    auth = basic(shop.write_key)
    anon = track("Product Viewed", {"product_id": "p1"}, anonymousId="anon-1")
    del anon["userId"]
    identify = {
        "type": "identify",
        "userId": "cust-1",
        "anonymousId": "anon-1",
        "messageId": "id-1",
        "traits": {"email": "anna@example.de"},
    }
    order = order_completed(properties={"order_id": "9", "total": "10", "currency": "EUR"})
    shipped = track(
        "Shipment Created",
        {"order_id": "9", "shipment_id": "s9", "carrier": "DHL", "status": "in_transit"},
    )
    guest = order_completed(
        userId=None,
        anonymousId="guest-77",
        properties={
            "order_id": "77",
            "total": "5",
            "currency": "EUR",
            "email_hash": hash_email("anna@example.de"),
        },
    )
    del guest["userId"]
    body = {"batch": [anon, identify, order, shipped, guest]}
    assert client.post("/v1/batch", json=body, headers=auth).json()["accepted"] == 5
    store.record_webhook(shop.shop.id, "shopify", "d-1", "orders/create", {}, b"{}", "cust-1")
    store.record_privacy_request(shop.shop.id, "data_request", "cust-1", {"orders": ["9"]})


def test_export_reaches_every_table(client: TestClient, shop: CreatedShop, store: Store) -> None:
    _customer_story(client, shop, store)
    response = client.get(
        "/api/v1/privacy/export", params={"user_id": "cust-1"}, headers=bearer(shop.admin_token)
    )
    assert response.status_code == 200
    tables = response.json()["tables"]
    assert len(tables["events"]) == 4
    for name in (
        "profiles",
        "identities",
        "orders",
        "shipments",
        "order_timeline",
        "webhook_deliveries",
        "privacy_requests",
    ):
        assert tables[name], f"{name} missing from the export"


def test_erase_by_email_leaves_nothing_of_the_customer(
    client: TestClient, shop: CreatedShop, store: Store
) -> None:
    _customer_story(client, shop, store)
    other = order_completed(userId="cust-2", properties={"order_id": "5", "currency": "EUR"})
    client.post("/v1/batch", json={"batch": [other]}, headers=basic(shop.write_key))
    response = client.post(
        "/api/v1/privacy/erase",
        json={"email": "ANNA@example.de"},
        headers=bearer(shop.admin_token),
    )
    assert response.status_code == 200
    assert response.json()["erased"]["events"] == 5
    assert not store.has_customer_data(shop.shop.id, "cust-1")
    export = store.export_customer(shop.shop.id, user_id="cust-1")
    assert all(rows == [] for rows in export["tables"].values())
    # The guest order found by its email is gone too; the other customer is untouched.
    assert store.get_order(shop.shop.id, "77") is None
    remaining = client.get("/api/v1/events", headers=bearer(shop.admin_token)).text.splitlines()
    assert [orjson.loads(line)["userId"] for line in remaining] == ["cust-2"]


def test_privacy_calls_need_a_subject_and_a_token(client: TestClient, shop: CreatedShop) -> None:
    auth = bearer(shop.admin_token)
    assert client.post("/api/v1/privacy/erase", json={}, headers=auth).status_code == 400
    assert client.get("/api/v1/privacy/export", headers=auth).status_code == 400
    assert client.post("/api/v1/privacy/erase", json={"user_id": "x"}).status_code == 401


def test_erase_shop_removes_every_row_of_the_shop(
    client: TestClient, shop: CreatedShop, store: Store
) -> None:
    _customer_story(client, shop, store)
    store.put_state(shop.shop.id, "shopify_order", "9", {"updated_at": "x"})
    counts = store.erase_shop(shop.shop.id)
    assert counts["shops"] == 1 and counts["events"] == 5
    assert store.get_shop(shop.shop.id) is None
    assert store.get_state(shop.shop.id, "shopify_order", "9") is None
    assert client.get("/api/v1/events", headers=bearer(shop.admin_token)).status_code == 401


def test_events_page_through_with_a_cursor(client: TestClient, shop: CreatedShop) -> None:
    batch = [
        track("Product Viewed", {"product_id": str(n)}, timestamp=f"2026-11-{10 + n}T00:00:00Z")
        for n in range(5)
    ]
    client.post("/v1/batch", json={"batch": batch}, headers=basic(shop.write_key))
    auth = bearer(shop.admin_token)
    first = client.get("/api/v1/events", params={"limit": 2}, headers=auth)
    cursor = first.headers["X-Next-Cursor"]
    second = client.get("/api/v1/events", params={"limit": 2, "cursor": cursor}, headers=auth)
    seen = [orjson.loads(x)["properties"]["product_id"] for x in first.text.splitlines()]
    seen += [orjson.loads(x)["properties"]["product_id"] for x in second.text.splitlines()]
    assert seen == ["0", "1", "2", "3"]
    window = client.get(
        "/api/v1/events",
        params={"since": "2026-11-11T00:00:00Z", "until": "2026-11-13T00:00:00Z"},
        headers=auth,
    )
    assert [orjson.loads(x)["properties"]["product_id"] for x in window.text.splitlines()] == [
        "1",
        "2",
    ]
    bad = client.get("/api/v1/events", params={"since": "yesterday"}, headers=auth)
    assert bad.status_code == 400 and "since" in bad.json()["error"]
