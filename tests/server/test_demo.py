from __future__ import annotations

from collections import Counter

from starlette.testclient import TestClient

from cx_sdk.server import Settings, Store, create_app
from cx_sdk.server.demo import DEMO_SHOP_ID, sample_order, seed, storefront_routes


def test_demo_seeds_every_stage_and_reruns_without_duplicates(sqlite_store: Store) -> None:
    first = seed(sqlite_store)
    assert first["stored"] > 2000
    second = seed(sqlite_store)
    assert second["stored"] == 0 and second["already_there"] == first["stored"]
    assert sqlite_store.shop_for_key(first["write_key"], "write") is None  # rotated
    stages = Counter(
        e.get("event") or e["type"] for _, e in sqlite_store.iter_events(DEMO_SHOP_ID, limit=10**6)
    )
    for name in (
        "Product Viewed",
        "Checkout Abandoned",
        "Order Completed",
        "Shipment Delivered",
        "Return Requested",
        "Order Refunded",
        "Survey Answered",
        "Product Reviewed",
    ):
        assert stages[name] > 0, name
    number, email = sample_order()
    order = sqlite_store.get_order(DEMO_SHOP_ID, number)
    assert order is not None and order.shipments[0].status == "delivered"
    assert email.endswith("@example.de")


def test_demo_storefront_has_the_widget_places_in_both_languages(sqlite_store: Store) -> None:
    app = create_app(Settings(migrate_on_start=False), sqlite_store)
    app.router.routes.extend(storefront_routes(DEMO_SHOP_ID, ("#1001", "a@example.de")))
    with TestClient(app) as client:
        german = client.get("/demo")
        english = client.get("/demo?locale=en")
    assert german.status_code == 200 and 'lang="de"' in german.text
    assert "Wo ist meine Bestellung?" in german.text
    assert "Where is my order?" in english.text
    for widget in ("tracking", "survey", "recommendations", "chat"):
        assert f'data-cx-widget="{widget}"' in german.text
