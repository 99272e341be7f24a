"""WooCommerce payloads → catalog events, asserted field by field on the real fixtures."""

from __future__ import annotations

import copy
import itertools
import json
import random
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from cx_sdk.events import parse
from cx_sdk.integrations.woocommerce import mapping
from cx_sdk.integrations.woocommerce.mapping import (
    MappingConfig,
    MappingError,
    map_customer,
    map_delivery,
    map_order,
    map_order_deleted,
)
from cx_sdk.privacy import hash_email

FIXTURES = Path(__file__).parents[2] / "fixtures" / "woocommerce"
SHOP = "shop-wc"
LIBRARY = {"library": {"name": "cx-woocommerce", "version": "1"}}


def load(name: str) -> Any:
    return json.loads((FIXTURES / name).read_text())


def order_723() -> dict[str, Any]:
    order: dict[str, Any] = load("orders_v3_list_727_723.json")[1]
    assert order["id"] == 723
    return order


def by_event(wire: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    out: dict[str, list[dict[str, Any]]] = {}
    for message in wire:
        out.setdefault(message.get("event", message["type"]), []).append(message)
    return out


def test_order_727_processing_guest_maps_to_placed_and_paid() -> None:
    outcome = map_order(SHOP, load("order_v3_retrieve_727.json"), None)
    wire = outcome.wire()
    assert [m["event"] for m in wire] == ["Order Completed", "Order Paid"]
    placed, paid = wire
    guest = "wc-guest-" + hash_email("john.doe@example.com")[:32]
    assert placed["type"] == "track"
    assert placed["anonymousId"] == guest
    assert "userId" not in placed
    assert placed["timestamp"] == "2017-03-22T19:28:02.000Z"  # date_created_gmt
    assert placed["context"] == LIBRARY
    assert placed["properties"] == {
        "order_id": "727",
        "order_number": "727",
        "affiliation": "woocommerce",
        "currency": "USD",
        "total": 29.35,
        "subtotal": 18.0,
        "shipping": 10.0,
        "tax": 1.35,
        "discount": 0.0,
        "payment_method": "bacs",
        "email_hash": hash_email("john.doe@example.com"),
        "products": [
            {"product_id": "93", "name": "Woo Single #1", "price": 3.0, "quantity": 2},
            {
                "product_id": "22",
                "sku": "Bar3",
                "name": "Ship Your Idea – Color: Black, Size: M Test",
                "variant": "23",
                "price": 12.0,
                "quantity": 1,
            },
        ],
    }
    assert paid["anonymousId"] == guest
    assert paid["timestamp"] == "2017-03-22T19:28:08.000Z"  # date_paid_gmt
    assert paid["properties"] == {
        "order_id": "727",
        "order_number": "727",
        "total": 29.35,
        "currency": "USD",
        "payment_method": "bacs",
    }
    # No PII: neither the address nor the raw email reaches an event.
    text = json.dumps(wire)
    for pii in ("john.doe@example.com", "969 Market", "555", "Doe"):
        assert pii not in text
    # Every event validates against the catalog.
    for message in wire:
        assert parse(message).to_wire() == message
    # No identity in the state (the privacy erase does not reach it).
    assert outcome.state == {
        "facts": ["placed", "paid"],
        "modified": "2017-03-22T19:28:08+00:00",
        "status": "processing",
        "deleted": False,
        "total": "29.35",
    }


def test_money_stays_exact() -> None:
    order = load("order_v3_retrieve_727.json")
    order["total"] = "0.30"
    order["line_items"][0]["subtotal"] = "0.10"
    order["line_items"][0]["quantity"] = 3
    props = mapping.order_properties(order)
    assert props["total"] == Decimal("0.30")
    assert props["products"][0].price == Decimal("0.03")
    assert props["subtotal"] == Decimal("12.10")


def test_order_723_completed_with_two_refunds() -> None:
    wire = map_order(SHOP, order_723(), None).wire()
    assert [m["event"] for m in wire] == [
        "Order Completed",
        "Order Paid",
        "Order Refunded",
        "Order Refunded",
    ]
    for message in wire:
        assert message["userId"] == "26"
        assert "anonymousId" not in message
    placed = wire[0]
    assert placed["timestamp"] == "2017-03-21T19:16:00.000Z"
    assert placed["properties"]["total"] == 39.0
    assert placed["properties"]["products"] == [
        {"product_id": "87", "name": "Woo Album #2", "price": 9.0, "quantity": 1},
        {"product_id": "34", "name": "Woo Ninja", "price": 20.0, "quantity": 1},
    ]
    # Completed without date_paid (bank transfer marked completed): paid at the change.
    assert wire[1]["timestamp"] == "2017-03-21T19:54:51.000Z"
    first, second = wire[2], wire[3]
    assert first["properties"] == {
        "order_id": "723",
        "refund_id": "724",
        "amount": 9.0,
        "currency": "USD",
        "total": 39.0,
        "refund_type": "partial",
    }
    assert second["properties"] == {
        "order_id": "723",
        "refund_id": "726",
        "amount": 10.0,
        "currency": "USD",
        "total": 39.0,
        "refund_type": "partial",
    }


def test_refund_details_from_the_refunds_endpoint_add_time_reason_and_lines() -> None:
    details = {str(r["id"]): r for r in load("order_refunds_v3_list_723.json")}
    single = load("order_refund_v3_retrieve_726.json")
    assert single == details["726"]
    details["726"] = {**single, "reason": "Damaged in transit"}
    wire = map_order(SHOP, order_723(), None, refund_details=details).wire()
    refunds = by_event(wire)["Order Refunded"]
    r724, r726 = refunds
    assert r724["timestamp"] == "2017-03-21T19:55:37.000Z"
    assert r724["properties"]["products"] == [
        {"product_id": "87", "name": "Woo Album #2", "price": 9.0, "quantity": 1}
    ]
    assert r726["timestamp"] == "2017-03-21T20:07:11.000Z"
    assert r726["properties"]["reason"] == "Damaged in transit"
    assert "products" not in r726["properties"]  # amount-only refund


def test_status_notes_time_when_order_723_was_placed_and_paid() -> None:
    history = mapping.status_history(load("order_notes_v3_list_723.json"))
    assert {status: moment.isoformat() for status, moment in history.items()} == {
        "on-hold": "2017-03-21T19:16:46+00:00",
        "completed": "2017-03-21T19:16:58+00:00",
    }
    events = by_event(map_order(SHOP, order_723(), None, history=history).wire())
    # Placed when it went on hold (bank transfer awaited), paid when completed.
    assert events["Order Completed"][0]["timestamp"] == "2017-03-21T19:16:46.000Z"
    assert events["Order Paid"][0]["timestamp"] == "2017-03-21T19:16:58.000Z"
    # The history only refines times: the same facts, the same messageIds.
    plain = map_order(SHOP, order_723(), None).wire()
    assert [m["messageId"] for m in plain] == [
        m["messageId"] for m in map_order(SHOP, order_723(), None, history=history).wire()
    ]


def test_status_notes_in_unknown_words_are_ignored() -> None:
    notes = [
        {"note": "Bestellstatus von Wartend zu Fertig geändert.", "date_created_gmt": "2020-01-01"},
        {"note": "Order status changed from Pending payment to Shipped.", "date_created_gmt": "x"},
        {"note": "Order status changed from A to Completed.", "customer_note": True},
    ]
    assert mapping.status_history(notes) == {}
    german = mapping.status_history(
        [{"note": "Status changed from Wartend to Fertig.", "date_created_gmt": "2020-01-01"}],
        labels={"fertig": "completed"},
    )
    assert list(german) == ["completed"]


def test_refund_of_the_whole_total_is_full() -> None:
    order = order_723()
    order["status"] = "refunded"
    order["refunds"] = [{"id": 800, "reason": "Customer changed mind", "total": "-39.00"}]
    refund = by_event(map_order(SHOP, order, None).wire())["Order Refunded"][0]
    assert refund["properties"]["refund_type"] == "full"
    assert refund["properties"]["amount"] == 39.0
    assert refund["properties"]["reason"] == "Customer changed mind"


def test_edited_totals_of_a_placed_order_are_an_order_update() -> None:
    first = map_order(SHOP, order_723(), None)
    edited = order_723()
    edited.update(total="49.00", date_modified_gmt="2017-03-22T10:00:00")
    edited["line_items"][0]["quantity"] = 2
    edited["line_items"][0]["subtotal"] = "18.00"
    wire = map_order(SHOP, edited, first.state).wire()
    assert [m["event"] for m in wire] == ["Order Updated"]
    assert wire[0]["timestamp"] == "2017-03-22T10:00:00.000Z"
    assert wire[0]["properties"]["total"] == 49.0
    assert wire[0]["properties"]["products"][0] == {
        "product_id": "87",
        "name": "Woo Album #2",
        "price": 9.0,
        "quantity": 2,
    }
    # An older delivery with the old total is not an update back.
    again = map_order(SHOP, edited, first.state)
    later = map_order(SHOP, order_723(), again.state)
    assert later.messages == []


def test_checkout_draft_is_not_an_order() -> None:
    order = load("order_v3_retrieve_727.json")
    order["status"] = "checkout-draft"
    outcome = map_order(SHOP, order, None)
    assert outcome.messages == []
    assert outcome.state is None
    assert "checkout-draft" in outcome.note


def test_pending_order_is_not_placed_yet() -> None:
    order = load("order_v3_retrieve_727.json")
    order.update(status="pending", date_paid_gmt=None)
    outcome = map_order(SHOP, order, None)
    assert outcome.messages == []
    assert outcome.state is not None and outcome.state["status"] == "pending"


def test_failed_then_cancelled() -> None:
    order = load("order_v3_retrieve_727.json")
    order.update(status="failed", date_paid_gmt=None, date_modified_gmt="2017-03-22T19:30:00")
    first = map_order(SHOP, order, None)
    wire = first.wire()
    assert [m["event"] for m in wire] == ["Payment Failed"]
    assert wire[0]["timestamp"] == "2017-03-22T19:30:00.000Z"
    assert wire[0]["properties"] == {
        "order_id": "727",
        "total": 29.35,
        "currency": "USD",
        "payment_method": "bacs",
    }
    order.update(status="cancelled", date_modified_gmt="2017-03-23T08:00:00")
    second = map_order(SHOP, order, first.state).wire()
    assert [m["event"] for m in second] == ["Order Cancelled"]
    assert second[0]["properties"]["order_id"] == "727"
    assert second[0]["timestamp"] == "2017-03-23T08:00:00.000Z"


def test_shipment_tracking_extension_items_map_to_shipments() -> None:
    items = load("shipment_trackings_list_order_198_jetpack_envelope.json")
    order = mapping.with_tracking_items(load("order_v3_retrieve_727.json"), items)
    shipments = by_event(map_order(SHOP, order, None).wire())["Shipment Created"]
    assert [s["properties"] for s in shipments] == [
        {
            "order_id": "727",
            "shipment_id": "b1b94eecb1eb1c1edf3fa041efffd015",
            "status": "info_received",
            "carrier": "USPS",
            "tracking_number": "345645674567",
            "tracking_url": "https://tools.usps.com/go/TrackConfirmAction_input?qtc_tLabels1=345645674567",
        },
        {
            "order_id": "727",
            "shipment_id": "6f2c2fb15474c97eae8ed6287f7f33f9",
            "status": "info_received",
            "carrier": "UPS",
            "tracking_number": "56734563456",
            "tracking_url": "http://wwwapps.ups.com/WebTracking/track?track=yes&trackNums=56734563456",
        },
        {
            "order_id": "727",
            "shipment_id": "6fc204bea3bf7f5565985e1b127a5d8d",
            "status": "info_received",
            "carrier": "Flybynight Courriers",
            "tracking_number": "456345623453454352323452345235",
        },
    ]
    assert [s["timestamp"] for s in shipments] == [
        "2019-02-15T00:00:00.000Z",
        "2019-02-14T00:00:00.000Z",
        "2019-02-11T00:00:00.000Z",
    ]


def test_ast_meta_with_trackship_status_maps_to_status_updates() -> None:
    order = load("order_v3_retrieve_727.json")
    order["meta_data"] += [
        {
            "id": 1,
            "key": "_wc_shipment_tracking_items",
            "value": [
                {
                    "tracking_provider": "dhl",
                    "custom_tracking_provider": "",
                    "custom_tracking_link": "",
                    "tracking_number": "JD0001",
                    "date_shipped": "1700000000",
                    "tracking_id": "abc123",
                }
            ],
        },
        {
            "id": 2,
            "key": "shipment_status",
            "value": [
                {
                    "status": "out_for_delivery",
                    "status_date": "2023-11-16 09:30:00",
                    "est_delivery_date": "2023-11-16",
                }
            ],
        },
    ]
    events = by_event(map_order(SHOP, order, None).wire())
    created = events["Shipment Created"][0]
    assert created["timestamp"] == "2023-11-14T22:13:20.000Z"
    assert created["properties"] == {
        "order_id": "727",
        "shipment_id": "abc123",
        "status": "info_received",
        "carrier": "dhl",
        "tracking_number": "JD0001",
    }
    update = events["Shipment Status Updated"][0]
    assert update["timestamp"] == "2023-11-16T09:30:00.000Z"
    assert update["properties"] == {
        "order_id": "727",
        "shipment_id": "abc123",
        "status": "out_for_delivery",
        "raw_status": "out_for_delivery",
        "carrier": "dhl",
        "tracking_number": "JD0001",
        "status_at": "2023-11-16T09:30:00.000Z",
        "estimated_delivery_date": "2023-11-16",
    }


def test_unknown_trackship_status_becomes_exception_and_keeps_the_raw_value() -> None:
    order = load("order_v3_retrieve_727.json")
    order["meta_data"] += [
        {"key": "_wc_shipment_tracking_items", "value": [{"tracking_number": "X1"}]},
        {"key": "shipment_status", "value": [{"status": "carrier_unsupported"}]},
    ]
    update = by_event(map_order(SHOP, order, None).wire())["Shipment Status Updated"][0]
    assert update["properties"]["status"] == "exception"
    assert update["properties"]["raw_status"] == "carrier_unsupported"
    assert update["properties"]["shipment_id"] == "tracking:X1"


def test_ast_delivered_order_status_delivers_its_parcels() -> None:
    life = life_of_723()
    shipped = life[5]  # tracking added, no TrackShip status
    _, state = replay_state(life[:6])
    delivered = copy.deepcopy(shipped)
    delivered.update(status="wc-delivered", date_modified_gmt="2017-03-24T09:00:00")
    outcome = map_order(SHOP, delivered, state)
    (update,) = outcome.wire()
    assert update["event"] == "Shipment Status Updated"
    assert update["timestamp"] == "2017-03-24T09:00:00.000Z"
    assert update["properties"]["status"] == "delivered"
    assert update["properties"]["shipment_id"] == "t1"
    # TrackShip later reporting "delivered" too is the same fact.
    assert map_order(SHOP, life[6], outcome.state).messages == []


def test_aftership_items_map_to_shipments() -> None:
    order = load("order_v3_retrieve_727.json")
    order["meta_data"].append(
        {
            "key": "_aftership_tracking_items",
            "value": [
                {
                    "slug": "dhl-germany",
                    "tracking_number": "00340434",
                    "tracking_id": "f00d",
                    "additional_fields": {"ship_date": "2024-05-02"},
                    "metrics": {"created_at": "2024-05-02T10:00:00+00:00"},
                }
            ],
        }
    )
    shipment = by_event(map_order(SHOP, order, None).wire())["Shipment Created"][0]
    assert shipment["timestamp"] == "2024-05-02T00:00:00.000Z"
    assert shipment["properties"] == {
        "order_id": "727",
        "shipment_id": "f00d",
        "status": "info_received",
        "carrier": "dhl-germany",
        "tracking_number": "00340434",
    }


def test_rma_statuses_follow_the_configurable_table() -> None:
    order = order_723()
    order.update(status="wc-return-requested", date_modified_gmt="2017-03-25T10:00:00")
    state = map_order(SHOP, order_723(), None).state
    wire = map_order(SHOP, order, state).wire()
    assert [m["event"] for m in wire] == ["Return Requested"]
    assert wire[0]["properties"] == {"order_id": "723", "return_id": "wc-723"}
    custom = MappingConfig.from_state({"return_statuses": {"wc-rma-ok": "Return Approved"}})
    order.update(status="rma-ok", date_modified_gmt="2017-03-26T10:00:00")
    assert [m.to_wire()["event"] for m in map_order(SHOP, order, state, custom).messages] == [
        "Return Approved"
    ]
    # With the custom table the default statuses mean nothing.
    order.update(status="return-requested")
    assert map_order(SHOP, order, state, custom).messages == []


def test_return_table_refuses_unknown_events() -> None:
    with pytest.raises(MappingError, match="unknown event 'Return Lost'"):
        MappingConfig.from_state({"return_statuses": {"lost": "Return Lost"}})


def test_customer_maps_to_identify_with_hashed_email() -> None:
    outcome = map_customer(SHOP, load("customer_v3_retrieve_25.json"), None)
    (message,) = outcome.wire()
    assert message["type"] == "identify"
    assert message["userId"] == "25"
    assert message["timestamp"] == "2017-03-21T19:09:30.000Z"
    assert message["traits"] == {
        "platform": "woocommerce",
        "email_hash": hash_email("john.doe@example.com"),
        "created_at": "2017-03-21T19:09:28+00:00",
        "country": "US",
        "is_paying_customer": False,
    }
    assert "john.doe" not in json.dumps(message)
    assert outcome.state == {"modified": "2017-03-21T19:09:30+00:00"}
    again = map_customer(SHOP, load("customer_v3_retrieve_25.json"), outcome.state)
    assert again.messages == [] and again.state is None


def test_order_deleted_is_recorded_once_for_a_known_order() -> None:
    state = map_order(SHOP, order_723(), None).state
    first = map_order_deleted(SHOP, {"id": 723}, state, {"user_id": "26"})
    (message,) = first.wire()
    assert message["event"] == "Order Deleted"
    assert message["userId"] == "26"
    assert message["properties"] == {"order_id": "723"}
    assert map_order_deleted(SHOP, {"id": 723}, first.state).messages == []
    assert map_order_deleted(SHOP, {"id": 999}, None).messages == []
    # Without a known identity the event is the order's own.
    (anonymous,) = map_order_deleted(SHOP, {"id": 723}, state).wire()
    assert anonymous["anonymousId"] == "wc-order-723"


@pytest.mark.parametrize("topic", ["product.updated", "coupon.created", "customer.deleted"])
def test_unmapped_topics_map_to_nothing(topic: str) -> None:
    outcome = map_delivery(SHOP, topic, {"id": 5}, None)
    assert outcome.messages == [] and outcome.state is None
    assert outcome.note == f"topic {topic!r} is not mapped"


@pytest.mark.parametrize(
    ("payload", "problem"),
    [
        ([], "JSON object"),
        ({"status": "processing"}, "no id"),
        ({"id": 1, "status": "processing"}, "no currency"),
        ({"id": 1, "status": "processing", "currency": "USD", "total": "abc"}, "total"),
        (
            {"id": 1, "status": "processing", "currency": "USD", "line_items": [{"quantity": "x"}]},
            "quantity",
        ),
        (
            {"id": 1, "status": "processing", "currency": "USD", "line_items": [{"quantity": 1.5}]},
            "whole number",
        ),
        ({"id": 1, "status": "processing", "currency": "EURO"}, "currency"),
    ],
)
def test_bad_order_payloads_say_what_is_wrong(payload: Any, problem: str) -> None:
    with pytest.raises(MappingError, match=problem):
        map_delivery(SHOP, "order.updated", payload, None)


def life_of_723() -> list[dict[str, Any]]:
    """Order 723's deliveries in real order: placed on-hold, completed, two refunds,
    tracking added, delivered."""
    base = order_723()
    base["refunds"] = []
    steps: list[dict[str, Any]] = []

    def step(modified: str, **changes: Any) -> None:
        current = copy.deepcopy(steps[-1] if steps else base)
        current.update(changes, date_modified_gmt=modified)
        steps.append(current)

    step("2017-03-21T19:16:00", status="pending", date_completed_gmt=None)
    step("2017-03-21T19:16:46", status="on-hold")
    step("2017-03-21T19:54:51", status="completed")
    step("2017-03-21T19:55:37", refunds=[{"id": 724, "reason": "", "total": "-9.00"}])
    step(
        "2017-03-21T20:07:11",
        refunds=[
            {"id": 726, "reason": "", "total": "-10.00"},
            {"id": 724, "reason": "", "total": "-9.00"},
        ],
    )
    tracking = {"tracking_number": "RR123", "tracking_provider": "dhl", "tracking_id": "t1"}
    meta = [*base["meta_data"], {"key": "_wc_shipment_tracking_items", "value": [tracking]}]
    step("2017-03-22T08:00:00", meta_data=meta)
    delivered = [*meta, {"key": "shipment_status", "value": [{"status": "delivered"}]}]
    step("2017-03-23T12:00:00", meta_data=delivered)
    return steps


EXPECTED_723 = sorted(
    [
        "Order Completed",
        "Order Paid",
        "Order Refunded",
        "Order Refunded",
        "Shipment Created",
        "Shipment Status Updated",
    ]
)


def replay_state(deliveries: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], Any]:
    state: dict[str, Any] | None = None
    emitted: list[dict[str, Any]] = []
    for delivery in deliveries:
        outcome = map_delivery(SHOP, "order.updated", delivery, state)
        emitted += outcome.wire()
        state = outcome.state
    return emitted, state


def replay(deliveries: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return replay_state(deliveries)[0]


def test_replay_of_723_in_order_gives_one_event_per_real_change() -> None:
    emitted = replay(life_of_723())
    assert sorted(m["event"] for m in emitted) == EXPECTED_723
    assert len({m["messageId"] for m in emitted}) == len(emitted)


@pytest.mark.parametrize("seed", range(25))
def test_replay_of_723_with_repeats_and_reordering_gives_one_event_per_real_change(
    seed: int,
) -> None:
    rng = random.Random(seed)
    life = life_of_723()
    deliveries = life + [rng.choice(life) for _ in range(6)]
    rng.shuffle(deliveries)
    emitted = replay(deliveries)
    assert sorted(m["event"] for m in emitted) == EXPECTED_723
    # The same fact has the same messageId whatever delivery carried it.
    assert {m["messageId"] for m in emitted} == {m["messageId"] for m in replay(life)}


def test_older_delivery_never_overwrites_newer_state() -> None:
    life = life_of_723()
    newest = map_order(SHOP, life[-1], None)
    assert newest.state is not None
    stale = map_order(SHOP, life[1], newest.state)
    assert stale.messages == []
    assert stale.state is not None
    assert stale.state["status"] == "completed"
    assert stale.state["modified"] == "2017-03-23T12:00:00+00:00"
    assert "older" in stale.note


def test_every_permutation_of_the_refund_deliveries_is_stable() -> None:
    life = life_of_723()
    for order in itertools.permutations(life[2:5]):
        emitted = replay(list(order))
        refunds = [m for m in emitted if m["event"] == "Order Refunded"]
        assert sorted(r["properties"]["refund_id"] for r in refunds) == ["724", "726"]
