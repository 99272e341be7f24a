"""GraphQL backfill against a mocked Admin API: mapping, throttle, resume, dedupe with webhooks."""

from __future__ import annotations

import json
import tomllib
from datetime import UTC, date, datetime, timedelta
from typing import Any

import httpx
import pytest
from pytest_httpx import HTTPXMock

from cx_sdk.integrations.shopify import backfill, cli, mapping, oauth
from cx_sdk.server import CreatedShop, Store

from .conftest import DOMAIN, Deliver, fixture

URL = oauth.graphql_url(DOMAIN)
ORDER = "820982911946154508"


def money(amount: str) -> dict[str, Any]:
    return {"shopMoney": {"amount": amount, "currencyCode": "USD"}}


def graphql_order(order_id: str, name: str, **extra: Any) -> dict[str, Any]:
    line = {
        "id": "gid://shopify/LineItem/487817672276298554",
        "title": "Aviator sunglasses",
        "quantity": 1,
        "currentQuantity": 1,
        "sku": "SKU2006-001",
        "vendor": None,
        "variantTitle": None,
        "product": {"legacyResourceId": "788032119674292922"},
        "originalUnitPriceSet": money("89.99"),
    }
    node: dict[str, Any] = {
        "legacyResourceId": order_id,
        "name": name,
        "email": "jon@example.com",
        "test": False,
        "createdAt": "2021-12-31T19:00:00-05:00",
        "updatedAt": "2021-12-31T19:00:00-05:00",
        "processedAt": "2021-12-31T19:00:00-05:00",
        "cancelledAt": None,
        "cancelReason": None,
        "displayFinancialStatus": "PAID",
        "currencyCode": "USD",
        "paymentGatewayNames": ["bogus"],
        "discountCodes": [],
        "customer": {"legacyResourceId": "115310627314723954"},
        "totalPriceSet": money("404.95"),
        "currentTotalPriceSet": money("404.95"),
        "subtotalPriceSet": money("404.95"),
        "totalTaxSet": money("0.00"),
        "totalDiscountsSet": money("20.00"),
        "totalShippingPriceSet": money("10.00"),
        "lineItems": {"nodes": [line]},
        "refunds": [
            {
                "legacyResourceId": "890088186047892319",
                "createdAt": "2021-12-31T19:00:00-05:00",
                "note": "Things were damaged",
                "totalRefundedSet": money("85.00"),
                "refundLineItems": {
                    "nodes": [{"quantity": 1, "subtotalSet": money("89.99"), "lineItem": line}]
                },
            }
        ],
        "fulfillments": [
            {
                "legacyResourceId": "123456",
                "createdAt": "2022-01-01T10:00:00-05:00",
                "updatedAt": "2022-01-01T10:00:00-05:00",
                "status": "SUCCESS",
                "trackingInfo": [{"company": "UPS", "number": "1z827wk74630", "url": None}],
                "events": {
                    "nodes": [
                        {
                            "id": "gid://shopify/FulfillmentEvent/1",
                            "status": "DELIVERED",
                            "happenedAt": "2022-01-03T10:00:00-05:00",
                            "estimatedDeliveryAt": None,
                            "message": None,
                            "city": "Ottawa",
                            "province": "Ontario",
                            "country": "CA",
                        }
                    ]
                },
            }
        ],
    }
    node.update(extra)
    return node


def page(
    nodes: list[dict[str, Any]], cursor: str, more: bool, available: int = 1000
) -> dict[str, Any]:
    return {
        "data": {
            "orders": {"pageInfo": {"hasNextPage": more, "endCursor": cursor}, "nodes": nodes}
        },
        "extensions": {
            "cost": {
                "requestedQueryCost": 400,
                "actualQueryCost": 120,
                "throttleStatus": {
                    "maximumAvailable": 2000,
                    "currentlyAvailable": available,
                    "restoreRate": 100,
                },
            }
        },
    }


def count(n: int) -> dict[str, Any]:
    return {"data": {"ordersCount": {"count": n}}}


def run(store: Store, shop: CreatedShop, **options: Any) -> tuple[backfill.Report, list[float]]:
    pauses: list[float] = []
    shop_id, client = backfill.client_for(store, DOMAIN, sleep=pauses.append)
    assert shop_id == shop.shop.id
    try:
        return backfill.backfill(store, shop_id, client, **options), pauses
    finally:
        client.close()


def requests_of(httpx_mock: HTTPXMock) -> list[dict[str, Any]]:
    return [json.loads(r.content) for r in httpx_mock.get_requests()]


def test_backfill_maps_orders_refunds_and_fulfillments(
    store: Store, shopify_shop: CreatedShop, httpx_mock: HTTPXMock
) -> None:
    httpx_mock.add_response(url=URL, json=count(1))
    httpx_mock.add_response(url=URL, json=page([graphql_order(ORDER, "#1234")], "c1", False))
    report, _ = run(store, shopify_shop)
    assert (report.orders, report.pages) == (1, 1)
    shop_id = shopify_shop.shop.id
    names = sorted(e["event"] for _, e in store.iter_events(shop_id))
    assert names == [
        "Order Completed",
        "Order Paid",
        "Order Refunded",
        "Shipment Created",
        "Shipment Delivered",
    ]
    order = store.get_order(shop_id, "1234")
    assert order is not None and order.order_id == ORDER
    assert order.refunded == "85.00"
    assert order.shipments[0].status == "delivered"
    assert order.shipments[0].tracking_number == "1z827wk74630"
    assert all(r["variables"].get("first", 50) == 50 for r in requests_of(httpx_mock))
    for request in httpx_mock.get_requests():
        assert request.headers["X-Shopify-Access-Token"] == "shpat_x"


def test_backfill_after_webhooks_stores_each_fact_once(
    store: Store, shopify_shop: CreatedShop, httpx_mock: HTTPXMock, deliver: Deliver
) -> None:
    order = fixture("orders_create.json")
    order.update(cancelled_at=None, cancel_reason=None, financial_status="paid")
    deliver("orders/create", order)
    deliver("refunds/create", fixture("refunds_create.json"))
    before = store.count_events(shopify_shop.shop.id)
    httpx_mock.add_response(url=URL, json=count(1))
    httpx_mock.add_response(url=URL, json=page([graphql_order(ORDER, "#1234")], "c1", False))
    run(store, shopify_shop)
    names = sorted(e["event"] for _, e in store.iter_events(shopify_shop.shop.id))
    assert before == 3
    assert names.count("Order Completed") == 1
    assert names.count("Order Paid") == 1
    assert names.count("Order Refunded") == 1


def test_backfill_waits_for_the_cost_bucket_before_the_next_page(
    store: Store, shopify_shop: CreatedShop, httpx_mock: HTTPXMock
) -> None:
    httpx_mock.add_response(url=URL, json=count(2))
    httpx_mock.add_response(
        url=URL, json=page([graphql_order("1", "#1")], "c1", True, available=100)
    )
    httpx_mock.add_response(url=URL, json=page([graphql_order("2", "#2")], "c2", False))
    report, pauses = run(store, shopify_shop)
    # 400 points requested, 100 left, 100 points/s restored: 3 s.
    assert pauses == [3.0]
    assert report.waited_seconds == 3.0
    assert report.orders == 2


def test_throttled_answer_is_retried(
    store: Store, shopify_shop: CreatedShop, httpx_mock: HTTPXMock
) -> None:
    throttled = {
        "errors": [{"message": "Throttled", "extensions": {"code": "THROTTLED"}}],
        "extensions": {
            "cost": {
                "requestedQueryCost": 400,
                "throttleStatus": {"currentlyAvailable": 0, "restoreRate": 100},
            }
        },
    }
    httpx_mock.add_response(url=URL, json=count(1))
    httpx_mock.add_response(url=URL, json=throttled)
    httpx_mock.add_response(url=URL, json=page([graphql_order("1", "#1")], "c1", False))
    report, pauses = run(store, shopify_shop)
    assert pauses == [4.0]
    assert report.orders == 1


def test_interrupted_backfill_resumes_at_the_saved_cursor(
    store: Store, shopify_shop: CreatedShop, httpx_mock: HTTPXMock
) -> None:
    httpx_mock.add_response(url=URL, json=count(2))
    httpx_mock.add_response(url=URL, json=page([graphql_order("1", "#1")], "c1", True))
    for _ in range(backfill.MAX_ATTEMPTS):
        httpx_mock.add_response(url=URL, status_code=503)
    with pytest.raises(backfill.BackfillError, match="kept failing"):
        run(store, shopify_shop, since=date(2021, 1, 1))
    saved = store.get_state(shopify_shop.shop.id, backfill.PROGRESS_KIND, backfill.PROGRESS_KEY)
    assert saved == {
        "query": "created_at:>=2021-01-01",
        "cursor": "c1",
        "orders": 1,
        "finished": False,
    }
    httpx_mock.reset()
    httpx_mock.add_response(url=URL, json=count(2))
    httpx_mock.add_response(url=URL, json=page([graphql_order("2", "#2")], "c2", False))
    report, _ = run(store, shopify_shop, since=date(2021, 1, 1))
    variables = requests_of(httpx_mock)[-1]["variables"]
    assert variables["after"] == "c1"
    assert variables["query"] == "created_at:>=2021-01-01"
    assert report.orders == 1
    assert store.get_order(shopify_shop.shop.id, "1") is not None
    assert store.get_order(shopify_shop.shop.id, "2") is not None


def test_refused_token_is_a_clear_error(
    store: Store, shopify_shop: CreatedShop, httpx_mock: HTTPXMock
) -> None:
    httpx_mock.add_response(url=URL, status_code=401, is_reusable=True)
    with pytest.raises(backfill.BackfillError, match="refused the access token"):
        run(store, shopify_shop)


def test_cli_backfill_for_unknown_shop_says_so(
    store: Store, capsys: pytest.CaptureFixture[str], tmp_path: Any
) -> None:
    db = f"sqlite:///{tmp_path / 'cli.db'}"
    assert cli.main(["--db", db, "backfill", "--shop", "nope.myshopify.com"]) == 1
    assert "no installed Shopify shop" in capsys.readouterr().err


def test_cli_backfill_runs_with_a_progress_bar(
    tmp_path: Any, httpx_mock: HTTPXMock, capsys: pytest.CaptureFixture[str]
) -> None:
    db = f"sqlite:///{tmp_path / 'cli.db'}"
    own = Store.open(db)
    own.create_shop("CLI", "shopify", domain=DOMAIN, secrets={"access_token": "shpat_x"})
    own.close()
    httpx_mock.add_response(url=URL, json=count(1))
    httpx_mock.add_response(url=URL, json=page([graphql_order("7", "#7")], "c1", False))
    assert cli.main(["backfill", "--shop", DOMAIN, "--db", db, "--since", "2021-01-01"]) == 0
    assert "1 orders on 1 pages" in capsys.readouterr().out


def test_abandoned_sweep_emits_once_for_checkouts_without_an_order(
    store: Store, shopify_shop: CreatedShop, deliver: Deliver
) -> None:
    shop_id = shopify_shop.shop.id
    deliver("checkouts/create", fixture("checkouts_create.json"))
    completed = {**fixture("checkouts_create.json"), "token": "999", "cart_token": "x"}
    deliver("checkouts/create", completed)
    order = fixture("orders_create.json")
    order.update(checkout_token="999", cancelled_at=None)
    deliver("orders/create", order)
    started = datetime(2022, 1, 1, tzinfo=UTC)
    assert cli.sweep_abandoned(store, shop_id, timedelta(hours=1), started) == 0
    later = started + timedelta(hours=2)
    assert cli.sweep_abandoned(store, shop_id, timedelta(hours=1), later) == 1
    assert cli.sweep_abandoned(store, shop_id, timedelta(hours=1), later) == 0
    (abandoned,) = [e for _, e in store.iter_events(shop_id, event="Checkout Abandoned")]
    assert abandoned["properties"]["checkout_id"] == "123123123"


def test_a_checkout_erased_while_the_sweep_runs_is_neither_abandoned_nor_brought_back(
    store: Store, shopify_shop: CreatedShop, deliver: Deliver, monkeypatch: pytest.MonkeyPatch
) -> None:
    shop_id = shopify_shop.shop.id
    deliver("checkouts/create", fixture("checkouts_create.json"))
    build = cli.abandoned_event

    def erased_meanwhile(*args: Any) -> Any:  # the sweep has read the checkout
        store.erase_customer(shop_id, user_id="603851970716743426")
        return build(*args)

    monkeypatch.setattr(cli, "abandoned_event", erased_meanwhile)
    later = datetime(2022, 1, 1, 2, tzinfo=UTC)
    assert cli.sweep_abandoned(store, shop_id, timedelta(hours=1), later) == 0
    assert list(store.iter_events(shop_id, event="Checkout Abandoned")) == []
    assert store.get_state(shop_id, "checkout", "123123123") is None


def test_app_toml_declares_every_mapped_topic_and_the_compliance_topics() -> None:
    text = cli.app_toml("https://cx.example.org/", "abc123")
    config = tomllib.loads(text)
    assert config["client_id"] == "abc123"
    regular, compliance = config["webhooks"]["subscriptions"]
    assert tuple(regular["topics"]) == oauth.TOPICS
    assert regular["uri"] == "https://cx.example.org/integrations/shopify/webhooks"
    assert tuple(compliance["compliance_topics"]) == oauth.COMPLIANCE_TOPICS
    assert set(oauth.COMPLIANCE_TOPICS) == mapping.PRIVACY_TOPICS
    assert config["app_proxy"]["url"] == "https://cx.example.org/integrations/shopify/proxy"
    assert config["auth"]["redirect_urls"] == [
        "https://cx.example.org/integrations/shopify/callback"
    ]
    assert config["access_scopes"]["scopes"] == ",".join(oauth.SCOPES)
    assert "{{" not in text
    with pytest.raises(ValueError, match="https"):
        cli.app_toml("http://cx.example.org", "abc")


def test_every_subscribed_topic_has_a_handler() -> None:
    handled = (
        mapping.ORDER_TOPICS
        | mapping.CHECKOUT_TOPICS
        | mapping.FULFILLMENT_TOPICS
        | mapping.CUSTOMER_TOPICS
        | mapping.CONSENT_TOPICS
        | set(mapping.RETURN_TOPICS)
        | {
            "refunds/create",
            "fulfillment_events/create",
            "reverse_deliveries/attach_deliverable",
            "reverse_fulfillment_orders/dispose",
            "app/uninstalled",
        }
    )
    assert set(oauth.TOPICS) <= handled
    assert oauth.WEBHOOK_TOPICS[0] == "CHECKOUTS_CREATE"
    assert "REVERSE_DELIVERIES_ATTACH_DELIVERABLE" in oauth.WEBHOOK_TOPICS


def test_graphql_transport_errors_are_clear(
    store: Store, shopify_shop: CreatedShop, httpx_mock: HTTPXMock
) -> None:
    # The count (best effort) and the first page each try MAX_ATTEMPTS times.
    for _ in range(2 * backfill.MAX_ATTEMPTS):
        httpx_mock.add_exception(httpx.ConnectError("refused"), url=URL)
    with pytest.raises(backfill.BackfillError, match="ConnectError"):
        run(store, shopify_shop)


def test_app_folder_holds_the_configuration_and_the_theme_extension(
    tmp_path: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    target = tmp_path / "cx-app"
    code = cli.main(
        ["app-folder", str(target), "--url", "https://cx.example.org", "--client-id", "id1"]
    )
    assert code == 0, capsys.readouterr().err
    config = tomllib.loads((target / "shopify.app.toml").read_text())
    assert config["client_id"] == "id1"
    extension = target / "extensions" / "cx-theme"
    assert (extension / "shopify.extension.toml").is_file()
    assert (extension / "blocks" / "tracking.liquid").is_file()
    assert (extension / "locales" / "de.json").is_file()
    assert "shopify app deploy" in capsys.readouterr().out
    # Never overwrites a folder in use.
    assert cli.main(["app-folder", str(target), "--url", "https://x.org", "--client-id", "a"]) == 2
    assert "not empty" in capsys.readouterr().err
