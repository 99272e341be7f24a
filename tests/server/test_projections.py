"""The order projection widgets read: late and reordered deliveries never win."""

from __future__ import annotations

from cx_sdk.server import CreatedShop, Store

from .helpers import order_completed, track


def _shipment(event: str, status: str, at: str, **extra: object) -> dict:
    props = {"order_id": "1001", "shipment_id": "s1", "status": status, "status_at": at, **extra}
    return track(event, props, timestamp=at)


def test_order_story_in_any_order_ends_in_the_newest_state(store: Store, shop: CreatedShop) -> None:
    placed = order_completed(
        properties={
            "order_id": "1001",
            "order_number": "#1001",
            "total": "100.00",
            "currency": "EUR",
        }
    )
    paid = track(
        "Order Paid", {"order_id": "1001", "currency": "EUR"}, timestamp="2026-11-20T10:05:00Z"
    )
    created = _shipment(
        "Shipment Created",
        "info_received",
        "2026-11-21T08:00:00Z",
        carrier="DHL",
        tracking_number="00340",
        tracking_url="https://dhl.example/00340",
        promised_delivery_date="2026-11-24",
    )
    transit = _shipment("Shipment Status Updated", "in_transit", "2026-11-21T18:00:00Z")
    delivered = _shipment("Shipment Delivered", "delivered", "2026-11-23T11:00:00Z")
    refund = track(
        "Order Refunded",
        {"order_id": "1001", "amount": "30.00", "currency": "EUR", "reason": "damaged"},
        timestamp="2026-11-25T09:00:00Z",
    )
    # Deliveries arrive reordered and repeated.
    for batch in ([delivered, placed], [transit, transit], [refund, created, paid], [delivered]):
        store.ingest(shop.shop.id, batch)
    order = store.get_order(shop.shop.id, "#1001")
    assert order is not None and order.order_id == "1001"
    assert order.status == "partially_refunded"
    assert order.refunded == "30.00" and order.total == "100.00"
    (shipment,) = order.shipments
    assert shipment.status == "delivered"
    assert shipment.carrier == "DHL" and shipment.tracking_number == "00340"
    assert shipment.promised_delivery_date == "2026-11-24"
    assert shipment.delivered_at is not None
    assert [e["status"] for e in shipment.events] == ["info_received", "in_transit", "delivered"]
    assert [e["event"] for e in order.timeline] == [
        "Order Completed",
        "Order Paid",
        "Shipment Created",
        "Shipment Status Updated",
        "Shipment Delivered",
        "Order Refunded",
    ]


def test_full_refund_and_late_paid_keep_refunded(store: Store, shop: CreatedShop) -> None:
    store.ingest(
        shop.shop.id,
        [
            order_completed(properties={"order_id": "7", "total": "20", "currency": "EUR"}),
            track(
                "Order Refunded",
                {"order_id": "7", "amount": "20", "currency": "EUR"},
                timestamp="2026-11-22T00:00:00Z",
            ),
        ],
    )
    store.ingest(shop.shop.id, [track("Order Paid", {"order_id": "7", "currency": "EUR"})])
    order = store.get_order(shop.shop.id, "7")
    assert order is not None and order.status == "refunded"


def test_late_return_event_does_not_overwrite_a_newer_return_state(
    store: Store, shop: CreatedShop
) -> None:
    base = {"order_id": "8", "return_id": "r1"}
    store.ingest(
        shop.shop.id,
        [
            order_completed(properties={"order_id": "8", "currency": "EUR"}),
            track("Return Received", base, timestamp="2026-11-25T00:00:00Z"),
        ],
    )
    store.ingest(shop.shop.id, [track("Return Requested", base, timestamp="2026-11-21T00:00:00Z")])
    order = store.get_order(shop.shop.id, "8")
    assert order is not None and order.return_status == "received"


def test_orders_are_scoped_by_shop(store: Store, shop: CreatedShop) -> None:
    store.ingest(shop.shop.id, [order_completed(properties={"order_id": "1", "currency": "EUR"})])
    other = store.create_shop("Zweiter Laden")
    assert store.get_order(other.shop.id, "1") is None
