"""Order journeys built from the catalog's models, ingested the way integrations do."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from cx_sdk.events import (
    Message,
    OrderCompleted,
    OrderPaid,
    OrderRefunded,
    ReturnRequested,
    ShipmentCreated,
    ShipmentDelivered,
    ShipmentStatusUpdated,
)
from cx_sdk.privacy import hash_email
from cx_sdk.server import Store

EMAIL = "erika.musterfrau@example.de"
T0 = datetime(2026, 11, 10, 9, 30, tzinfo=UTC)


def placed(
    order_id: str = "5001",
    number: str = "#1001",
    email: str = EMAIL,
    user_id: str | None = "cust-1",
    at: datetime = T0,
    product_name: str = "Wanderschuh Alpin",
    **extra: Any,
) -> list[Message]:
    identity: dict[str, Any] = {"user_id": user_id} if user_id else {"anonymous_id": "anon-1"}
    return [
        OrderCompleted(
            **identity,
            timestamp=at,
            properties={
                "order_id": order_id,
                "order_number": number,
                "email_hash": hash_email(email),
                "total": "89.90",
                "currency": "EUR",
                "products": [{"product_id": "sku-1", "name": product_name, "price": "89.90"}],
                **extra,
            },
        ),
        OrderPaid(
            **identity,
            timestamp=at + timedelta(minutes=2),
            properties={"order_id": order_id, "currency": "EUR"},
        ),
    ]


def shipped(
    order_id: str = "5001",
    shipment_id: str = "sh-1",
    carrier: str = "DHL",
    at: datetime = T0 + timedelta(days=1),
    promised: str = "2026-11-14",
    estimated: str = "2026-11-13",
    url: str = "https://www.dhl.de/de/privatkunden.html?piececode=00340434161094042557",
    user_id: str | None = "cust-1",
) -> list[Message]:
    identity: dict[str, Any] = {"user_id": user_id} if user_id else {"anonymous_id": "anon-1"}
    return [
        ShipmentCreated(
            **identity,
            timestamp=at,
            properties={
                "order_id": order_id,
                "shipment_id": shipment_id,
                "carrier": carrier,
                "tracking_number": "00340434161094042557",
                "tracking_url": url,
                "promised_delivery_date": promised,
                "estimated_delivery_date": estimated,
            },
        )
    ]


def status(
    status: str,
    at: datetime,
    order_id: str = "5001",
    shipment_id: str = "sh-1",
    city: str | None = "Leipzig",
    message: str | None = None,
    estimated: str | None = None,
) -> list[Message]:
    properties: dict[str, Any] = {
        "order_id": order_id,
        "shipment_id": shipment_id,
        "status": status,
        "status_at": at,
    }
    if city:
        properties["location"] = {"city": city, "country": "DE"}
    if message:
        properties["message"] = message
    if estimated:
        properties["estimated_delivery_date"] = estimated
    return [ShipmentStatusUpdated(user_id="cust-1", timestamp=at, properties=properties)]


def delivered(
    at: datetime, order_id: str = "5001", shipment_id: str = "sh-1", user_id: str | None = "cust-1"
) -> list[Message]:
    identity: dict[str, Any] = {"user_id": user_id} if user_id else {"anonymous_id": "anon-1"}
    return [
        ShipmentDelivered(
            **identity,
            timestamp=at,
            properties={"order_id": order_id, "shipment_id": shipment_id, "status_at": at},
        )
    ]


def refunded(amount: str, at: datetime, order_id: str = "5001") -> list[Message]:
    return [
        OrderRefunded(
            user_id="cust-1",
            timestamp=at,
            properties={"order_id": order_id, "amount": amount, "currency": "EUR"},
        )
    ]


def return_requested(at: datetime, order_id: str = "5001", note: str = "") -> list[Message]:
    return [
        ReturnRequested(
            user_id="cust-1",
            timestamp=at,
            properties={"order_id": order_id, "return_id": "r-1", "note": note or None},
        )
    ]


def ingest(store: Store, shop_id: str, *groups: list[Message]) -> None:
    messages = [message.to_wire() for group in groups for message in group]
    result = store.ingest(shop_id, messages)
    assert not result.rejected, result.rejected


def full_journey(store: Store, shop_id: str) -> None:
    """Placed, paid, shipped with DHL, in transit, out for delivery, delivered."""
    ingest(
        store,
        shop_id,
        placed(),
        shipped(),
        status("in_transit", T0 + timedelta(days=1, hours=6)),
        status("out_for_delivery", T0 + timedelta(days=3, hours=1), city="München"),
        delivered(T0 + timedelta(days=3, hours=5)),
    )
