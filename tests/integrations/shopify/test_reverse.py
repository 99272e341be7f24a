"""A disposal names only its reverse fulfillment order; the Admin API tells which return it was."""

from __future__ import annotations

import json
from typing import Any

from pytest_httpx import HTTPXMock

from cx_sdk.integrations.shopify import oauth, reverse
from cx_sdk.server import CreatedShop, Settings, Store

from .conftest import DOMAIN, Deliver, fixture

URL = oauth.graphql_url(DOMAIN)
ORDER = "4783296544821"
RETURN = "123134564567890"
RFO = "11111111"


def answer(*returns: tuple[str, list[str]], order: str | None = ORDER) -> dict[str, Any]:
    nodes = [
        {
            "id": f"gid://shopify/Return/{return_id}",
            "reverseFulfillmentOrders": {
                "nodes": [{"id": f"gid://shopify/ReverseFulfillmentOrder/{rfo}"} for rfo in rfos]
            },
        }
        for return_id, rfos in returns
    ]
    order_node = {"id": f"gid://shopify/Order/{order}", "returns": {"nodes": nodes}}
    return {
        "data": {
            "reverseFulfillmentOrder": {
                "id": f"gid://shopify/ReverseFulfillmentOrder/{RFO}",
                "order": order_node if order else None,
            }
        }
    }


def received(store: Store, shop_id: str) -> list[dict[str, Any]]:
    return [event for _, event in store.iter_events(shop_id, event="Return Received")]


def start_return(deliver: Deliver) -> None:
    for topic, name in [
        ("returns/request", "returns_request.json"),
        ("returns/approve", "returns_approve.json"),
    ]:
        assert deliver(topic, fixture(name)).json()["events"] == 1


def test_disposal_is_linked_to_its_return_right_after_the_webhook_is_answered(
    deliver: Deliver, store: Store, shopify_shop: CreatedShop, httpx_mock: HTTPXMock
) -> None:
    shop_id = shopify_shop.shop.id
    start_return(deliver)
    httpx_mock.add_response(url=URL, json=answer((RETURN, [RFO, "11111112"])))
    response = deliver(
        "reverse_fulfillment_orders/dispose", fixture("reverse_fulfillment_orders_dispose.json")
    )
    assert response.status_code == 200
    assert response.json()["events"] == 0  # answered before Shopify is asked
    (event,) = received(store, shop_id)
    assert event["properties"] == {"order_id": ORDER, "return_id": RETURN, "note": "restocked"}
    (request,) = httpx_mock.get_requests()
    sent = json.loads(request.content)
    assert sent["variables"] == {"id": f"gid://shopify/ReverseFulfillmentOrder/{RFO}"}
    assert request.headers["X-Shopify-Access-Token"] == "shpat_x"
    order = store.get_order(shop_id, ORDER)
    assert order is not None
    assert [e["event"] for e in order.timeline][-1] == "Return Received"
    # The sibling reverse fulfillment order is linked too: its disposal needs no question.
    assert store.get_state(shop_id, reverse.KIND, "11111112") == {
        "return_id": RETURN,
        "order_id": ORDER,
    }
    assert reverse.pending(store, shop_id) == []


def test_disposal_waits_while_shopify_refuses_and_the_periodic_job_links_it_later(
    deliver: Deliver,
    store: Store,
    shopify_shop: CreatedShop,
    settings: Settings,
    httpx_mock: HTTPXMock,
) -> None:
    shop_id = shopify_shop.shop.id
    start_return(deliver)
    httpx_mock.add_response(url=URL, status_code=401)
    response = deliver(
        "reverse_fulfillment_orders/dispose", fixture("reverse_fulfillment_orders_dispose.json")
    )
    assert response.status_code == 200
    assert "not linked" in response.json()["note"]
    assert received(store, shop_id) == []
    assert reverse.pending(store, shop_id) == [RFO]

    httpx_mock.add_response(url=URL, json=answer((RETURN, [RFO])))
    assert reverse.link_all(store, settings) == 1
    (event,) = received(store, shop_id)
    assert event["properties"]["return_id"] == RETURN
    assert reverse.pending(store, shop_id) == []
    assert reverse.link_all(store, settings) == 0  # nothing left to ask about


def test_disposal_of_a_return_shopify_does_not_name_stays_pending(
    deliver: Deliver, store: Store, shopify_shop: CreatedShop, httpx_mock: HTTPXMock
) -> None:
    shop_id = shopify_shop.shop.id
    httpx_mock.add_response(url=URL, json=answer(("999", ["5555"])))
    deliver(
        "reverse_fulfillment_orders/dispose", fixture("reverse_fulfillment_orders_dispose.json")
    )
    assert received(store, shop_id) == []
    assert reverse.pending(store, shop_id) == [RFO]


def test_answers_without_an_order_or_with_odd_ids_link_nothing() -> None:
    assert reverse.links_from(answer((RETURN, [RFO]), order=None)["data"]) == {}
    assert reverse.links_from({}) == {}
    assert reverse.links_from({"reverseFulfillmentOrder": {"order": {"id": 5}}}) == {}
    odd = answer((RETURN, [RFO]))["data"]
    odd["reverseFulfillmentOrder"]["order"]["returns"]["nodes"].append(
        {"id": "not-a-gid", "reverseFulfillmentOrders": {"nodes": [{"id": "gid://x/1"}]}}
    )
    assert reverse.links_from(odd) == {RFO: {"return_id": RETURN, "order_id": ORDER}}


def test_customer_redact_also_forgets_the_disposal_links_of_their_orders(
    deliver: Deliver, store: Store, shopify_shop: CreatedShop, httpx_mock: HTTPXMock
) -> None:
    shop_id = shopify_shop.shop.id
    order = fixture("orders_create.json")
    order.update(id=int(ORDER), order_number=4242)
    deliver("orders/create", order)
    start_return(deliver)
    httpx_mock.add_response(url=URL, json=answer((RETURN, [RFO])))
    deliver(
        "reverse_fulfillment_orders/dispose", fixture("reverse_fulfillment_orders_dispose.json")
    )
    assert store.get_state(shop_id, reverse.KIND, RFO) is not None
    redact = fixture("customers_redact.json")
    redact["customer"]["id"] = order["customer"]["id"]
    assert deliver("customers/redact", redact).status_code == 200
    assert store.get_state(shop_id, reverse.KIND, RFO) is None
