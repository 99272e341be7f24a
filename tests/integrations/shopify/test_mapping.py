"""Every Shopify sample payload maps to the expected catalog events, field by field."""

from __future__ import annotations

import copy
import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from cx_sdk.events import parse
from cx_sdk.integrations.shopify import mapping
from cx_sdk.integrations.shopify.mapping import MappingError
from cx_sdk.privacy import hash_email

FIXTURES = Path(__file__).parents[2] / "fixtures" / "shopify"
SHOP = "shop_test"
ORDER = "820982911946154508"
CUSTOMER = "115310627314723954"
LINES = [
    ("788032119674292922", "SKU2006-001", "Aviator sunglasses", 89.99),
    (None, "LENS-PROTECT-2YR", "Lens Protection Plan (2 Year)", 19.99),
    (None, "CASE-LEATHER-PREM", "Premium Leather Case", 24.99),
    ("788032119674292922", "SKU2006-020", "Mid-century lounger", 159.99),
    ("788032119674292922", "SKU2006-035", "Coffee table", 119.99),
]


def load(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((FIXTURES / name).read_text())
    return data


def wire(outcome: mapping.Outcome) -> list[dict[str, Any]]:
    messages = outcome.wire()
    for message in messages:
        parse(message)  # every event is valid against the catalog
    return messages


def expected_products() -> list[dict[str, Any]]:
    out = []
    for product_id, sku, name, price in LINES:
        item: dict[str, Any] = {"sku": sku, "name": name, "price": price, "quantity": 1}
        if product_id:
            item["product_id"] = product_id
        out.append(item)
    return out


def test_orders_create_sample_maps_to_order_completed_and_cancelled() -> None:
    outcome = mapping.map_order(SHOP, "orders/create", load("orders_create.json"), None)
    completed, cancelled = wire(outcome)
    assert completed["event"] == "Order Completed"
    assert completed["userId"] == CUSTOMER
    assert "anonymousId" not in completed
    assert completed["timestamp"] == "2022-01-01T00:00:00.000Z"
    props = completed["properties"]
    assert props == {
        "order_id": ORDER,
        "order_number": "1234",
        "affiliation": "shopify",
        "currency": "USD",
        "total": 404.95,
        "subtotal": 404.95,
        "tax": 0.0,
        "discount": 20.0,
        "shipping": 10.0,
        "products": expected_products(),
        "email_hash": hash_email("jon@example.com"),
        "test": True,
    }
    # The sample is the cancelled order: cancel_reason and cancelled_at are facts too.
    assert cancelled["event"] == "Order Cancelled"
    assert cancelled["properties"]["reason"] == "customer"
    assert cancelled["timestamp"] == "2022-01-01T00:00:00.000Z"
    # financial_status "voided": never paid.
    assert all(m["event"] != "Order Paid" for m in outcome.wire())
    assert "jon@example.com" not in json.dumps(outcome.wire())
    assert outcome.state is not None
    assert outcome.state["who"] == {"user_id": CUSTOMER}
    assert outcome.state["total"] == "404.95"


def test_replayed_order_delivery_emits_nothing_and_keeps_message_ids_stable() -> None:
    order = load("orders_create.json")
    first = mapping.map_order(SHOP, "orders/create", order, None)
    again = mapping.map_order(SHOP, "orders/create", order, first.state)
    assert again.messages == []
    # Without the state (lost, or two workers), the same facts get the same ids.
    fresh = mapping.map_order(SHOP, "orders/create", order, None)
    assert [m.message_id for m in fresh.messages] == [m.message_id for m in first.messages]


def open_order() -> dict[str, Any]:
    order = load("orders_create.json")
    order.update(cancelled_at=None, cancel_reason=None, financial_status="pending")
    return order


def test_orders_paid_adds_order_paid_once() -> None:
    placed = mapping.map_order(SHOP, "orders/create", open_order(), None)
    assert [m.event for m in placed.messages] == ["Order Completed"]  # type: ignore[attr-defined]
    paid_order = {**open_order(), "financial_status": "paid"}
    paid = mapping.map_order(SHOP, "orders/paid", paid_order, placed.state)
    (event,) = wire(paid)
    assert event["event"] == "Order Paid"
    assert event["properties"] == {
        "order_id": ORDER,
        "order_number": "1234",
        "total": 404.95,
        "currency": "USD",
        "test": True,
        "payment_method": "visa,bogus",
    }
    assert mapping.map_order(SHOP, "orders/updated", paid_order, paid.state).messages == []


def test_orders_updated_is_diffed_and_an_older_delivery_never_moves_state_back() -> None:
    placed = mapping.map_order(SHOP, "orders/create", open_order(), None)
    edited = open_order()
    edited["updated_at"] = "2022-01-02T10:00:00-05:00"
    edited["current_total_price"] = "294.96"
    edited["line_items"][4]["current_quantity"] = 0
    updated = mapping.map_order(SHOP, "orders/updated", edited, placed.state)
    (event,) = wire(updated)
    assert event["event"] == "Order Updated"
    assert event["properties"]["total"] == 294.96
    assert event["properties"]["products"][4]["quantity"] == 0
    assert event["timestamp"] == "2022-01-02T15:00:00.000Z"
    assert updated.state is not None
    # Only a cosmetic change (a tag): no event.
    tagged = {**edited, "tags": "vip", "updated_at": "2022-01-03T10:00:00-05:00"}
    assert mapping.map_order(SHOP, "orders/updated", tagged, updated.state).messages == []
    # The older version arrives late: no Order Updated, and the state keeps the newer digest.
    late = mapping.map_order(SHOP, "orders/updated", open_order(), updated.state)
    assert late.messages == []
    assert late.state is not None
    assert late.state["updated_at"] == updated.state["updated_at"]
    assert late.state["digest"] == updated.state["digest"]


def test_refunds_create_sample_maps_to_partial_order_refunded() -> None:
    placed = mapping.map_order(SHOP, "orders/create", open_order(), None)
    outcome = mapping.map_refund(SHOP, load("refunds_create.json"), placed.state)
    (event,) = wire(outcome)
    assert event["event"] == "Order Refunded"
    assert event["userId"] == CUSTOMER
    assert event["properties"] == {
        "order_id": ORDER,
        "refund_id": "890088186047892319",
        "amount": 85.0,  # 75.00 + 10.00 refund transactions
        "currency": "USD",
        "reason": "Things were damaged",
        "refund_type": "partial",
        "products": expected_products(),
    }
    again = mapping.map_refund(SHOP, load("refunds_create.json"), outcome.state)
    assert again.messages == []


def test_refund_inside_a_later_order_update_has_the_same_message_id() -> None:
    placed = mapping.map_order(SHOP, "orders/create", open_order(), None)
    direct = mapping.map_refund(SHOP, load("refunds_create.json"), placed.state)
    order = open_order()
    order["refunds"] = [load("refunds_create.json")]
    via_order = mapping.map_order(SHOP, "orders/updated", order, placed.state)
    refunds = [m for m in via_order.messages if m.event == "Order Refunded"]  # type: ignore[attr-defined]
    assert [m.message_id for m in refunds] == [m.message_id for m in direct.messages]


def test_refund_covering_the_total_is_full() -> None:
    placed = mapping.map_order(SHOP, "orders/create", open_order(), None)
    refund = load("refunds_create.json")
    refund["transactions"][0]["amount"] = "394.95"
    (event,) = wire(mapping.map_refund(SHOP, refund, placed.state))
    assert event["properties"]["amount"] == 404.95
    assert event["properties"]["refund_type"] == "full"


def test_refund_before_its_order_without_currency_is_refused_clearly() -> None:
    refund = load("refunds_create.json")
    for line in refund["refund_line_items"]:
        line.pop("subtotal_set")
    with pytest.raises(MappingError, match="no currency"):
        mapping.map_refund(SHOP, refund, None)


def test_checkouts_create_sample_maps_to_checkout_started_and_later_abandoned() -> None:
    outcome = mapping.map_checkout(SHOP, load("checkouts_create.json"), None)
    (event,) = wire(outcome)
    assert event["event"] == "Checkout Started"
    assert event["userId"] == "603851970716743426"
    props = event["properties"]
    assert props["checkout_id"] == "123123123"
    assert props["cart_id"] == "eeafa272cebfd4b22385bc4b645e762c"
    assert props["currency"] == "USD"
    assert props["total"] == 421.88
    assert props["subtotal"] == 398.0
    assert props["tax"] == 23.88
    assert props["discount"] == 0.0
    assert props["email_hash"] == hash_email("example@email.com")
    assert [p["sku"] for p in props["products"]] == ["IPOD2008PINK", "IPOD2008PINK"]
    assert props["products"][0]["price"] == 199.0
    # checkouts/update with the same body: nothing new.
    assert mapping.map_checkout(SHOP, load("checkouts_create.json"), outcome.state).messages == []
    assert outcome.state is not None
    abandoned = mapping.abandoned_event(SHOP, "123123123", outcome.state).to_wire()
    assert abandoned["event"] == "Checkout Abandoned"
    assert abandoned["properties"]["recovery_url"].startswith("https://checkout.local/")
    assert abandoned["properties"]["total"] == 421.88
    assert abandoned["userId"] == "603851970716743426"


def test_fulfillments_create_sample_maps_to_shipment_created() -> None:
    who = {"user_id": CUSTOMER}
    outcome = mapping.map_fulfillment(SHOP, load("fulfillments_create.json"), None, who)
    (event,) = wire(outcome)
    assert event["event"] == "Shipment Created"
    assert event["userId"] == CUSTOMER
    props = event["properties"]
    assert props == {
        "order_id": ORDER,
        "shipment_id": "123456",
        "status": "pending",
        "carrier": "UPS",
        "tracking_number": "1z827wk74630",
        "tracking_url": "https://www.ups.com/WebTracking?loc=en_US&requester=ST&trackNums=1z827wk74630",
        "products": expected_products(),
    }
    # fulfillments/update with the same body (the page's sample is identical): nothing new.
    again = mapping.map_fulfillment(SHOP, load("fulfillments_create.json"), outcome.state, who)
    assert again.messages == []


def test_fulfillment_events_create_sample_maps_to_shipment_status_updated() -> None:
    created = mapping.map_fulfillment(SHOP, load("fulfillments_create.json"), None, None)
    outcome = mapping.map_fulfillment_event(
        SHOP, load("fulfillment_events_create.json"), created.state, None
    )
    (event,) = wire(outcome)
    assert event["event"] == "Shipment Status Updated"
    assert event["anonymousId"] == f"shopify-order-{ORDER}"
    assert event["properties"] == {
        "order_id": ORDER,
        "shipment_id": "123456",
        "status": "in_transit",
        "raw_status": "in_transit",
        "carrier": "UPS",
        "tracking_number": "1z827wk74630",
        "tracking_url": "https://www.ups.com/WebTracking?loc=en_US&requester=ST&trackNums=1z827wk74630",
        "status_at": "2022-01-01T00:00:00.000Z",
        "location": {"country": "CA"},
        "message": "Item is now in transit",
    }


@pytest.mark.parametrize(
    ("raw", "event", "status"),
    [
        ("label_printed", "Shipment Status Updated", "info_received"),
        ("confirmed", "Shipment Status Updated", "info_received"),
        ("in_transit", "Shipment Status Updated", "in_transit"),
        ("out_for_delivery", "Shipment Status Updated", "out_for_delivery"),
        ("attempted_delivery", "Shipment Status Updated", "attempt_fail"),
        ("ready_for_pickup", "Shipment Status Updated", "available_for_pickup"),
        ("delayed", "Shipment Status Updated", "exception"),
        ("failure", "Shipment Status Updated", "exception"),
        ("something_new", "Shipment Status Updated", "exception"),
        ("delivered", "Shipment Delivered", "delivered"),
        ("picked_up", "Shipment Delivered", "delivered"),
    ],
)
def test_shipment_status_table(raw: str, event: str, status: str) -> None:
    payload = load("fulfillment_events_create.json")
    payload.update(status=raw, estimated_delivery_at="2022-01-04T12:00:00-05:00")
    (message,) = wire(mapping.map_fulfillment_event(SHOP, payload, None, None))
    assert message["event"] == event
    assert message["properties"]["status"] == status
    assert message["properties"]["raw_status"] == raw
    assert message["properties"]["estimated_delivery_date"] == "2022-01-04"


def test_same_status_from_fulfillment_update_and_fulfillment_event_is_one_fact() -> None:
    fulfillment = load("fulfillments_create.json")
    created = mapping.map_fulfillment(SHOP, fulfillment, None, None)
    step = mapping.map_fulfillment_event(
        SHOP, load("fulfillment_events_create.json"), created.state, None
    )
    update = {**fulfillment, "shipment_status": "in_transit"}
    fresh = mapping.map_fulfillment(SHOP, update, created.state, None)
    assert [m.message_id for m in fresh.messages] == [m.message_id for m in step.messages]


def test_older_fulfillment_event_does_not_move_the_stored_status_back() -> None:
    delivered = load("fulfillment_events_create.json")
    delivered.update(status="delivered", happened_at="2022-01-03T10:00:00-05:00")
    first = mapping.map_fulfillment_event(SHOP, delivered, None, None)
    late = mapping.map_fulfillment_event(
        SHOP, load("fulfillment_events_create.json"), first.state, None
    )
    assert [m.event for m in late.messages] == ["Shipment Status Updated"]  # type: ignore[attr-defined]
    assert late.state is not None
    assert late.state["status"] == "delivered"


@pytest.mark.parametrize(
    ("topic", "name", "event", "extra"),
    [
        ("returns/request", "returns_request.json", "Return Requested", {"status": "requested"}),
        ("returns/approve", "returns_approve.json", "Return Approved", {"status": "open"}),
        (
            "returns/decline",
            "returns_decline.json",
            "Return Declined",
            {
                "status": "declined",
                "reason": "return_period_ended",
                "note": "As discussed on the phone, the 30-day return window has ended.",
            },
        ),
        ("returns/close", "returns_close.json", "Return Closed", {"status": "closed"}),
        ("returns/cancel", "returns_close.json", "Return Closed", {"reason": "cancelled"}),
        ("returns/reopen", "returns_close.json", "Return Approved", {"note": "reopened"}),
    ],
)
def test_return_samples_map_to_return_events(
    topic: str, name: str, event: str, extra: dict[str, Any]
) -> None:
    outcome = mapping.map_return(SHOP, topic, load(name), None, None, "evt-1")
    (message,) = wire(outcome)
    assert message["event"] == event
    assert message["anonymousId"] == "shopify-order-4783296544821"
    props = message["properties"]
    assert props["order_id"] == "4783296544821"
    assert props["return_id"] == "123134564567890"
    for key, value in extra.items():
        assert props[key] == value
    assert outcome.state == {"order_id": "4783296544821", "status": props.get("status")}


def test_reverse_delivery_sample_maps_to_return_shipment_created_once_the_return_is_known() -> None:
    payload = load("reverse_deliveries_attach_deliverable.json")
    unknown = mapping.map_reverse_delivery(SHOP, payload, None, None)
    assert unknown.messages == []
    assert "not known" in unknown.note
    known = mapping.map_reverse_delivery(SHOP, payload, {"order_id": "4783296544821"}, None)
    (message,) = wire(known)
    assert message["event"] == "Return Shipment Created"
    assert message["properties"] == {
        "order_id": "4783296544821",
        "return_id": "123134564567890",
        "carrier": "USPS",
        "tracking_number": "123345345",
    }


def test_disposal_sample_maps_to_return_received_only_when_linked() -> None:
    payload = load("reverse_fulfillment_orders_dispose.json")
    unlinked = mapping.map_disposal(SHOP, payload, None, None)
    assert unlinked.messages == []
    assert "not linked" in unlinked.note
    link = {"return_id": "123134564567890", "order_id": "4783296544821"}
    (message,) = wire(mapping.map_disposal(SHOP, payload, link, None))
    assert message["event"] == "Return Received"
    assert message["properties"] == {
        "order_id": "4783296544821",
        "return_id": "123134564567890",
        "note": "restocked",
    }


def test_customer_update_identifies_with_hashed_email_only() -> None:
    customer = load("orders_create.json")["customer"]
    (message,) = wire(mapping.map_customer(SHOP, "customers/update", customer))
    assert message["type"] == "identify"
    assert message["userId"] == CUSTOMER
    assert message["traits"]["email_hash"] == hash_email("john@example.com")
    assert "john@example.com" not in json.dumps(message)
    assert "first_name" not in message["traits"]


def test_email_marketing_consent_maps_to_consent_updated() -> None:
    payload = {
        "customer_id": 706405506930370084,
        "email_address": "bob@biller.com",
        "email_marketing_consent": {
            "state": "subscribed",
            "opt_in_level": "confirmed_opt_in",
            "consent_updated_at": "2022-01-01T00:00:00-05:00",
        },
    }
    topic = "customers_email_marketing_consent/update"
    (message,) = wire(mapping.map_customer(SHOP, topic, payload))
    assert message["event"] == "Consent Updated"
    assert message["userId"] == "706405506930370084"
    assert message["properties"]["categories"] == {"email_marketing": True}
    assert "bob@biller.com" not in json.dumps(message)


@pytest.mark.parametrize(
    ("change", "match"),
    [
        ({"id": None}, "order id"),
        ({"currency": None}, "no currency"),
        ({"currency": "XYZ1"}, "not a valid event"),
        ({"total_price": "12,5"}, "total_price"),
    ],
)
def test_bad_order_payloads_are_clear_mapping_errors(change: dict[str, Any], match: str) -> None:
    order = copy.deepcopy(open_order())
    order.update(change)
    with pytest.raises(MappingError, match=match):
        mapping.map_order(SHOP, "orders/create", order, None)


def test_ids_beyond_two_to_the_53_stay_exact() -> None:
    order = open_order()
    assert order["id"] > 2**53
    (event,) = mapping.map_order(SHOP, "orders/create", order, None).wire()
    assert event["properties"]["order_id"] == ORDER
    assert Decimal(str(event["properties"]["total"])) == Decimal("404.95")


def test_cancelled_fulfillment_becomes_an_exception_with_raw_status_cancelled() -> None:
    created = mapping.map_fulfillment(SHOP, load("fulfillments_create.json"), None, None)
    cancelled = {**load("fulfillments_create.json"), "status": "cancelled"}
    (event,) = wire(mapping.map_fulfillment(SHOP, cancelled, created.state, None))
    assert event["event"] == "Shipment Status Updated"
    assert event["properties"]["status"] == "exception"
    assert event["properties"]["raw_status"] == "cancelled"


def test_fulfillments_inside_an_order_update_create_their_shipments_once() -> None:
    order = open_order()
    order["fulfillments"] = [load("fulfillments_create.json")]
    outcome = mapping.map_order(SHOP, "orders/updated", order, None)
    shipments = [m for m in wire(outcome) if m["event"] == "Shipment Created"]
    assert [s["properties"]["shipment_id"] for s in shipments] == ["123456"]
    assert shipments[0]["userId"] == CUSTOMER
    direct = mapping.map_fulfillment(
        SHOP, load("fulfillments_create.json"), None, {"user_id": CUSTOMER}
    )
    assert direct.messages[0].message_id == shipments[0]["messageId"]
    assert mapping.map_order(SHOP, "orders/updated", order, outcome.state).messages == []
