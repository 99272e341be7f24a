"""End to end over real HTTP: Shopify-style signed deliveries, sent concurrently with retries
and out of order, reach a running collector; the storefront then reads the order's tracking
through the app proxy as its logged-in owner."""

from __future__ import annotations

import copy
import json
import socket
import threading
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any
from urllib.parse import urlencode

import httpx
import pytest
import uvicorn

from cx_sdk.integrations.shopify import signature
from cx_sdk.server import Settings, Store, create_app

from .conftest import API_KEY, API_SECRET, DOMAIN, fixture

ORDER = "820982911946154508"
CUSTOMER = "115310627314723954"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


@pytest.fixture
def collector(sqlite_store: Store) -> Iterator[tuple[str, Store, str]]:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    shop_id = sqlite_store.create_shop("Laden", "shopify", domain=DOMAIN).shop.id
    settings = Settings(
        database_url="sqlite://",
        migrate_on_start=False,
        key_cache_seconds=0,
        public_url=base,
        secret_key="e2e",
        shopify_api_key=API_KEY,
        shopify_api_secret=API_SECRET,
    )
    config = uvicorn.Config(
        create_app(settings, sqlite_store), host="127.0.0.1", port=port, log_level="warning"
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        assert time.monotonic() < deadline, "collector did not start"
        time.sleep(0.02)
    try:
        yield base, sqlite_store, shop_id
    finally:
        server.should_exit = True
        thread.join(timeout=10)


def story() -> list[tuple[str, dict[str, Any]]]:
    order = fixture("orders_create.json")
    order.update(cancelled_at=None, cancel_reason=None, financial_status="paid")
    step = fixture("fulfillment_events_create.json")
    steps = [
        {**copy.deepcopy(step), "id": n, "status": status, "happened_at": at}
        for n, (status, at) in enumerate(
            [
                ("in_transit", "2022-01-02T08:00:00-05:00"),
                ("out_for_delivery", "2022-01-03T07:00:00-05:00"),
                ("delivered", "2022-01-03T12:00:00-05:00"),
            ]
        )
    ]
    return [
        ("orders/create", order),
        ("orders/paid", order),
        ("fulfillments/create", fixture("fulfillments_create.json")),
        *[("fulfillment_events/create", s) for s in steps],
        ("refunds/create", fixture("refunds_create.json")),
    ]


def send(base: str, topic: str, payload: dict[str, Any], webhook_id: str) -> httpx.Response:
    body = json.dumps(payload).encode()
    return httpx.post(
        f"{base}/integrations/shopify/webhooks",
        content=body,
        headers={
            "Content-Type": "application/json",
            "X-Shopify-Topic": topic,
            "X-Shopify-Shop-Domain": DOMAIN,
            "X-Shopify-Webhook-Id": webhook_id,
            "X-Shopify-Hmac-Sha256": signature.sign_webhook(body, API_SECRET),
        },
        timeout=10,
    )


def test_concurrent_retried_and_reordered_deliveries_store_each_fact_once(
    collector: tuple[str, Store, str],
) -> None:
    base, store, shop_id = collector
    deliveries = [(topic, payload, str(uuid.uuid4())) for topic, payload in story()]
    # Every delivery twice (a Shopify retry of the same webhook id), newest first.
    queue = list(reversed(deliveries)) + deliveries
    with ThreadPoolExecutor(max_workers=6) as pool:
        answers = list(pool.map(lambda d: send(base, *d), queue))
    assert all(a.status_code == 200 for a in answers), [a.text for a in answers]
    # Late stragglers after the dust settles change nothing.
    for topic, payload, _ in deliveries:
        assert send(base, topic, payload, str(uuid.uuid4())).status_code == 200
    names = sorted(e["event"] for _, e in store.iter_events(shop_id))
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
    assert order.status == "partially_refunded"
    assert order.refunded == "85.00"
    assert order.shipments[0].status == "delivered"

    params = [
        ("order", "1234"),
        ("locale", "de"),
        ("shop", DOMAIN),
        ("logged_in_customer_id", CUSTOMER),
        ("path_prefix", "/apps/cx"),
        ("timestamp", str(int(time.time()))),
    ]
    query = urlencode([*params, ("signature", signature.sign_proxy(params, API_SECRET))])
    page = httpx.get(f"{base}/integrations/shopify/proxy/tracking?{query}", timeout=10)
    assert page.status_code == 200
    assert "Sendungsnummer: 1z827wk74630" in page.text
