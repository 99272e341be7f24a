"""Order and shipment projections, updated on ingest so widgets never scan the event log.

A batch is applied in memory against the rows it touches (one read, one write per table):
deliveries come late, repeated and reordered, so statuses only move forward and a
shipment's status only changes for a newer ``status_at``.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from babel.numbers import get_currency_precision
from sqlalchemy import Connection, Table, bindparam, select

from ..events.fields import read_iso_utc
from .clock import naive_utc
from .ingest_rules import Prepared
from .tables import order_timeline, orders, profiles, shipments

Upsert = Callable[[Connection, Table, Sequence[dict[str, Any]], Sequence[str], Sequence[str]], None]

# Order statuses never move backwards: a late "paid" does not undo a refund.
STATUS_RANK = {
    "open": 0,
    "placed": 1,
    "paid": 2,
    "partially_refunded": 3,
    "refunded": 4,
    "cancelled": 4,
}
RETURN_STATUS = {
    "Return Requested": "requested",
    "Return Approved": "approved",
    "Return Declined": "declined",
    "Return Shipment Created": "in_transit",
    "Return Received": "received",
    "Return Closed": "closed",
}
SHIPMENT_EVENTS = frozenset({"Shipment Created", "Shipment Status Updated", "Shipment Delivered"})
ORDER_EVENTS = frozenset(
    {
        "Order Completed",
        "Order Paid",
        "Order Cancelled",
        "Order Refunded",
        "Order Updated",
        "Payment Failed",
        *SHIPMENT_EVENTS,
        *RETURN_STATUS,
    }
)
# Properties worth keeping on a timeline entry (what a tracking page shows).
TIMELINE_FIELDS = (
    "amount",
    "currency",
    "reason",
    "refund_type",
    "carrier",
    "tracking_number",
    "tracking_url",
    "location",
    "message",
    "raw_status",
    "return_id",
    "estimated_delivery_date",
)
SHIPMENT_FIELDS = (
    "carrier",
    "tracking_number",
    "tracking_url",
    "promised_delivery_date",
    "estimated_delivery_date",
)


def money_text(value: Any, currency: str | None) -> str | None:
    """Exact amount as text with the currency's minor units (2 for EUR, 0 for JPY)."""
    if value is None:
        return None
    amount = Decimal(str(value))
    if currency:
        try:
            amount = amount.quantize(Decimal(1).scaleb(-get_currency_precision(currency)))
        except (InvalidOperation, ValueError):
            pass
    return str(amount)


def status_time(props: dict[str, Any], default: datetime) -> datetime:
    """When a shipment status happened (carrier time), else when the event did; naive UTC."""
    raw = props.get("status_at")
    moment = read_iso_utc(raw) if isinstance(raw, str) else None
    return default if moment is None else naive_utc(moment)


def _some(table: Table, column: str, *columns: Any) -> Any:
    """SELECT the rows of a shop whose ``column`` is in a list, built once: a statement
    object reused is compiled once, one built per batch costs more than the read."""
    return select(*(columns or (table,))).where(
        table.c.shop_id == bindparam("shop"),
        table.c[column].in_(bindparam("ids", expanding=True)),
    )


_ORDERS = _some(orders, "order_id")
_SHIPMENTS = _some(shipments, "shipment_id")
_EMAIL_HASHES = _some(profiles, "user_id", profiles.c.user_id, profiles.c.email_hash)


def project(conn: Connection, shop_id: str, fresh: Sequence[Prepared], upsert: Upsert) -> None:
    items = [
        item
        for item in fresh
        if item.event in ORDER_EVENTS and (item.wire.get("properties") or {}).get("order_id")
    ]
    if not items:
        return
    order_ids = {str(item.wire["properties"]["order_id"]) for item in items}
    rows: dict[str, dict[str, Any]] = {
        row.order_id: dict(row._mapping)
        for row in conn.execute(_ORDERS, {"shop": shop_id, "ids": list(order_ids)})
    }
    shipment_ids = {
        str(item.wire["properties"]["shipment_id"])
        for item in items
        if item.event in SHIPMENT_EVENTS and item.wire["properties"].get("shipment_id")
    }
    shipment_rows: dict[str, dict[str, Any]] = (
        {
            row.shipment_id: dict(row._mapping)
            for row in conn.execute(_SHIPMENTS, {"shop": shop_id, "ids": list(shipment_ids)})
        }
        if shipment_ids
        else {}
    )
    timeline: list[dict[str, Any]] = []
    returns_touched: set[str] = set()
    for item in items:
        props = item.wire["properties"]
        order_id = str(props["order_id"])
        row = rows.setdefault(
            order_id,
            {
                "shop_id": shop_id,
                "order_id": order_id,
                "status": "open",
                "updated_at": item.timestamp,
            },
        )
        _apply_order_event(row, item, props)
        name = item.event or ""
        if name in RETURN_STATUS:
            returns_touched.add(order_id)
        shipment_id = props.get("shipment_id")
        if name in SHIPMENT_EVENTS and shipment_id:
            shipment = shipment_rows.setdefault(
                str(shipment_id),
                {
                    "shop_id": shop_id,
                    "shipment_id": str(shipment_id),
                    "order_id": order_id,
                    "status": "pending",
                    "status_at": None,
                },
            )
            _apply_shipment_event(shipment, item, props, row.get("user_id"))
        timeline.append(
            {
                "shop_id": shop_id,
                "order_id": order_id,
                "user_id": row.get("user_id") or item.user_id,
                "message_id": item.message_id,
                "event": name,
                "shipment_id": str(shipment_id) if shipment_id else None,
                "status": props.get("status") or RETURN_STATUS.get(name),
                "at": status_time(props, item.timestamp),
                "data": {key: props[key] for key in TIMELINE_FIELDS if props.get(key) is not None},
            }
        )
    _fill_email_hashes(conn, shop_id, rows)
    upsert(conn, order_timeline, timeline, ("shop_id", "message_id"), ())
    for order_id in returns_touched:
        _newest_return_status(conn, shop_id, rows[order_id])
    for row in rows.values():
        row["revision"] = secrets.token_hex(8)
    save_rows(conn, orders, rows.values(), upsert)
    save_rows(conn, shipments, shipment_rows.values(), upsert)


def save_rows(
    conn: Connection, table: Table, rows: Iterable[dict[str, Any]], upsert: Upsert
) -> None:
    """Write whole projection rows, replacing what is stored under their primary key."""
    keys = [column.name for column in table.primary_key.columns]
    names = [column.name for column in table.columns]
    upsert(
        conn,
        table,
        [{name: row.get(name) for name in names} for row in rows],
        keys,
        [name for name in names if name not in keys],
    )


def _apply_order_event(row: dict[str, Any], item: Prepared, props: dict[str, Any]) -> None:
    at = item.timestamp
    row["user_id"] = row.get("user_id") or item.user_id
    row["anonymous_id"] = row.get("anonymous_id") or item.anonymous_id
    for key in ("order_number", "email_hash", "currency"):
        if props.get(key):
            row[key] = str(props[key])
    name = item.event
    currency = row.get("currency")
    new_status: str | None = None
    if name == "Order Completed":
        row["placed_at"] = at
        row["total"] = money_text(props.get("total") or props.get("revenue"), currency)
        new_status = "placed"
    elif name == "Order Updated":
        total = props.get("total") or props.get("revenue")
        if total is not None:
            row["total"] = money_text(total, currency)
    elif name == "Order Paid":
        row["paid_at"] = row.get("paid_at") or at
        new_status = "paid"
    elif name == "Order Cancelled":
        row["cancelled_at"] = at
        new_status = "cancelled"
    elif name == "Order Refunded":
        refunded = Decimal(row.get("refunded") or "0") + Decimal(str(props.get("amount", 0)))
        row["refunded"] = money_text(refunded, currency)
        total = Decimal(row["total"]) if row.get("total") else None
        full = props.get("refund_type") == "full" or (total is not None and refunded >= total)
        new_status = "refunded" if full else "partially_refunded"
    if new_status and STATUS_RANK[new_status] >= STATUS_RANK.get(row["status"], 0):
        row["status"] = new_status
    row["updated_at"] = max(row["updated_at"], at)


def _apply_shipment_event(
    row: dict[str, Any], item: Prepared, props: dict[str, Any], user_id: str | None
) -> None:
    at = status_time(props, item.timestamp)
    row["user_id"] = row.get("user_id") or user_id
    for key in SHIPMENT_FIELDS:
        if props.get(key) is not None:
            row[key] = str(props[key])
    status = props.get("status")
    if item.event == "Shipment Delivered":
        status = "delivered"
    if item.event == "Shipment Created":
        row["shipped_at"] = row.get("shipped_at") or at
    # An older status never overwrites a newer one.
    if status and (row["status_at"] is None or at >= row["status_at"]):
        row["status"] = status
        row["raw_status"] = props.get("raw_status")
        row["status_at"] = at
    if status == "delivered":
        row["delivered_at"] = row.get("delivered_at") or at
    if row["status_at"] is None:
        row["status_at"] = at


def _fill_email_hashes(conn: Connection, shop_id: str, rows: dict[str, dict[str, Any]]) -> None:
    """An order placed by a known customer can be looked up with that customer's email."""
    missing = {
        row["user_id"] for row in rows.values() if row.get("user_id") and not row.get("email_hash")
    }
    if not missing:
        return
    hashes = {
        profile.user_id: profile.email_hash
        for profile in conn.execute(_EMAIL_HASHES, {"shop": shop_id, "ids": list(missing)})
    }
    for row in rows.values():
        if not row.get("email_hash") and row.get("user_id") in hashes:
            row["email_hash"] = hashes[row["user_id"]]


def _newest_return_status(conn: Connection, shop_id: str, row: dict[str, Any]) -> None:
    """The return state is that of the newest return event, whatever order they came in."""
    newest = conn.execute(
        select(order_timeline.c.event)
        .where(
            order_timeline.c.shop_id == shop_id,
            order_timeline.c.order_id == row["order_id"],
            order_timeline.c.event.in_(list(RETURN_STATUS)),
        )
        .order_by(order_timeline.c.at.desc(), order_timeline.c.id.desc())
        .limit(1)
    ).first()
    if newest is not None:
        row["return_status"] = RETURN_STATUS[newest.event]
