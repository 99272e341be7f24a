"""From the order projection to what the tracking widget shows. Pure: no I/O, no texts (the
template owns every word, so both languages live in the catalogs)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any
from urllib.parse import urlsplit

from ...events.fields import read_iso_date
from ...server.projections import RETURN_STATUS as RETURN_EVENTS
from ...server.store import OrderView, ShipmentView

# Statuses that need an explanation for the shopper.
PROBLEM_STATUSES = frozenset({"attempt_fail", "exception", "expired", "available_for_pickup"})
REFUND_EVENTS = frozenset({"Order Refunded"})


def safe_url(value: str | None) -> str | None:
    """Only http(s) links are rendered; ``javascript:`` and friends are dropped."""
    if not value:
        return None
    parts = urlsplit(value.strip())
    if parts.scheme.lower() not in ("http", "https") or not parts.netloc:
        return None
    return value.strip()


def _money(value: Any) -> Decimal | None:
    try:
        return None if value is None else Decimal(str(value))
    except InvalidOperation:
        return None


@dataclass(frozen=True)
class Step:
    """One line of the timeline. ``kind`` is a status of the taxonomy or placed/paid/shipped/
    cancelled/return_*/refund."""

    kind: str
    at: datetime | None
    place: str | None = None
    message: str | None = None
    amount: Decimal | None = None
    currency: str | None = None
    problem: bool = False


@dataclass(frozen=True)
class ShipmentBlock:
    shipment_id: str
    status: str
    carrier: str | None
    tracking_number: str | None
    tracking_url: str | None
    promised: date | None
    estimated: date | None
    delivered_at: datetime | None
    # on_time, late, delivered_on_time, delivered_late or None when nothing was promised.
    punctuality: str | None
    problem: str | None
    has_carrier_events: bool
    steps: list[Step] = field(default_factory=list)


@dataclass(frozen=True)
class TrackingView:
    order_ref: str
    status: str
    total: Decimal | None
    currency: str | None
    steps: list[Step]
    shipments: list[ShipmentBlock]
    return_status: str | None
    refunded: Decimal | None


def _chronological(step: Step) -> tuple[bool, float]:
    return (step.at is None, step.at.timestamp() if step.at else 0.0)


def _place(entry: dict[str, Any]) -> str | None:
    location = entry.get("location")
    if not isinstance(location, dict):
        return None
    parts = [location.get(key) for key in ("city", "region", "country")]
    text = ", ".join(str(part) for part in parts if part)
    return text or None


def punctuality(shipment: ShipmentView, today: date) -> str | None:
    promised = read_iso_date(shipment.promised_delivery_date)
    if promised is None:
        return None
    if shipment.delivered_at is not None:
        delivered = shipment.delivered_at.date()
        return "delivered_on_time" if delivered <= promised else "delivered_late"
    estimated = read_iso_date(shipment.estimated_delivery_date)
    if (estimated is not None and estimated > promised) or today > promised:
        return "late"
    return "on_time"


def _shipment(shipment: ShipmentView, today: date) -> ShipmentBlock:
    steps: list[Step] = []
    carrier_events = 0
    for entry in shipment.events:
        status = entry.get("status")
        if entry.get("event") == "Shipment Created":
            steps.append(Step("shipped", entry.get("at"), _place(entry), entry.get("message")))
            continue
        if entry.get("event") == "Shipment Delivered":
            status = "delivered"
        if not status:
            continue
        carrier_events += 1
        steps.append(
            Step(
                str(status),
                entry.get("at"),
                _place(entry),
                entry.get("message"),
                problem=status in PROBLEM_STATUSES,
            )
        )
    if not any(step.kind == "shipped" for step in steps) and shipment.shipped_at is not None:
        steps.insert(0, Step("shipped", shipment.shipped_at))
    steps.sort(key=_chronological)
    return ShipmentBlock(
        shipment_id=shipment.shipment_id,
        status=shipment.status,
        carrier=shipment.carrier,
        tracking_number=shipment.tracking_number,
        tracking_url=safe_url(shipment.tracking_url),
        promised=read_iso_date(shipment.promised_delivery_date),
        estimated=read_iso_date(shipment.estimated_delivery_date),
        delivered_at=shipment.delivered_at,
        punctuality=punctuality(shipment, today),
        problem=shipment.status if shipment.status in PROBLEM_STATUSES else None,
        has_carrier_events=carrier_events > 0,
        steps=steps,
    )


def headline_status(order: OrderView) -> str:
    """The one word the summary shows: what the shopper waits for, not the payment state."""
    if order.status in ("cancelled", "refunded", "partially_refunded") or not order.shipments:
        return order.status
    if all(s.status == "delivered" for s in order.shipments):
        return "delivered"
    latest = max(order.shipments, key=lambda s: s.status_at)
    return "shipped" if latest.status in ("pending", "delivered") else latest.status


def build(order: OrderView, today: date) -> TrackingView:
    steps: list[Step] = []
    if order.placed_at is not None:
        steps.append(Step("placed", order.placed_at))
    if order.paid_at is not None:
        steps.append(Step("paid", order.paid_at))
    if order.cancelled_at is not None:
        steps.append(Step("cancelled", order.cancelled_at, problem=True))
    for entry in order.timeline:
        name = entry.get("event")
        if name in RETURN_EVENTS:
            steps.append(Step(f"return_{RETURN_EVENTS[name]}", entry.get("at"), None))
        elif name in REFUND_EVENTS:
            steps.append(
                Step(
                    "refund",
                    entry.get("at"),
                    amount=_money(entry.get("amount")),
                    currency=entry.get("currency") or order.currency,
                )
            )
    steps.sort(key=_chronological)
    refunded = _money(order.refunded)
    return TrackingView(
        order_ref=order.order_number or order.order_id,
        status=headline_status(order),
        total=_money(order.total),
        currency=order.currency,
        steps=steps,
        shipments=[_shipment(shipment, today) for shipment in order.shipments],
        return_status=order.return_status,
        refunded=refunded if refunded else None,
    )
