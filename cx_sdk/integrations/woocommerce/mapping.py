"""WooCommerce payloads → catalog events.

WooCommerce's asynchronous delivery can skip, repeat and reorder an order's states, so the
mapping does not translate *deliveries*; it diffs each payload against what was already
emitted for the entity (the stored state) and emits one event per new *fact*: the order was
placed, paid, cancelled, a payment failed, refund N was made, tracking item T was added,
shipment T reached status S, the return reached step R. Every event's messageId derives from
the shop, the order and that fact, so even a lost state or two workers racing on the same
order still store each fact once (the store dedupes on messageId).

The "current" part of the state (status, ``date_modified_gmt``) only moves forward: an older
delivery never overwrites a newer one, though it may still carry a fact not seen before
(a payment that failed before the retry succeeded), which is emitted with its own time.
"""

from __future__ import annotations

import dataclasses
import html
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from ...events import (
    Context,
    Identify,
    Message,
    OrderCancelled,
    OrderCompleted,
    OrderPaid,
    OrderRefunded,
    OrderUpdated,
    PaymentFailed,
    Product,
    ReturnApproved,
    ReturnClosed,
    ReturnDeclined,
    ReturnReceived,
    ReturnRequested,
    ReturnShipmentCreated,
    ShipmentCreated,
    ShipmentStatus,
    ShipmentStatusUpdated,
    Track,
)
from ...events.envelope import Library
from ...events.fields import read_iso_utc
from ...privacy import hash_email
from ..refusals import MappingError as BaseMappingError
from ..refusals import as_mapping_error

PLATFORM = "woocommerce"
LIBRARY = Library(name="cx-woocommerce", version="1")

# Statuses of orders that do not exist yet for the shopper (block checkout drafts, auto drafts).
DRAFT_STATUSES = frozenset({"checkout-draft", "auto-draft", "draft", "new"})
# The order was placed: the shopper finished checkout (awaiting bank transfer counts).
# Advanced Shipment Tracking (AST) adds "partial-shipped" and "delivered" after "completed".
AST_STATUSES = frozenset({"partial-shipped", "delivered"})
PLACED_STATUSES = frozenset({"on-hold", "processing", "completed", "refunded", *AST_STATUSES})
# WooCommerce's own wc_get_is_paid_statuses(), plus AST's later steps.
PAID_STATUSES = frozenset({"processing", "completed", *AST_STATUSES})

RETURN_EVENTS: dict[str, type[Track]] = {
    model.model_fields["event"].default: model
    for model in (
        ReturnRequested,
        ReturnApproved,
        ReturnDeclined,
        ReturnShipmentCreated,
        ReturnReceived,
        ReturnClosed,
    )
}

# Order statuses that common RMA plugins register, and the return step each one means.
# Merchants override it per shop (``cx woocommerce returns --shop ID set STATUS=EVENT``).
DEFAULT_RETURN_STATUSES: dict[str, str] = {
    "return-requested": "Return Requested",
    "return-approved": "Return Approved",
    "return-rejected": "Return Declined",
    "return-declined": "Return Declined",
    "return-shipped": "Return Shipment Created",
    "return-received": "Return Received",
    "return-completed": "Return Closed",
    "returned": "Return Closed",
}

# TrackShip / AST (``shipment_status`` meta) and AfterShip tags → the catalog's taxonomy.
TRACKING_STATUS: dict[str, ShipmentStatus] = {
    "pending_trackship": ShipmentStatus.PENDING,
    "pending": ShipmentStatus.PENDING,
    "unknown": ShipmentStatus.PENDING,
    "pre_transit": ShipmentStatus.INFO_RECEIVED,
    "inforeceived": ShipmentStatus.INFO_RECEIVED,
    "info_received": ShipmentStatus.INFO_RECEIVED,
    "in_transit": ShipmentStatus.IN_TRANSIT,
    "intransit": ShipmentStatus.IN_TRANSIT,
    "out_for_delivery": ShipmentStatus.OUT_FOR_DELIVERY,
    "outfordelivery": ShipmentStatus.OUT_FOR_DELIVERY,
    "failure": ShipmentStatus.ATTEMPT_FAIL,
    "attemptfail": ShipmentStatus.ATTEMPT_FAIL,
    "attempt_fail": ShipmentStatus.ATTEMPT_FAIL,
    "available_for_pickup": ShipmentStatus.AVAILABLE_FOR_PICKUP,
    "availableforpickup": ShipmentStatus.AVAILABLE_FOR_PICKUP,
    "delivered": ShipmentStatus.DELIVERED,
    "exception": ShipmentStatus.EXCEPTION,
    "return_to_sender": ShipmentStatus.EXCEPTION,
    "expired": ShipmentStatus.EXPIRED,
}

ORDER_TOPICS = frozenset({"order.created", "order.updated", "order.restored"})
CUSTOMER_TOPICS = frozenset({"customer.created", "customer.updated"})


class MappingError(BaseMappingError):
    """The payload is not a WooCommerce resource this topic can carry."""


_as_mapping_error = as_mapping_error(MappingError)


@dataclass(frozen=True)
class MappingConfig:
    """Per-shop mapping options."""

    return_statuses: Mapping[str, str] = field(
        default_factory=lambda: dict(DEFAULT_RETURN_STATUSES)
    )

    @classmethod
    def from_state(cls, value: Mapping[str, Any] | None) -> MappingConfig:
        """The config stored under state kind ``config``; unknown event names are refused."""
        table = dict(DEFAULT_RETURN_STATUSES)
        if value and isinstance(value.get("return_statuses"), Mapping):
            table = {}
            for status, event in value["return_statuses"].items():
                if event not in RETURN_EVENTS:
                    raise MappingError(f"return status {status!r}: unknown event {event!r}")
                table[_status(status)] = event
        return cls(return_statuses=table)


@dataclass
class Outcome:
    """What one delivery produced: events to ingest and the entity's next state."""

    kind: str
    key: str
    messages: list[Message] = field(default_factory=list)
    state: dict[str, Any] | None = None
    note: str = ""

    def wire(self) -> list[dict[str, Any]]:
        return [message.to_wire() for message in self.messages]


# --- small parsers ------------------------------------------------------------------------


def _status(value: Any) -> str:
    text = str(value or "").strip().lower()
    return text[3:] if text.startswith("wc-") else text


def _gmt(value: Any) -> datetime | None:
    """WooCommerce ``*_gmt`` fields are naive UTC; unix timestamps come from plugin meta."""
    if value in (None, "", 0, "0"):
        return None
    if isinstance(value, int | float) or (isinstance(value, str) and value.isdigit()):
        return datetime.fromtimestamp(int(value), UTC)
    if not isinstance(value, str):
        return None
    return read_iso_utc(value.strip().replace(" ", "T"))


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def _day(value: Any) -> date | None:
    moment = _gmt(value)
    return moment.date() if moment else None


def _money(value: Any, what: str) -> Decimal:
    """WooCommerce sends money as decimal strings; keep them exact."""
    if isinstance(value, bool) or value is None or value == "":
        return Decimal("0")
    try:
        return Decimal(value if isinstance(value, str) else repr(value))
    except InvalidOperation:
        raise MappingError(f"{what}: not a decimal amount: {value!r}") from None


def _quantity(value: Any) -> int:
    """Line quantities are integers; refund lines carry them negative."""
    if value in (None, ""):
        return 0
    try:
        number = Decimal(str(value))
    except InvalidOperation:
        raise MappingError(f"line_items.quantity: not a number: {value!r}") from None
    if number != number.to_integral_value():
        raise MappingError(f"line_items.quantity: not a whole number: {value!r}")
    return abs(int(number))


def _text(value: Any) -> str | None:
    if value is None:
        return None
    text = html.unescape(str(value)).strip()
    return text or None


def _meta(order: Mapping[str, Any], key: str) -> Any:
    for item in order.get("meta_data") or ():
        if isinstance(item, Mapping) and item.get("key") == key:
            return item.get("value")
    return None


def _mapping(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _order_id(order: Mapping[str, Any]) -> str:
    if not isinstance(order, Mapping):
        raise MappingError("order payload must be a JSON object")
    raw = order.get("id")
    if isinstance(raw, bool) or not isinstance(raw, int | str) or not str(raw).strip():
        raise MappingError("order payload has no id")
    return str(raw).strip()


# --- identity -----------------------------------------------------------------------------


def identity(order: Mapping[str, Any]) -> dict[str, str]:
    """userId for registered customers; guests get a stable id from their hashed email."""
    customer = order.get("customer_id")
    if customer not in (None, 0, "0", ""):
        return {"user_id": str(customer)}
    email = (order.get("billing") or {}).get("email")
    if isinstance(email, str) and email.strip():
        return {"anonymous_id": guest_id(hash_email(email))}
    return {"anonymous_id": f"wc-order-{_order_id(order)}"}


def guest_id(email_hash: str) -> str:
    return f"wc-guest-{email_hash[:32]}"


def _email_hash(order: Mapping[str, Any]) -> str | None:
    email = (order.get("billing") or {}).get("email")
    return hash_email(email) if isinstance(email, str) and email.strip() else None


def _clean(values: Mapping[str, Any]) -> dict[str, Any]:
    """Leave absent values out instead of sending nulls."""
    return {key: value for key, value in values.items() if value is not None}


def _context() -> Context:
    return Context(library=LIBRARY)


# --- order facts --------------------------------------------------------------------------


def products(lines: Iterable[Any]) -> list[Product]:
    """Line items as Segment products; the unit price is subtotal / quantity, exact."""
    result: list[Product] = []
    for line in lines:
        if not isinstance(line, Mapping):
            continue
        quantity = _quantity(line.get("quantity"))
        subtotal = abs(_money(line.get("subtotal"), "line_items.subtotal"))
        price = (subtotal / quantity) if quantity else None
        variation = line.get("variation_id")
        result.append(
            Product(
                product_id=str(line.get("product_id")) if line.get("product_id") else None,
                sku=_text(line.get("sku")),
                name=_text(line.get("name")),
                variant=str(variation) if variation not in (None, 0, "0", "") else None,
                price=price.quantize(subtotal) if price is not None else None,
                quantity=quantity,
            )
        )
    return result


def order_properties(order: Mapping[str, Any]) -> dict[str, Any]:
    """Segment's order properties from a WooCommerce order (money exact, PII hashed)."""
    lines = [line for line in order.get("line_items") or () if isinstance(line, Mapping)]
    subtotal = sum((_money(line.get("subtotal"), "subtotal") for line in lines), Decimal("0"))
    coupons = [
        str(line.get("code"))
        for line in order.get("coupon_lines") or ()
        if isinstance(line, Mapping) and line.get("code")
    ]
    props: dict[str, Any] = {
        "order_id": _order_id(order),
        "order_number": str(order.get("number") or order.get("id")),
        "affiliation": PLATFORM,
        "currency": order.get("currency"),
        "total": _money(order.get("total"), "total"),
        "subtotal": subtotal,
        "shipping": _money(order.get("shipping_total"), "shipping_total"),
        "tax": _money(order.get("total_tax"), "total_tax"),
        "discount": _money(order.get("discount_total"), "discount_total"),
        "products": products(lines),
    }
    if coupons:
        props["coupon"] = ",".join(coupons)
    if order.get("payment_method"):
        props["payment_method"] = str(order["payment_method"])
    email_hash = _email_hash(order)
    if email_hash:
        props["email_hash"] = email_hash
    return props


def _refunds(order: Mapping[str, Any]) -> list[tuple[str, Decimal, str | None]]:
    """(refund id, positive amount, reason) in creation order (ids grow with time)."""
    found: list[tuple[int, str, Decimal, str | None]] = []
    for item in order.get("refunds") or ():
        if not isinstance(item, Mapping) or item.get("id") in (None, ""):
            continue
        refund_id = str(item["id"])
        amount = abs(_money(item.get("total", item.get("amount")), "refunds.total"))
        # The docs show the summary key as "refund"; the REST API emits "reason".
        reason = _text(item.get("reason", item.get("refund")))
        rank = int(refund_id) if refund_id.isdigit() else 0
        found.append((rank, refund_id, amount, reason))
    found.sort(key=lambda entry: (entry[0], entry[1]))
    return [(refund_id, amount, reason) for _, refund_id, amount, reason in found]


@dataclass(frozen=True)
class Tracking:
    """One tracking number, whichever plugin wrote it."""

    shipment_id: str
    carrier: str | None
    tracking_number: str | None
    tracking_url: str | None
    shipped_at: datetime | None
    source: str
    status: ShipmentStatus | None = None
    raw_status: str | None = None
    status_at: datetime | None = None
    estimated_delivery_date: date | None = None


def trackings(order: Mapping[str, Any]) -> list[Tracking]:
    """Tracking items from Shipment Tracking / AST (with TrackShip status) and AfterShip."""
    found: list[Tracking] = []
    items = _meta(order, "_wc_shipment_tracking_items")
    statuses = _meta(order, "shipment_status")
    if isinstance(items, list):
        for index, item in enumerate(items):
            if not isinstance(item, Mapping) or not item.get("tracking_number"):
                continue
            status_row: Any = None
            if isinstance(statuses, list) and index < len(statuses):
                status_row = statuses[index]
            elif isinstance(statuses, Mapping):
                status_row = statuses.get(str(index), statuses.get(index))
            number = str(item["tracking_number"]).strip()
            carrier = (
                _text(item.get("custom_tracking_provider"))
                or _text(item.get("formatted_tracking_provider"))
                or _text(item.get("tracking_provider"))
            )
            raw = _status(status_row.get("status")) if isinstance(status_row, Mapping) else ""
            found.append(
                Tracking(
                    shipment_id=str(item.get("tracking_id") or f"{carrier or 'tracking'}:{number}"),
                    carrier=carrier,
                    tracking_number=number,
                    tracking_url=_text(item.get("custom_tracking_link"))
                    or _text(item.get("formatted_tracking_link"))
                    or _text(item.get("tracking_link")),
                    shipped_at=_gmt(item.get("date_shipped")),
                    source="_wc_shipment_tracking_items",
                    status=TRACKING_STATUS.get(raw, ShipmentStatus.EXCEPTION) if raw else None,
                    raw_status=raw or None,
                    status_at=_gmt(status_row.get("status_date"))
                    if isinstance(status_row, Mapping)
                    else None,
                    estimated_delivery_date=_day(status_row.get("est_delivery_date"))
                    if isinstance(status_row, Mapping)
                    else None,
                )
            )
    aftership = _meta(order, "_aftership_tracking_items")
    if isinstance(aftership, list):
        for item in aftership:
            if not isinstance(item, Mapping) or not item.get("tracking_number"):
                continue
            number = str(item["tracking_number"]).strip()
            slug = _text(item.get("slug"))
            metrics: Mapping[str, Any] = _mapping(item.get("metrics"))
            extra: Mapping[str, Any] = _mapping(item.get("additional_fields"))
            found.append(
                Tracking(
                    shipment_id=str(item.get("tracking_id") or f"{slug or 'aftership'}:{number}"),
                    carrier=slug,
                    tracking_number=number,
                    tracking_url=None,
                    shipped_at=_gmt(extra.get("ship_date")) or _gmt(metrics.get("created_at")),
                    source="_aftership_tracking_items",
                )
            )
    return found


# Status labels in WooCommerce's system notes ("Order status changed from On hold to
# Completed."), English as WooCommerce writes them on an English-language site.
STATUS_LABELS: dict[str, str] = {
    "pending payment": "pending",
    "pending": "pending",
    "processing": "processing",
    "on hold": "on-hold",
    "completed": "completed",
    "cancelled": "cancelled",
    "refunded": "refunded",
    "failed": "failed",
    "draft": "checkout-draft",
}
_STATUS_NOTE = re.compile(r"status changed from (.+?) to (.+?)\.", re.IGNORECASE)


def status_history(
    notes: Iterable[Any], labels: Mapping[str, str] | None = None
) -> dict[str, datetime]:
    """Status → first time the order entered it, from the system notes of
    ``GET /orders/{id}/notes``. Notes in other languages or with unknown labels are skipped:
    the history only refines times, it never adds facts."""
    table = {**STATUS_LABELS, **(labels or {})}
    entered: dict[str, datetime] = {}
    for note in notes:
        if not isinstance(note, Mapping) or note.get("customer_note"):
            continue
        match = _STATUS_NOTE.search(str(note.get("note") or ""))
        moment = _gmt(note.get("date_created_gmt"))
        if match is None or moment is None:
            continue
        status = table.get(match.group(2).strip().lower())
        if status and (status not in entered or moment < entered[status]):
            entered[status] = moment
    return entered


def _first(entered: Mapping[str, datetime], statuses: Iterable[str]) -> datetime | None:
    times = [entered[status] for status in statuses if status in entered]
    return min(times) if times else None


def _fact_time(*candidates: datetime | None) -> datetime:
    for moment in candidates:
        if moment is not None:
            return moment
    return datetime.now(UTC)


@_as_mapping_error
def map_order(
    shop_id: str,
    order: Mapping[str, Any],
    state: Mapping[str, Any] | None,
    config: MappingConfig | None = None,
    refund_details: Mapping[str, Mapping[str, Any]] | None = None,
    history: Mapping[str, datetime] | None = None,
) -> Outcome:
    """Events for the facts in ``order`` not already in ``state``, and the next state.

    ``refund_details`` (refund id → REST refund resource, from the backfill) adds the refund's
    own time and refunded lines; webhooks carry only the summary. ``history`` (status → first
    time the order entered it, from :func:`status_history`) times placed, paid and cancelled
    orders the backfill finds long after the fact.
    """
    entered = history or {}
    config = config or MappingConfig()
    order_id = _order_id(order)
    outcome = Outcome(kind="order", key=order_id)
    status = _status(order.get("status"))
    if status in DRAFT_STATUSES:
        outcome.note = f"order {order_id} is a {status or 'draft'}, not an order yet"
        return outcome
    if not order.get("currency"):
        raise MappingError(f"order {order_id} has no currency")

    previous = dict(state or {})
    facts: list[str] = list(previous.get("facts") or [])
    seen = set(facts)
    modified = _gmt(order.get("date_modified_gmt")) or _gmt(order.get("date_created_gmt"))
    last = _gmt(previous.get("modified"))
    newer = last is None or (modified is not None and modified >= last)

    who = identity(order)
    base: dict[str, Any] = {**who, "context": _context()}
    props = order_properties(order)
    created = _gmt(order.get("date_created_gmt"))
    paid_at = _gmt(order.get("date_paid_gmt"))
    messages: list[Message] = []

    def emit(fact: str, message: Track) -> None:
        if fact in seen:
            return
        seen.add(fact)
        facts.append(fact)
        messages.append(message.keyed(PLATFORM, shop_id, order_id, fact))

    placed = status in PLACED_STATUSES or paid_at is not None
    total = str(props["total"])
    if placed and "placed" in seen and newer and previous.get("total") not in (None, total):
        # The merchant edited a placed order (items, shipping, discounts): new totals.
        emit(
            f"updated:{_iso(modified)}",
            OrderUpdated(timestamp=_fact_time(modified), properties=props, **base),
        )
    if placed:
        emit(
            "placed",
            OrderCompleted(
                timestamp=_fact_time(_first(entered, PLACED_STATUSES), created, modified),
                properties=props,
                **base,
            ),
        )
    if status in PAID_STATUSES or paid_at is not None:
        emit(
            "paid",
            OrderPaid(
                timestamp=_fact_time(paid_at, _first(entered, PAID_STATUSES), modified),
                properties=_clean(
                    {
                        "order_id": order_id,
                        "order_number": props["order_number"],
                        "total": props["total"],
                        "currency": props["currency"],
                        "payment_method": props.get("payment_method"),
                    }
                ),
                **base,
            ),
        )
    if status == "failed":
        # A payment can fail again after a retry: each failed state is its own fact.
        emit(
            f"payment_failed:{_iso(modified)}",
            PaymentFailed(
                timestamp=_fact_time(modified),
                properties=_clean(
                    {
                        "order_id": order_id,
                        "total": props["total"],
                        "currency": props["currency"],
                        "payment_method": props.get("payment_method"),
                    }
                ),
                **base,
            ),
        )
    if status == "cancelled":
        emit(
            "cancelled",
            OrderCancelled(
                timestamp=_fact_time(entered.get("cancelled"), modified),
                properties=props,
                **base,
            ),
        )

    refunded = Decimal("0")
    for refund_id, amount, reason in _refunds(order):
        refunded += amount
        detail = (refund_details or {}).get(refund_id) or {}
        full = refunded >= props["total"] > 0
        emit(
            f"refund:{refund_id}",
            OrderRefunded(
                timestamp=_fact_time(_gmt(detail.get("date_created_gmt")), modified),
                properties={
                    "order_id": order_id,
                    "refund_id": refund_id,
                    "amount": amount,
                    "currency": props["currency"],
                    "total": props["total"],
                    "reason": _text(detail.get("reason")) or reason,
                    "refund_type": "full" if full else "partial",
                    "products": products(detail.get("line_items") or ()) or None,
                },
                **base,
            ),
        )

    for tracking in trackings(order):
        shipment = {
            "order_id": order_id,
            "shipment_id": tracking.shipment_id,
            "carrier": tracking.carrier,
            "tracking_number": tracking.tracking_number,
            "tracking_url": tracking.tracking_url,
        }
        emit(
            f"shipment:{tracking.shipment_id}",
            ShipmentCreated(
                timestamp=_fact_time(tracking.shipped_at, modified),
                properties={**shipment, "status": ShipmentStatus.INFO_RECEIVED},
                **base,
            ),
        )
        if tracking.status is None and status == "delivered":
            # AST's "Delivered" order status without TrackShip data: every parcel arrived.
            tracking = dataclasses.replace(
                tracking, status=ShipmentStatus.DELIVERED, raw_status="delivered"
            )
        if tracking.status is not None:
            emit(
                f"shipment:{tracking.shipment_id}:{tracking.raw_status}",
                ShipmentStatusUpdated(
                    timestamp=_fact_time(tracking.status_at, modified),
                    properties={
                        **shipment,
                        "status": tracking.status,
                        "raw_status": tracking.raw_status,
                        "status_at": tracking.status_at,
                        "estimated_delivery_date": tracking.estimated_delivery_date,
                    },
                    **base,
                ),
            )

    event_name = config.return_statuses.get(status)
    if event_name:
        model = RETURN_EVENTS[event_name]
        emit(
            f"return:{event_name}",
            model(
                timestamp=_fact_time(modified),
                properties={"order_id": order_id, "return_id": f"wc-{order_id}"},
                **base,
            ),
        )

    outcome.messages = messages
    # No identity in the state, order facts only: nothing here for a privacy erase to find
    # (Shopify's state names customers and answers the ``customer_states`` hook instead).
    next_state: dict[str, Any] = {**previous, "facts": facts}
    if newer:
        next_state.update(
            {"modified": _iso(modified), "status": status, "deleted": False, "total": total}
        )
    if not messages:
        outcome.note = (
            f"order {order_id}: nothing new"
            if newer
            else f"order {order_id}: delivery older than the stored state, nothing new"
        )
    outcome.state = next_state
    return outcome


def with_tracking_items(order: Mapping[str, Any], items: Any) -> dict[str, Any]:
    """The order with the Shipment Tracking extension's REST list (``GET
    /wc/v3/orders/{id}/shipment-trackings``, bare or in a ``{"data": ...}`` envelope) put where
    webhooks carry it, the ``_wc_shipment_tracking_items`` meta, so one code path maps both."""
    if isinstance(items, Mapping):
        items = items.get("data")
    if not isinstance(items, list):
        raise MappingError("shipment trackings must be a list")
    meta = [
        entry
        for entry in order.get("meta_data") or ()
        if not (isinstance(entry, Mapping) and entry.get("key") == "_wc_shipment_tracking_items")
    ]
    meta.append({"key": "_wc_shipment_tracking_items", "value": items})
    return {**order, "meta_data": meta}


@_as_mapping_error
def map_order_deleted(
    shop_id: str,
    payload: Mapping[str, Any],
    state: Mapping[str, Any] | None,
    who: Mapping[str, str] | None = None,
) -> Outcome:
    """``order.deleted`` carries only the id: a custom ``Order Deleted`` event for a known
    order (the projection keeps the order; its history stays true). ``who`` is the order's
    identity as the collector's order projection knows it."""
    order_id = _order_id(payload)
    outcome = Outcome(kind="order", key=order_id)
    if not state:
        outcome.note = f"order {order_id} was never seen; nothing to delete"
        return outcome
    if state.get("deleted"):
        outcome.note = f"order {order_id} already deleted"
        return outcome
    who = dict(who or {}) or {"anonymous_id": f"wc-order-{order_id}"}
    deletions = int(state.get("deletions") or 0) + 1
    message = Track(
        event="Order Deleted",
        properties={"order_id": order_id},
        context=_context(),
        **who,
    ).keyed(PLATFORM, shop_id, order_id, f"deleted:{deletions}")
    outcome.messages = [message]
    outcome.state = {**state, "deleted": True, "deletions": deletions}
    return outcome


@_as_mapping_error
def map_customer(
    shop_id: str, customer: Mapping[str, Any], state: Mapping[str, Any] | None
) -> Outcome:
    """``customer.created/updated`` → identify; the email only as its hash."""
    if not isinstance(customer, Mapping) or customer.get("id") in (None, "", 0):
        raise MappingError("customer payload has no id")
    customer_id = str(customer["id"])
    outcome = Outcome(kind="customer", key=customer_id)
    modified = _gmt(customer.get("date_modified_gmt")) or _gmt(customer.get("date_created_gmt"))
    last = _gmt((state or {}).get("modified"))
    if last is not None and (modified is None or modified <= last):
        outcome.note = f"customer {customer_id}: not newer than the stored state"
        return outcome
    traits: dict[str, Any] = {"platform": PLATFORM}
    email = customer.get("email") or (customer.get("billing") or {}).get("email")
    if isinstance(email, str) and email.strip():
        traits["email_hash"] = hash_email(email)
    created = _gmt(customer.get("date_created_gmt"))
    if created:
        traits["created_at"] = created.isoformat()
    country = (customer.get("billing") or {}).get("country")
    if country:
        traits["country"] = str(country)
    if isinstance(customer.get("is_paying_customer"), bool):
        traits["is_paying_customer"] = customer["is_paying_customer"]
    message = Identify(
        user_id=customer_id,
        timestamp=_fact_time(modified),
        traits=traits,
        context=_context(),
    ).keyed(PLATFORM, shop_id, "customer", customer_id, _iso(modified))
    outcome.messages = [message]
    outcome.state = {"modified": _iso(modified)}
    return outcome


def map_delivery(
    shop_id: str,
    topic: str,
    payload: Any,
    state: Mapping[str, Any] | None,
    config: MappingConfig | None = None,
    who: Mapping[str, str] | None = None,
) -> Outcome:
    """Dispatch on the ``X-WC-Webhook-Topic``; unknown topics map to nothing."""
    if not isinstance(payload, Mapping):
        raise MappingError("payload must be a JSON object")
    if topic in ORDER_TOPICS:
        return map_order(shop_id, payload, state, config)
    if topic == "order.deleted":
        return map_order_deleted(shop_id, payload, state, who)
    if topic in CUSTOMER_TOPICS:
        return map_customer(shop_id, payload, state)
    return Outcome(kind="", key="", note=f"topic {topic!r} is not mapped")


def state_ref(topic: str, payload: Any) -> tuple[str, str] | None:
    """The (kind, key) of the state a delivery reads, or None when it reads none."""
    if not isinstance(payload, Mapping) or payload.get("id") in (None, ""):
        return None
    if topic.startswith("order."):
        return ("order", str(payload["id"]))
    if topic in CUSTOMER_TOPICS:
        return ("customer", str(payload["id"]))
    return None
