"""Shopify webhook payloads → catalog events.

Shopify delivers at least once, up to a day late and out of order, and ``orders/updated``
repeats the whole order on every change. So the mapping translates *facts*, not deliveries:
the order was placed, paid, cancelled; refund R was made; fulfillment F was created or reached
status S; return N reached step K. Each event's messageId derives from the shop, the entity and
the fact, so a replayed or overlapping delivery (``refunds/create`` and the refund inside the
next ``orders/updated``) stores the fact once.

The stored entity state remembers which facts were emitted and the newest ``updated_at`` /
``happened_at`` applied; an older delivery may still add a fact not seen before, but never
moves the current state (totals, shipment status) backwards.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from ...events import (
    CheckoutAbandoned,
    CheckoutStarted,
    ConsentUpdated,
    Context,
    Identify,
    Location,
    Message,
    OrderCancelled,
    OrderCompleted,
    OrderPaid,
    OrderRefunded,
    OrderUpdated,
    Product,
    ReturnApproved,
    ReturnClosed,
    ReturnDeclined,
    ReturnReceived,
    ReturnRequested,
    ReturnShipmentCreated,
    ShipmentCreated,
    ShipmentDelivered,
    ShipmentStatus,
    ShipmentStatusUpdated,
    Track,
)
from ...events.envelope import Library
from ...events.fields import read_iso_utc
from ...privacy import hash_email
from ..refusals import MappingError as BaseMappingError
from ..refusals import as_mapping_error

PLATFORM = "shopify"
LIBRARY = Library(name="cx-shopify", version="1")

# Shopify's financial_status values that mean the money was captured (at least once).
PAID_STATUSES = frozenset({"paid", "partially_refunded", "refunded"})

# Fulfillment ``shipment_status`` and fulfillment event ``status`` → the catalog's taxonomy.
SHIPMENT_STATUS: dict[str, ShipmentStatus] = {
    "label_printed": ShipmentStatus.INFO_RECEIVED,
    "label_purchased": ShipmentStatus.INFO_RECEIVED,
    "confirmed": ShipmentStatus.INFO_RECEIVED,
    "carrier_picked_up": ShipmentStatus.IN_TRANSIT,
    "in_transit": ShipmentStatus.IN_TRANSIT,
    "out_for_delivery": ShipmentStatus.OUT_FOR_DELIVERY,
    "attempted_delivery": ShipmentStatus.ATTEMPT_FAIL,
    "ready_for_pickup": ShipmentStatus.AVAILABLE_FOR_PICKUP,
    "picked_up": ShipmentStatus.DELIVERED,
    "delivered": ShipmentStatus.DELIVERED,
    "delayed": ShipmentStatus.EXCEPTION,
    "failure": ShipmentStatus.EXCEPTION,
}

# Fulfillment ``status`` values that end a shipment without delivery.
CANCELLED_FULFILLMENTS = frozenset({"cancelled"})

# Return topics → the catalog's return step.
RETURN_TOPICS: dict[str, type[Track]] = {
    "returns/request": ReturnRequested,
    "returns/approve": ReturnApproved,
    "returns/decline": ReturnDeclined,
    "returns/close": ReturnClosed,
    "returns/cancel": ReturnClosed,
    "returns/reopen": ReturnApproved,
}

ORDER_TOPICS = frozenset(
    {"orders/create", "orders/updated", "orders/paid", "orders/cancelled", "orders/fulfilled"}
)
CHECKOUT_TOPICS = frozenset({"checkouts/create", "checkouts/update"})
FULFILLMENT_TOPICS = frozenset({"fulfillments/create", "fulfillments/update"})
CUSTOMER_TOPICS = frozenset({"customers/create", "customers/update"})
CONSENT_TOPICS = frozenset(
    {"customers_email_marketing_consent/update", "customers_marketing_consent/update"}
)
PRIVACY_TOPICS = frozenset({"customers/data_request", "customers/redact", "shop/redact"})


class MappingError(BaseMappingError):
    """The payload is not a resource this topic can carry."""


_as_mapping_error = as_mapping_error(MappingError)


@dataclass
class Outcome:
    """What one delivery produced: events to ingest and the entity's next state."""

    kind: str
    key: str
    messages: list[Message] = field(default_factory=list)
    state: dict[str, Any] | None = None
    note: str = ""
    # Further entity states to save (a checkout completed by an order, a return's order).
    extra_states: list[tuple[str, str, dict[str, Any]]] = field(default_factory=list)

    def wire(self) -> list[dict[str, Any]]:
        return [message.to_wire() for message in self.messages]


# --- small parsers ------------------------------------------------------------------------


def parse_time(value: Any) -> datetime | None:
    """Shopify times are ISO 8601 with an offset."""
    if not isinstance(value, str) or not value.strip():
        return None
    return read_iso_utc(value)


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def _newer(candidate: datetime | None, stored: Any) -> bool:
    """True unless ``stored`` is a later time than ``candidate``."""
    previous = parse_time(stored)
    return previous is None or candidate is None or candidate >= previous


def _money(value: Any, what: str) -> Decimal | None:
    """Money arrives as decimal strings (sometimes numbers); kept exact."""
    if value is None or value == "":
        return None
    if isinstance(value, Decimal):
        return value
    if isinstance(value, bool):
        raise MappingError(f"{what}: not a decimal amount: {value!r}")
    try:
        return Decimal(value if isinstance(value, str) else repr(value))
    except InvalidOperation:
        raise MappingError(f"{what}: not a decimal amount: {value!r}") from None


def _set_amount(value: Any) -> Any:
    """The shop-currency amount of a Shopify ``*_set`` object."""
    if isinstance(value, Mapping):
        shop_money = value.get("shop_money")
        if isinstance(shop_money, Mapping):
            return shop_money.get("amount")
    return None


def _mapping(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _list(value: Any) -> list[Any]:
    """A JSON array as a list; anything else (a number, a string, an object) as empty."""
    return value if isinstance(value, list) else []


MAX_ID = 100


def clean_id(value: Any) -> str | None:
    """An id as text (Shopify's integers exceed 2^53: never floats), or None when the value
    cannot be one: empty, too long, or holding control characters (NUL cannot be stored)."""
    if isinstance(value, bool) or not isinstance(value, int | str):
        return None
    text = str(value).strip()
    if not text or len(text) > MAX_ID or not text.isprintable():
        return None
    return text


def _id(value: Any, what: str) -> str:
    text = clean_id(value)
    if text is None:
        raise MappingError(f"{what} is missing or not an id")
    return text


def _short(value: Any, limit: int = 200) -> str | None:
    """Text for a field the projections keep in a bounded column."""
    text = _text(value)
    return text[:limit] if text else None


def _text(value: Any) -> str | None:
    """Text as stored: NUL dropped (PostgreSQL text cannot hold it), blank as absent."""
    if value is None:
        return None
    text = str(value).replace("\x00", "").strip()
    return text or None


def _quantity(value: Any) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise MappingError(f"line item quantity is not a whole number: {value!r}")
    return abs(value)


def _at(moment: datetime | None) -> dict[str, Any]:
    """The event's time when the payload has one (else the envelope's default, now)."""
    return {"timestamp": moment} if moment else {}


def _context() -> Context:
    return Context(library=LIBRARY)


# --- identity -----------------------------------------------------------------------------


def guest_id(email_hash: str) -> str:
    return f"shopify-guest-{email_hash[:32]}"


def _email(payload: Mapping[str, Any]) -> str | None:
    for candidate in (
        payload.get("email"),
        payload.get("contact_email"),
        _mapping(payload.get("customer")).get("email"),
    ):
        if isinstance(candidate, str) and candidate.strip():
            return candidate
    return None


def identity(payload: Mapping[str, Any], fallback: str) -> dict[str, str]:
    """userId for a Shopify customer; guests get a stable id from their hashed email."""
    customer = _mapping(payload.get("customer"))
    if customer.get("id") not in (None, "", 0):
        return {"user_id": _id(customer["id"], "customer.id")}
    email = _email(payload)
    if email:
        return {"anonymous_id": guest_id(hash_email(email))}
    return {"anonymous_id": fallback}


def order_fallback_id(order_id: str) -> str:
    return f"shopify-order-{order_id}"


# --- products and totals ------------------------------------------------------------------


def product(line: Mapping[str, Any]) -> Product:
    """A Shopify line item as a Segment product (unit price, shop currency)."""
    return Product(
        product_id=_text(line.get("product_id")),
        sku=_text(line.get("sku")),
        name=_text(line.get("title")) or _text(line.get("name")),
        brand=_text(line.get("vendor")),
        variant=_text(line.get("variant_title")),
        price=_money(line.get("price"), "line_items.price"),
        quantity=_quantity(line.get("quantity")),
    )


def products(lines: Any) -> list[Product]:
    return [product(line) for line in _list(lines) if isinstance(line, Mapping)]


def order_properties(order: Mapping[str, Any]) -> dict[str, Any]:
    """Segment's order properties from a Shopify order (money exact, email hashed)."""
    order_id = _id(order.get("id"), "order id")
    codes = [
        str(item["code"])
        for item in _list(order.get("discount_codes"))
        if isinstance(item, Mapping) and item.get("code")
    ]
    props: dict[str, Any] = {
        "order_id": order_id,
        "order_number": _short(order.get("order_number")) or _short(order.get("name")),
        "checkout_id": _text(order.get("checkout_token")),
        "affiliation": PLATFORM,
        "currency": order.get("currency"),
        "total": _money(order.get("total_price"), "total_price"),
        "subtotal": _money(order.get("subtotal_price"), "subtotal_price"),
        "tax": _money(order.get("total_tax"), "total_tax"),
        "discount": _money(order.get("total_discounts"), "total_discounts"),
        "shipping": _money(
            _set_amount(order.get("total_shipping_price_set")), "total_shipping_price_set"
        ),
        "products": products(order.get("line_items")),
        "coupon": ",".join(codes) or None,
    }
    email = _email(order)
    if email:
        props["email_hash"] = hash_email(email)
    if order.get("test") is True:
        props["test"] = True
    return {key: value for key, value in props.items() if value is not None}


def _order_digest(order: Mapping[str, Any]) -> str:
    """What an ``Order Updated`` is about: totals and line quantities, nothing cosmetic."""
    lines = sorted(
        f"{line.get('id')}:{line.get('current_quantity', line.get('quantity'))}"
        for line in _list(order.get("line_items"))
        if isinstance(line, Mapping)
    )
    parts = [
        str(order.get("current_total_price", order.get("total_price"))),
        str(order.get("currency")),
        *lines,
    ]
    return hashlib.sha256("|".join(parts).encode("utf-8")).hexdigest()[:32]


# --- orders -------------------------------------------------------------------------------


@_as_mapping_error
def map_order(
    shop_id: str, topic: str, order: Mapping[str, Any], state: Mapping[str, Any] | None
) -> Outcome:
    """Events for the facts in ``order`` not already in ``state``, and the next state."""
    if not isinstance(order, Mapping):
        raise MappingError("order payload must be a JSON object")
    order_id = _id(order.get("id"), "order id")
    if not order.get("currency"):
        raise MappingError(f"order {order_id} has no currency")
    previous = dict(state or {})
    emitted = set(previous.get("emitted") or ())
    outcome = Outcome(kind="order", key=order_id)
    who = identity(order, order_fallback_id(order_id))
    props = order_properties(order)
    updated = parse_time(order.get("updated_at"))
    created = parse_time(order.get("created_at")) or parse_time(order.get("processed_at"))
    is_newer = _newer(updated, previous.get("updated_at"))

    def emit(fact: str, message: Track) -> None:
        if fact not in emitted:
            emitted.add(fact)
            outcome.messages.append(message.keyed(shop_id, order_id, fact))

    base = {"context": _context(), **who}
    emit("placed", OrderCompleted(properties=props, **_at(created or updated), **base))
    if str(order.get("financial_status") or "") in PAID_STATUSES:
        paid_props = {
            key: props.get(key) for key in ("order_id", "order_number", "total", "currency", "test")
        } | {
            "payment_method": ",".join(
                str(name) for name in _list(order.get("payment_gateway_names"))
            )
            or None
        }
        paid_props = {key: value for key, value in paid_props.items() if value is not None}
        paid_at = parse_time(order.get("processed_at")) or updated
        emit("paid", OrderPaid(properties=paid_props, **_at(paid_at), **base))
    cancelled_at = parse_time(order.get("cancelled_at"))
    if cancelled_at:
        cancel_props = {**props, "reason": _text(order.get("cancel_reason"))}
        cancel_props = {key: value for key, value in cancel_props.items() if value is not None}
        emit("cancelled", OrderCancelled(properties=cancel_props, **_at(cancelled_at), **base))
    digest = _order_digest(order)
    if (
        topic == "orders/updated"
        and is_newer
        and previous.get("digest") not in (None, digest)
        and not cancelled_at
    ):
        current = {
            **props,
            "total": _money(order.get("current_total_price"), "current_total_price")
            or props.get("total"),
            "products": products(
                [
                    {**line, "quantity": line.get("current_quantity", line.get("quantity"))}
                    for line in _list(order.get("line_items"))
                    if isinstance(line, Mapping)
                ]
            ),
        }
        current = {key: value for key, value in current.items() if value is not None}
        message = OrderUpdated(properties=current, **_at(updated), **base)
        outcome.messages.append(message.keyed(shop_id, order_id, "updated", digest))
    total = props.get("total")
    refunded_so_far = Decimal(str(previous.get("refunded") or "0"))
    for refund in _list(order.get("refunds")):
        if not isinstance(refund, Mapping):
            continue
        refund_id = _id(refund.get("id"), "refunds.id")
        if f"refund:{refund_id}" in emitted:
            continue
        event = refund_event(shop_id, refund, order_id, who, props.get("currency"), None)
        if event is None:
            continue
        refunded_so_far += Decimal(str(event.properties.amount))
        event = _with_refund_type(event, refunded_so_far, total)
        emitted.add(f"refund:{refund_id}")
        outcome.messages.append(event)
    for fulfillment in _list(order.get("fulfillments")):
        if isinstance(fulfillment, Mapping) and fulfillment.get("id") not in (None, ""):
            fulfillment_id = _id(fulfillment["id"], "fulfillments.id")
            if f"fulfillment:{fulfillment_id}" not in emitted:
                emitted.add(f"fulfillment:{fulfillment_id}")
                outcome.messages.append(
                    shipment_created(shop_id, fulfillment, order_id, who, order.get("line_items"))
                )
    next_state: dict[str, Any] = {
        **previous,
        "emitted": sorted(emitted),
        "who": who,
        "currency": props.get("currency"),
        "refunded": str(refunded_so_far),
    }
    if is_newer:
        next_state.update(
            updated_at=_iso(updated), digest=digest, total=str(total) if total else None
        )
    elif "total" not in next_state and total is not None:
        next_state["total"] = str(total)
    checkout = clean_id(order.get("checkout_token"))
    if checkout:
        outcome.extra_states.append(
            ("checkout", checkout, {"completed": True, "order_id": order_id})
        )
    outcome.state = next_state
    if not outcome.messages:
        outcome.note = f"order {order_id}: nothing new"
    return outcome


# --- refunds ------------------------------------------------------------------------------


def refund_event(
    shop_id: str,
    refund: Mapping[str, Any],
    order_id: str,
    who: Mapping[str, str],
    currency: str | None,
    order_total: Decimal | None,
) -> OrderRefunded | None:
    """``Order Refunded`` for one refund; None when no money moved (a restock only)."""
    refund_id = _id(refund.get("id"), "refund id")
    amount = Decimal("0")
    found_currency = currency
    for transaction in _list(refund.get("transactions")):
        if not isinstance(transaction, Mapping):
            continue
        if transaction.get("kind") != "refund" or transaction.get("status") != "success":
            continue
        amount += _money(transaction.get("amount"), "transactions.amount") or Decimal("0")
        found_currency = found_currency or _text(transaction.get("currency"))
    lines: list[Product] = []
    for item in _list(refund.get("refund_line_items")):
        if not isinstance(item, Mapping):
            continue
        line = _mapping(item.get("line_item"))
        quantity = _quantity(item.get("quantity"))
        subtotal = _money(item.get("subtotal"), "refund_line_items.subtotal")
        unit = (subtotal / quantity).quantize(subtotal) if subtotal and quantity else None
        lines.append(
            product({**line, "quantity": quantity, "price": unit if unit is not None else None})
        )
        found_currency = found_currency or _text(
            _mapping(_mapping(item.get("subtotal_set")).get("shop_money")).get("currency_code")
        )
    if amount == 0:
        return None
    if not found_currency:
        raise MappingError(f"refund {refund_id}: no currency (order not seen yet)")
    props: dict[str, Any] = {
        "order_id": order_id,
        "refund_id": refund_id,
        "amount": amount,
        "currency": found_currency,
        "reason": _text(refund.get("note")),
        "products": lines or None,
    }
    if order_total is not None:
        props["refund_type"] = "full" if amount >= order_total else "partial"
    at = parse_time(refund.get("processed_at")) or parse_time(refund.get("created_at"))
    event = OrderRefunded(
        properties={key: value for key, value in props.items() if value is not None},
        **_at(at),
        context=_context(),
        **who,
    )
    keyed: OrderRefunded = event.keyed(shop_id, order_id, f"refund:{refund_id}")
    return keyed


def _with_refund_type(
    event: OrderRefunded, refunded_so_far: Decimal, total: Decimal | None
) -> OrderRefunded:
    """Full once everything refunded so far covers the order total."""
    if total is None:
        return event
    kind = "full" if refunded_so_far >= total else "partial"
    properties = event.properties.model_copy(update={"refund_type": kind})
    return event.model_copy(update={"properties": properties})


@_as_mapping_error
def map_refund(shop_id: str, refund: Mapping[str, Any], state: Mapping[str, Any] | None) -> Outcome:
    """``refunds/create`` against the order's state (same fact key as inside the order)."""
    if not isinstance(refund, Mapping):
        raise MappingError("refund payload must be a JSON object")
    order_id = _id(refund.get("order_id"), "refund order_id")
    refund_id = _id(refund.get("id"), "refund id")
    previous = dict(state or {})
    emitted = set(previous.get("emitted") or ())
    outcome = Outcome(kind="order", key=order_id)
    fact = f"refund:{refund_id}"
    if fact in emitted:
        outcome.note = f"refund {refund_id} already recorded"
        return outcome
    who = previous.get("who") or {"anonymous_id": order_fallback_id(order_id)}
    event = refund_event(shop_id, refund, order_id, who, previous.get("currency"), None)
    if event is None:
        outcome.note = f"refund {refund_id} moved no money"
        return outcome
    refunded = Decimal(str(previous.get("refunded") or "0")) + Decimal(str(event.properties.amount))
    total = Decimal(previous["total"]) if previous.get("total") else None
    outcome.messages.append(_with_refund_type(event, refunded, total))
    emitted.add(fact)
    outcome.state = {**previous, "emitted": sorted(emitted), "refunded": str(refunded)}
    return outcome


# --- checkouts ----------------------------------------------------------------------------


def _checkout_properties(checkout: Mapping[str, Any], token: str) -> dict[str, Any]:
    props: dict[str, Any] = {
        "checkout_id": token,
        "cart_id": _text(checkout.get("cart_token")),
        "affiliation": PLATFORM,
        "currency": checkout.get("currency"),
        "total": _money(checkout.get("total_price"), "total_price"),
        "subtotal": _money(checkout.get("subtotal_price"), "subtotal_price"),
        "tax": _money(checkout.get("total_tax"), "total_tax"),
        "discount": _money(checkout.get("total_discounts"), "total_discounts"),
        "products": products(checkout.get("line_items")),
    }
    email = _email(checkout)
    if email:
        props["email_hash"] = hash_email(email)
    return {key: value for key, value in props.items() if value is not None}


@_as_mapping_error
def map_checkout(
    shop_id: str, checkout: Mapping[str, Any], state: Mapping[str, Any] | None
) -> Outcome:
    """``Checkout Started`` once per checkout; the state keeps what abandonment needs."""
    if not isinstance(checkout, Mapping):
        raise MappingError("checkout payload must be a JSON object")
    token = _id(checkout.get("token"), "checkout token")
    previous = dict(state or {})
    outcome = Outcome(kind="checkout", key=token)
    who = identity(checkout, f"shopify-checkout-{token}")
    props = _checkout_properties(checkout, token)
    started = parse_time(checkout.get("created_at"))
    updated = parse_time(checkout.get("updated_at"))
    event = CheckoutStarted(properties=props, **_at(started), context=_context(), **who)
    if not previous.get("started"):
        outcome.messages.append(event.keyed(shop_id, token, "started"))
    next_state: dict[str, Any] = {**previous, "started": True}
    if _newer(updated, previous.get("updated_at")):
        # Kept as wire JSON: what a later Checkout Abandoned carries.
        kept = event.to_wire()["properties"]
        recovery = _text(checkout.get("abandoned_checkout_url"))
        next_state.update(
            updated_at=_iso(updated or started),
            who=who,
            properties={
                **{key: value for key, value in kept.items() if key != "products"},
                **({"recovery_url": recovery} if recovery else {}),
            },
            products=kept.get("products"),
        )
    if checkout.get("completed_at"):
        next_state["completed"] = True
    outcome.state = next_state
    return outcome


@_as_mapping_error
def abandoned_event(shop_id: str, token: str, state: Mapping[str, Any]) -> CheckoutAbandoned:
    """``Checkout Abandoned`` for a checkout no order followed (decided by the caller)."""
    props = {
        key: value
        for key, value in {
            **dict(state.get("properties") or {}),
            "products": state.get("products"),
        }.items()
        if value is not None
    }
    props["checkout_id"] = token
    who = dict(state.get("who") or {"anonymous_id": f"shopify-checkout-{token}"})
    event = CheckoutAbandoned(
        properties=props,
        **_at(parse_time(state.get("updated_at"))),
        context=_context(),
        **who,
    )
    keyed: CheckoutAbandoned = event.keyed(shop_id, token, "abandoned")
    return keyed


# --- fulfillments and their events ----------------------------------------------------------


def _status(raw: Any) -> ShipmentStatus | None:
    text = _text(raw)
    if text is None:
        return None
    return SHIPMENT_STATUS.get(text.lower(), ShipmentStatus.EXCEPTION)


def _day(value: Any) -> date | None:
    moment = parse_time(value)
    return moment.date() if moment else None


def _shipment_props(
    fulfillment: Mapping[str, Any], order_id: str, lines: Any = None
) -> dict[str, Any]:
    numbers = [n for n in _list(fulfillment.get("tracking_numbers")) if n]
    urls = [u for u in _list(fulfillment.get("tracking_urls")) if u]
    props: dict[str, Any] = {
        "order_id": order_id,
        "shipment_id": _id(fulfillment.get("id"), "fulfillment id"),
        "carrier": _short(fulfillment.get("tracking_company")),
        "tracking_number": _short(fulfillment.get("tracking_number"))
        or (_short(numbers[0]) if numbers else None),
        "tracking_url": _text(fulfillment.get("tracking_url"))
        or (_text(urls[0]) if urls else None),
        "products": products(fulfillment.get("line_items") or lines) or None,
    }
    return {key: value for key, value in props.items() if value is not None}


def shipment_created(
    shop_id: str,
    fulfillment: Mapping[str, Any],
    order_id: str,
    who: Mapping[str, str],
    lines: Any = None,
) -> ShipmentCreated:
    props = _shipment_props(fulfillment, order_id, lines)
    status = _status(fulfillment.get("shipment_status"))
    props["status"] = status or ShipmentStatus.PENDING
    if status:
        props["raw_status"] = fulfillment.get("shipment_status")
    at = parse_time(fulfillment.get("created_at"))
    event = ShipmentCreated(properties=props, **_at(at), context=_context(), **who)
    keyed: ShipmentCreated = event.keyed(shop_id, order_id, f"fulfillment:{props['shipment_id']}")
    return keyed


def _status_event(
    shop_id: str,
    props: dict[str, Any],
    raw: str,
    at: datetime | None,
    who: Mapping[str, str],
) -> Track:
    """Status Updated, or Delivered for the final step; keyed by shipment and status so the
    same step reported by ``fulfillments/update`` and ``fulfillment_events/create`` is one."""
    status = _status(raw) or ShipmentStatus.EXCEPTION
    props = {**props, "status": status, "raw_status": raw, "status_at": at}
    props = {key: value for key, value in props.items() if value is not None}
    model: type[Track] = (
        ShipmentDelivered if status is ShipmentStatus.DELIVERED else ShipmentStatusUpdated
    )
    event = model(properties=props, **_at(at), context=_context(), **who)
    keyed: Track = event.keyed(shop_id, props["order_id"], props["shipment_id"], raw.lower())
    return keyed


@_as_mapping_error
def map_fulfillment(
    shop_id: str,
    fulfillment: Mapping[str, Any],
    state: Mapping[str, Any] | None,
    who: Mapping[str, str] | None,
) -> Outcome:
    """``fulfillments/create|update``: Shipment Created once, then each new shipment status."""
    if not isinstance(fulfillment, Mapping):
        raise MappingError("fulfillment payload must be a JSON object")
    fulfillment_id = _id(fulfillment.get("id"), "fulfillment id")
    order_id = _id(fulfillment.get("order_id"), "fulfillment order_id")
    previous = dict(state or {})
    emitted = set(previous.get("emitted") or ())
    outcome = Outcome(kind="fulfillment", key=fulfillment_id)
    who = dict(who or {"anonymous_id": order_fallback_id(order_id)})
    if "created" not in emitted:
        outcome.messages.append(shipment_created(shop_id, fulfillment, order_id, who))
        emitted.add("created")
    raw = _short(fulfillment.get("shipment_status"), 100)
    if str(fulfillment.get("status") or "").lower() in CANCELLED_FULFILLMENTS:
        # The merchant cancelled the shipment: outside the carrier taxonomy, so an exception
        # whose raw status says what happened.
        raw = "cancelled"
    updated = parse_time(fulfillment.get("updated_at"))
    if raw and f"status:{raw.lower()}" not in emitted:
        props = _shipment_props(fulfillment, order_id)
        props.pop("products", None)
        outcome.messages.append(_status_event(shop_id, props, raw, updated, who))
        emitted.add(f"status:{raw.lower()}")
    next_state = _next_shipment_state(previous, emitted, order_id, fulfillment, updated, raw)
    outcome.state = next_state
    if not outcome.messages:
        outcome.note = f"fulfillment {fulfillment_id}: nothing new"
    return outcome


def _next_shipment_state(
    previous: dict[str, Any],
    emitted: set[str],
    order_id: str,
    fulfillment: Mapping[str, Any],
    at: datetime | None,
    raw: str | None,
) -> dict[str, Any]:
    state = {**previous, "order_id": order_id, "emitted": sorted(emitted)}
    for key in ("tracking_company", "tracking_number"):
        if _short(fulfillment.get(key)):
            state[key] = _short(fulfillment.get(key))
    if _text(fulfillment.get("tracking_url")):
        state["tracking_url"] = _text(fulfillment.get("tracking_url"))
    if raw and _newer(at, previous.get("status_at")):
        state.update(status=raw, status_at=_iso(at))
    return state


@_as_mapping_error
def map_fulfillment_event(
    shop_id: str,
    payload: Mapping[str, Any],
    state: Mapping[str, Any] | None,
    who: Mapping[str, str] | None,
) -> Outcome:
    """``fulfillment_events/create``: one carrier step of a fulfillment."""
    if not isinstance(payload, Mapping):
        raise MappingError("fulfillment event payload must be a JSON object")
    fulfillment_id = _id(payload.get("fulfillment_id"), "fulfillment_id")
    order_id = _id(payload.get("order_id"), "order_id")
    raw = _short(payload.get("status"), 100)
    if raw is None:
        raise MappingError("fulfillment event has no status")
    previous = dict(state or {})
    emitted = set(previous.get("emitted") or ())
    outcome = Outcome(kind="fulfillment", key=fulfillment_id)
    who = dict(who or {"anonymous_id": order_fallback_id(order_id)})
    happened = parse_time(payload.get("happened_at")) or parse_time(payload.get("created_at"))
    location = Location(
        city=_text(payload.get("city")),
        region=_text(payload.get("province")),
        country=_text(payload.get("country")),
    )
    props: dict[str, Any] = {
        "order_id": order_id,
        "shipment_id": fulfillment_id,
        "carrier": previous.get("tracking_company"),
        "tracking_number": previous.get("tracking_number"),
        "tracking_url": previous.get("tracking_url"),
        "estimated_delivery_date": _day(payload.get("estimated_delivery_at")),
        "message": _text(payload.get("message")),
        "location": location if location.model_dump(exclude_none=True) else None,
    }
    fact = f"status:{raw.lower()}"
    if fact not in emitted:
        outcome.messages.append(_status_event(shop_id, props, raw, happened, who))
        emitted.add(fact)
    else:
        outcome.note = f"fulfillment {fulfillment_id}: status {raw} already recorded"
    outcome.state = _next_shipment_state(previous, emitted, order_id, {}, happened, raw)
    return outcome


# --- returns ------------------------------------------------------------------------------


@_as_mapping_error
def map_return(
    shop_id: str,
    topic: str,
    payload: Mapping[str, Any],
    state: Mapping[str, Any] | None,
    who: Mapping[str, str] | None,
    event_id: str | None = None,
) -> Outcome:
    """A return's step. ``cancel`` and ``reopen`` can repeat, so their key adds the
    delivery's ``X-Shopify-Event-Id`` (the same on every retry of one event)."""
    if not isinstance(payload, Mapping):
        raise MappingError("return payload must be a JSON object")
    return_id = _id(payload.get("id"), "return id")
    previous = dict(state or {})
    order_raw = _mapping(payload.get("order")).get("id") or payload.get("order_id")
    if order_raw in (None, "") and previous.get("order_id"):
        order_raw = previous["order_id"]
    order_id = _id(order_raw, "return order id")
    outcome = Outcome(kind="return", key=return_id)
    who = dict(who or {"anonymous_id": order_fallback_id(order_id)})
    decline = _mapping(payload.get("decline"))
    props: dict[str, Any] = {
        "order_id": order_id,
        "return_id": return_id,
        "reason": _text(decline.get("reason"))
        or ("cancelled" if topic == "returns/cancel" else None),
        "note": _text(decline.get("note")) or ("reopened" if topic == "returns/reopen" else None),
        "products": products(
            [
                _mapping(item.get("fulfillment_line_item")).get("line_item") or item
                for item in _list(payload.get("return_line_items"))
                if isinstance(item, Mapping)
            ]
        )
        or None,
        "status": _text(payload.get("status")),
    }
    model = RETURN_TOPICS[topic]
    event = model(
        properties={key: value for key, value in props.items() if value is not None},
        context=_context(),
        **who,
    )
    parts: tuple[object, ...] = (return_id, topic)
    if topic in ("returns/cancel", "returns/reopen"):
        parts += (event_id,)
    outcome.messages.append(event.keyed(shop_id, order_id, *parts))
    outcome.state = {**previous, "order_id": order_id, "status": props["status"]}
    return outcome


@_as_mapping_error
def map_reverse_delivery(
    shop_id: str,
    payload: Mapping[str, Any],
    return_state: Mapping[str, Any] | None,
    who: Mapping[str, str] | None,
) -> Outcome:
    """``reverse_deliveries/attach_deliverable``: the return's shipment with its tracking."""
    if not isinstance(payload, Mapping):
        raise MappingError("reverse delivery payload must be a JSON object")
    delivery_id = _id(payload.get("id"), "reverse delivery id")
    return_id = _id(_mapping(payload.get("return")).get("id"), "return.id")
    outcome = Outcome(kind="return", key=return_id)
    order_id = (return_state or {}).get("order_id")
    if not order_id:
        outcome.note = f"return {return_id} is not known yet; its shipment is not mapped"
        return outcome
    tracking = _mapping(_mapping(payload.get("shipping_deliverable")).get("tracking"))
    props = {
        "order_id": str(order_id),
        "return_id": return_id,
        "carrier": _short(tracking.get("carrier_name")),
        "tracking_number": _short(tracking.get("tracking_number")),
        "tracking_url": _text(tracking.get("tracking_url")),
    }
    who = dict(who or {"anonymous_id": order_fallback_id(str(order_id))})
    event = ReturnShipmentCreated(
        properties={key: value for key, value in props.items() if value is not None},
        context=_context(),
        **who,
    )
    outcome.messages.append(event.keyed(shop_id, order_id, return_id, "shipment", delivery_id))
    return outcome


@_as_mapping_error
def map_disposal(
    shop_id: str,
    payload: Mapping[str, Any],
    link: Mapping[str, Any] | None,
    who: Mapping[str, str] | None,
) -> Outcome:
    """``reverse_fulfillment_orders/dispose``: the returned items arrived and were handled.
    The payload names only the reverse fulfillment order, so it maps once that order is
    linked to a return (``link``: ``{"return_id", "order_id"}``); until then it is pending."""
    if not isinstance(payload, Mapping):
        raise MappingError("reverse fulfillment order payload must be a JSON object")
    rfo_id = _id(payload.get("id"), "reverse fulfillment order id")
    outcome = Outcome(kind="reverse_fulfillment_order", key=rfo_id)
    kinds = sorted(
        {
            str(item.get("type"))
            for item in _list(payload.get("dispositions"))
            if isinstance(item, Mapping) and item.get("type")
        }
    )
    if not link or not link.get("return_id") or not link.get("order_id"):
        # Kept until the return is known (``reverse.link_pending`` asks Shopify).
        outcome.state = {"pending_kinds": kinds}
        outcome.note = f"reverse fulfillment order {rfo_id} is not linked to a known return yet"
        return outcome
    order_id = str(link["order_id"])
    outcome.state = {"return_id": str(link["return_id"]), "order_id": order_id}
    props = {"order_id": order_id, "return_id": str(link["return_id"]), "note": ",".join(kinds)}
    who = dict(who or {"anonymous_id": order_fallback_id(order_id)})
    event = ReturnReceived(
        properties={key: value for key, value in props.items() if value},
        context=_context(),
        **who,
    )
    outcome.messages.append(event.keyed(shop_id, order_id, link["return_id"], "received"))
    return outcome


# --- customers ----------------------------------------------------------------------------


@_as_mapping_error
def map_customer(shop_id: str, topic: str, customer: Mapping[str, Any]) -> Outcome:
    """``customers/*`` → identify (hashed email only); consent topics → Consent Updated."""
    if not isinstance(customer, Mapping):
        raise MappingError("customer payload must be a JSON object")
    raw_id = customer.get("id") or customer.get("customer_id")
    customer_id = _id(raw_id, "customer id")
    outcome = Outcome(kind="customer", key=customer_id)
    if topic in CONSENT_TOPICS:
        consent = _mapping(customer.get("email_marketing_consent"))
        state = _text(consent.get("state"))
        if state is None:
            raise MappingError("consent payload has no email_marketing_consent.state")
        at = parse_time(consent.get("consent_updated_at"))
        event = ConsentUpdated(
            properties={"categories": {"email_marketing": state == "subscribed"}, "source": topic},
            **_at(at),
            user_id=customer_id,
            context=_context(),
        )
        outcome.messages.append(event.keyed(shop_id, customer_id, "consent", state, _iso(at)))
        return outcome
    traits: dict[str, Any] = {"platform": PLATFORM}
    email = customer.get("email")
    if isinstance(email, str) and email.strip():
        traits["email_hash"] = hash_email(email)
    for key in ("locale", "currency", "state"):
        if _text(customer.get(key)):
            traits[key] = customer[key]
    created = parse_time(customer.get("created_at"))
    if created:
        traits["created_at"] = created.isoformat()
    updated = parse_time(customer.get("updated_at"))
    message = Identify(user_id=customer_id, traits=traits, **_at(updated), context=_context())
    outcome.messages.append(message.keyed(shop_id, customer_id, _iso(updated) or topic))
    return outcome
