"""POST /integrations/woocommerce/webhooks/{shop_id} against the real collector and store."""

from __future__ import annotations

import json
import random
import time
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from starlette.testclient import TestClient

from cx_sdk.integrations.woocommerce import signature, webhooks
from cx_sdk.integrations.woocommerce.webhooks import delivery_key
from cx_sdk.privacy import hash_email
from cx_sdk.server import CreatedShop, Store
from cx_sdk.server.tables import webhook_deliveries

from .test_mapping import life_of_723, order_723

FIXTURES = Path(__file__).parents[2] / "fixtures" / "woocommerce"
SECRET = signature.generate_secret()


@pytest.fixture
def wc_shop(store: Store, shop: CreatedShop) -> str:
    store.update_shop_secrets(shop.shop.id, webhook_secret=SECRET)
    return shop.shop.id


def wc_headers(body: bytes, topic: str, secret: str = SECRET) -> dict[str, str]:
    """The headers WC_Webhook::deliver() sends."""
    resource, _, event = topic.partition(".")
    return {
        "Content-Type": "application/json",
        "User-Agent": "WooCommerce/9.0.0 Hookshot (WordPress/6.5)",
        "X-WC-Webhook-Source": "https://shop.example/",
        "X-WC-Webhook-Topic": topic,
        "X-WC-Webhook-Resource": resource,
        "X-WC-Webhook-Event": event,
        "X-WC-Webhook-Signature": signature.sign(body, secret),
        "X-WC-Webhook-ID": "142",
        "X-WC-Webhook-Delivery-ID": "3f1e0c4b7f2a5bd9e2a1c0f9d8e7b6a5",
    }


def deliver(client: TestClient, shop_id: str, payload: Any, topic: str = "order.updated") -> Any:
    body = json.dumps(payload).encode()
    return client.post(
        f"/integrations/woocommerce/webhooks/{shop_id}",
        content=body,
        headers=wc_headers(body, topic),
    )


def test_creation_ping_answers_exactly_200(client: TestClient, wc_shop: str) -> None:
    response = client.post(
        f"/integrations/woocommerce/webhooks/{wc_shop}",
        content=b"webhook_id=142",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert response.status_code == 200


def test_ping_to_an_unknown_shop_says_so(client: TestClient) -> None:
    response = client.post(
        "/integrations/woocommerce/webhooks/shop_nope",
        content=b"webhook_id=142",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert response.status_code == 404
    assert "unknown shop" in response.json()["error"]


def test_forged_woocommerce_webhook_is_refused(
    client: TestClient, store: Store, wc_shop: str
) -> None:
    body = json.dumps(order_723()).encode()
    headers = wc_headers(body, "order.updated", secret="an0therSecretThatIsNotTheShops1234")
    response = client.post(
        f"/integrations/woocommerce/webhooks/{wc_shop}", content=body, headers=headers
    )
    assert response.status_code == 401
    assert "does not match" in response.json()["error"]
    assert store.count_events(wc_shop) == 0


def test_tampered_body_is_refused(client: TestClient, store: Store, wc_shop: str) -> None:
    body = json.dumps(order_723()).encode()
    headers = wc_headers(body, "order.updated")
    response = client.post(
        f"/integrations/woocommerce/webhooks/{wc_shop}",
        content=body.replace(b'"39.00"', b'"3900.00"'),
        headers=headers,
    )
    assert response.status_code == 401
    assert store.count_events(wc_shop) == 0


def test_missing_signature_is_refused(client: TestClient, wc_shop: str) -> None:
    body = json.dumps(order_723()).encode()
    headers = wc_headers(body, "order.updated")
    del headers["X-WC-Webhook-Signature"]
    response = client.post(
        f"/integrations/woocommerce/webhooks/{wc_shop}", content=body, headers=headers
    )
    assert response.status_code == 401
    assert "missing" in response.json()["error"]


def test_unknown_shop_and_shop_without_secret_are_refused(
    client: TestClient, store: Store, shop: CreatedShop
) -> None:
    for shop_id in ("shop_unknown", shop.shop.id):  # the fixture shop has no secret
        response = deliver(client, shop_id, order_723())
        assert response.status_code == 401


def test_signed_order_delivery_is_persisted_mapped_and_projected(
    client: TestClient, store: Store, wc_shop: str
) -> None:
    response = deliver(client, wc_shop, order_723())
    assert response.status_code == 200, response.text
    assert response.json()["events"] == 4
    assert store.count_events(wc_shop) == 4
    order = store.get_order(wc_shop, "723")
    assert order is not None
    assert order.user_id == "26"
    assert order.currency == "USD"
    assert order.total is not None and float(order.total) == 39.0
    assert order.refunded is not None and float(order.refunded) == 19.0
    assert order.status == "partially_refunded"
    state = store.get_state(wc_shop, "order", "723")
    assert state is not None
    assert state["facts"] == ["placed", "paid", "refund:724", "refund:726"]
    body = json.dumps(order_723()).encode()
    with store.engine.connect() as conn:
        row = conn.execute(
            select(webhook_deliveries).where(webhook_deliveries.c.shop_id == wc_shop)
        ).one()
    assert row.delivery_id == delivery_key("order.updated", body)
    assert row.topic == "order.updated"
    assert row.processed_at is not None and row.error is None
    assert "x-wc-webhook-signature" not in row.headers
    assert row.headers["x-wc-webhook-id"] == "142"


def test_repeated_delivery_is_stored_once(client: TestClient, store: Store, wc_shop: str) -> None:
    assert deliver(client, wc_shop, order_723()).json()["events"] == 4
    again = deliver(client, wc_shop, order_723())
    assert again.status_code == 200
    assert again.json()["status"] == "duplicate"
    assert store.count_events(wc_shop) == 4


def test_replay_of_723_over_http_gives_one_event_per_real_change(
    client: TestClient, store: Store, wc_shop: str
) -> None:
    rng = random.Random(7)
    life = life_of_723()
    deliveries = life + [rng.choice(life) for _ in range(5)]
    rng.shuffle(deliveries)
    for payload in deliveries:
        assert deliver(client, wc_shop, payload).status_code == 200
    assert store.count_events(wc_shop) == 6
    order = store.get_order(wc_shop, "723")
    assert order is not None
    assert [s.status for s in order.shipments] == ["delivered"]
    assert order.shipments[0].tracking_number == "RR123"
    assert order.refunded is not None and float(order.refunded) == 19.0


def test_customer_update_identifies_with_hashed_email(
    client: TestClient, store: Store, wc_shop: str
) -> None:
    customer = json.loads((FIXTURES / "customer_v3_retrieve_25.json").read_text())
    response = deliver(client, wc_shop, customer, topic="customer.updated")
    assert response.status_code == 200
    exported = store.export_customer(wc_shop, user_id="25")
    text = json.dumps(exported, default=str)
    assert "john.doe@example.com" not in text
    assert hash_email("john.doe@example.com") in text
    # The hash is enough for a privacy request by email to find the customer.
    assert store.export_customer(wc_shop, email="John.Doe@example.com")["user_ids"] == ["25"]
    assert store.count_events(wc_shop) == 1


def test_checkout_draft_is_accepted_and_ignored(
    client: TestClient, store: Store, wc_shop: str
) -> None:
    draft = {**order_723(), "status": "checkout-draft"}
    response = deliver(client, wc_shop, draft, topic="order.created")
    assert response.status_code == 200
    assert response.json()["events"] == 0
    assert "checkout-draft" in response.json()["note"]
    assert store.count_events(wc_shop) == 0


def test_signed_but_malformed_json_is_a_clear_400(client: TestClient, wc_shop: str) -> None:
    body = b'{"id": 723,'
    response = client.post(
        f"/integrations/woocommerce/webhooks/{wc_shop}",
        content=body,
        headers=wc_headers(body, "order.updated"),
    )
    assert response.status_code == 400
    assert "not JSON" in response.json()["error"]


def test_signed_order_without_currency_is_a_clear_422(client: TestClient, wc_shop: str) -> None:
    payload = {**order_723(), "currency": ""}
    response = deliver(client, wc_shop, payload)
    assert response.status_code == 422
    assert response.json()["error"] == "order.updated: order 723 has no currency"


def test_signed_order_with_an_unknown_currency_is_a_clear_422(
    client: TestClient, wc_shop: str
) -> None:
    response = deliver(client, wc_shop, {**order_723(), "currency": "EURO"})
    assert response.status_code == 422
    assert "'EURO' is not an ISO-4217 currency code" in response.json()["error"]


def test_missing_topic_is_a_clear_400(client: TestClient, wc_shop: str) -> None:
    body = json.dumps(order_723()).encode()
    headers = wc_headers(body, "order.updated")
    del headers["X-WC-Webhook-Topic"]
    response = client.post(
        f"/integrations/woocommerce/webhooks/{wc_shop}", content=body, headers=headers
    )
    assert response.status_code == 400
    assert "Topic" in response.json()["error"]


def test_order_deleted_after_the_order(client: TestClient, store: Store, wc_shop: str) -> None:
    deliver(client, wc_shop, order_723())
    response = deliver(client, wc_shop, {"id": 723}, topic="order.deleted")
    assert response.json()["events"] == 1
    assert store.count_events(wc_shop) == 5
    state = store.get_state(wc_shop, "order", "723") or {}
    assert not {"user_id", "anonymous_id"} & set(state)
    deleted = [e for e in store.journey(wc_shop, "26")["timeline"] if e["event"] == "Order Deleted"]
    assert len(deleted) == 1


def test_delivery_is_answered_fast(client: TestClient, wc_shop: str) -> None:
    """WooCommerce waits on each delivery; a typical order must not keep it waiting."""
    timings = []
    for payload in life_of_723():
        started = time.perf_counter()
        assert deliver(client, wc_shop, payload).status_code == 200
        timings.append(time.perf_counter() - started)
    assert max(timings) < 1.0


def test_failed_processing_is_kept_and_replayed(
    client: TestClient, store: Store, wc_shop: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("database went away")

    monkeypatch.setattr(webhooks, "process", broken)
    response = deliver(client, wc_shop, order_723())
    assert response.status_code == 503
    assert "kept" in response.json()["error"]
    with store.engine.connect() as conn:
        row = conn.execute(
            select(webhook_deliveries).where(webhook_deliveries.c.shop_id == wc_shop)
        ).one()
    assert row.error == "RuntimeError: database went away"
    assert row.user_id == "26"  # a privacy erase of customer 26 reaches the kept body
    assert row.body == json.dumps(order_723()).encode()
    monkeypatch.undo()

    report = webhooks.replay(store, wc_shop)
    assert (report.processed, report.events, report.failed) == (1, 4, [])
    assert store.count_events(wc_shop) == 4
    with store.engine.connect() as conn:
        row = conn.execute(
            select(webhook_deliveries).where(webhook_deliveries.c.shop_id == wc_shop)
        ).one()
    assert row.error is None and row.body == b""
    assert webhooks.replay(store, wc_shop).processed == 0


def test_replay_finishes_deliveries_a_killed_worker_left(store: Store, wc_shop: str) -> None:
    body = json.dumps(order_723()).encode()
    key = delivery_key("order.updated", body)
    assert store.record_webhook(wc_shop, "woocommerce", key, "order.updated", {}, body)
    assert webhooks.replay(store, wc_shop).processed == 0  # may still be in flight
    report = webhooks.replay(store, wc_shop, older_than_seconds=0)
    assert (report.processed, report.events) == (1, 4)
    # Another shop's deliveries are never touched.
    other = store.create_shop("Anderer Laden", "woocommerce").shop.id
    assert webhooks.replay(store, other, older_than_seconds=0).processed == 0


def test_replay_reports_payloads_that_still_fail(store: Store, wc_shop: str) -> None:
    body = json.dumps({**order_723(), "currency": ""}).encode()
    key = delivery_key("order.updated", body)
    store.record_webhook(wc_shop, "woocommerce", key, "order.updated", {}, body)
    store.finish_webhook(wc_shop, "woocommerce", key, "order 723 has no currency")
    report = webhooks.replay(store, wc_shop)
    assert report.processed == 0
    assert len(report.failed) == 1 and "no currency" in report.failed[0]


def test_erasing_a_woocommerce_customer_by_email_leaves_nothing(
    client: TestClient, store: Store, wc_shop: str
) -> None:
    for payload in life_of_723():
        deliver(client, wc_shop, payload)
    customer = json.loads((FIXTURES / "customer_v3_retrieve_25.json").read_text())
    deliver(
        client,
        wc_shop,
        {**customer, "id": 26, "email": "joao.silva@example.com"},
        "customer.updated",
    )
    assert store.count_events(wc_shop) == 7
    store.erase_customer(wc_shop, email="joao.silva@example.com")
    exported = store.export_customer(wc_shop, user_id="26")
    assert all(rows == [] for rows in exported["tables"].values()), exported["tables"]
    assert store.get_order(wc_shop, "723") is None
    assert store.count_events(wc_shop) == 0
