"""The analytics projector: keeps the analytics facts and daily sums up to date.

Runs on newly stored events right after ingest (the follower's batches, or inside the ingest
transaction when projections are not deferred) and, for ``cx analytics rebuild``, on the
stored log replayed in order. Facts about orders and shipments are read back from the
collector's own projections, which ingest has already updated, so refunds, returns and
deliveries arriving late or twice change nothing but the facts they touch.
A daily sum only ever moves by "new contribution minus old contribution" of a fact.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import Connection, and_, delete, func, or_, select, update

from ..events.fields import read_iso_date
from ..server.bulk import insert_for
from ..server.db import among
from ..server.ingest_rules import Prepared
from ..server.projections import ORDER_EVENTS, save_rows
from ..server.tables import identities, order_timeline, orders, shipments
from . import personas, sentiment
from .tables import (
    analytics_chats,
    analytics_checkouts,
    analytics_comments,
    analytics_customer_days,
    analytics_customers,
    analytics_daily,
    analytics_orders,
    analytics_shipments,
)

# Funnel steps as bits of ``analytics_customer_days.steps``, in funnel order.
STEPS: dict[str, int] = {
    "Product Viewed": 1,
    "Product Added": 2,
    "Checkout Started": 4,
    "Order Completed": 8,
}
CONVERSION_WINDOW = timedelta(hours=24)
CHAT_ENDED = "Live Chat Conversation Ended"
CHAT_MESSAGE = "Live Chat Message Sent"

# Events whose properties a projector reads; the rest only count by stage, channel and step.
WITH_PROPERTIES = frozenset(
    {
        *ORDER_EVENTS,
        "Checkout Started",
        "Survey Answered",
        "Recommendation Shown",
        "Recommendation Clicked",
        CHAT_ENDED,
        CHAT_MESSAGE,
    }
)

Delta = dict[tuple[date, str, str], float]
Upsert = Callable[..., None]


def customer_key(
    user_id: str | None, anonymous_id: str | None, links: dict[str, str]
) -> str | None:
    """One key per person: the user id when known (directly or through an identify that linked
    the anonymous id), else the anonymous id."""
    if user_id:
        return f"u:{user_id}"
    if anonymous_id:
        linked = links.get(anonymous_id)
        return f"u:{linked}" if linked else f"a:{anonymous_id}"
    return None


def split_key(key: str) -> tuple[str | None, str | None]:
    """``(user_id, anonymous_id)`` of a customer key."""
    kind, _, value = key.partition(":")
    return (value, None) if kind == "u" else (None, value)


def today() -> date:
    return datetime.now(UTC).date()


def _adding(base: Any) -> Any:
    """ON CONFLICT DO UPDATE SET value = value + excluded.value."""
    return base.on_conflict_do_update(
        index_elements=["shop_id", "day", "metric", "key"],
        set_={"value": analytics_daily.c.value + base.excluded.value},
    )


def _or_steps(base: Any) -> Any:
    """ON CONFLICT: OR the new step bits into the stored ones."""
    return base.on_conflict_do_update(
        index_elements=["shop_id", "day", "customer"],
        set_={"steps": analytics_customer_days.c.steps.op("|")(base.excluded.steps)},
    )


def add_daily(conn: Connection, shop_id: str, delta: Delta) -> None:
    # One statement may not update a row twice (PostgreSQL): keys cut to the same 120
    # characters are summed first.
    rows: dict[tuple[date, str, str], dict[str, Any]] = {}
    for (day, metric, key), value in delta.items():
        if value:
            row = rows.setdefault(
                (day, metric, key[:120]),
                {"shop_id": shop_id, "day": day, "metric": metric, "key": key[:120], "value": 0.0},
            )
            row["value"] += value
    insert_for(conn.dialect, "analytics add daily", analytics_daily, _adding).run(
        conn, list(rows.values())
    )


def save_steps(conn: Connection, rows: Iterable[dict[str, Any]]) -> None:
    """Insert customer-days or OR their step bits into the stored ones. A follower's claim
    brings thousands: one multi-row statement each few hundred, not SQLAlchemy's row-by-row
    parameter processing; rows of the same day and customer are merged first (one statement
    may not update a row twice on PostgreSQL)."""
    merged: dict[tuple[date, str], dict[str, Any]] = {}
    for row in rows:
        kept = merged.setdefault((row["day"], row["customer"]), dict(row))
        kept["steps"] |= row["steps"]
    insert_for(conn.dialect, "analytics steps", analytics_customer_days, _or_steps).run(
        conn, list(merged.values())
    )


class _Batch:
    """One call of the projector: what it read, what it changed, the sums it moves."""

    def __init__(
        self,
        conn: Connection,
        shop_id: str,
        upsert: Upsert,
        moves: bool = True,
        on: date | None = None,
    ) -> None:
        self.conn = conn
        self.moves = moves
        self.on = on
        self.shop_id = shop_id
        self.upsert = upsert
        self.delta: Delta = defaultdict(float)
        self.links: dict[str, str] = {}
        self.touched_customers: set[str] = set()

    def bump(self, day: date, metric: str, key: str = "", amount: float = 1.0) -> None:
        self.delta[(day, metric, key)] += amount

    def move(self, old: Delta, new: Delta) -> None:
        for item, value in old.items():
            self.delta[item] -= value
        for item, value in new.items():
            self.delta[item] += value

    def key(self, user_id: str | None, anonymous_id: str | None) -> str | None:
        return customer_key(user_id, anonymous_id, self.links)

    def load_links(self, anonymous_ids: Iterable[str]) -> None:
        wanted = {a for a in anonymous_ids if a and a not in self.links}
        if not wanted:
            return
        for row in self.conn.execute(
            select(identities.c.anonymous_id, identities.c.user_id).where(
                identities.c.shop_id == self.shop_id,
                among(self.conn, identities.c.anonymous_id, wanted),
            )
        ):
            self.links[row.anonymous_id] = row.user_id


def project(
    conn: Connection,
    shop_id: str,
    fresh: Sequence[Prepared],
    upsert: Upsert,
    *,
    moves: bool = True,
    on: date | None = None,
) -> None:
    """The ``projectors()`` hook: fold newly stored events into the analytics tables.

    ``moves=False`` (a rebuild) does not record segment movements; ``on`` is the day
    segments are scored on (today)."""
    batch = _Batch(conn, shop_id, upsert, moves, on)
    batch.load_links(item.anonymous_id for item in fresh if item.anonymous_id)
    _merge_identified(batch, fresh)
    steps: dict[tuple[date, str], dict[str, Any]] = {}
    checkouts: dict[str, Prepared] = {}
    order_ids: set[str] = set()
    checkout_of_order: dict[str, str] = {}
    chats: dict[str, dict[str, Any]] = {}
    comments: list[dict[str, Any]] = []
    for item in fresh:
        day = item.timestamp.date()
        props = item.wire.get("properties") or {}
        name = item.event
        if item.stage:
            batch.bump(day, "stage", item.stage)
            batch.bump(day, "channel", item.channel)
        if name is None:
            continue
        bit = STEPS.get(name)
        key = batch.key(item.user_id, item.anonymous_id)
        if bit and key:
            user_id, anonymous_id = split_key(key)
            row = steps.setdefault(
                (day, key),
                {
                    "shop_id": shop_id,
                    "day": day,
                    "customer": key,
                    "user_id": user_id,
                    "anonymous_id": item.anonymous_id or anonymous_id,
                    "steps": 0,
                },
            )
            row["steps"] |= bit
        if name in ORDER_EVENTS and props.get("order_id"):
            order_ids.add(str(props["order_id"]))
            if name == "Order Completed" and props.get("checkout_id"):
                checkout_of_order[str(props["order_id"])] = str(props["checkout_id"])
        if name == "Checkout Started":
            checkout_key = str(props.get("checkout_id") or f"m:{item.message_id}")
            earlier = checkouts.get(checkout_key)
            if earlier is None or item.timestamp < earlier.timestamp:
                checkouts[checkout_key] = item
        elif name == "Survey Answered":
            _survey(batch, day, props)
            comment = props.get("comment")
            if isinstance(comment, str) and comment.strip():
                comments.append(_comment(item, day, "survey", comment))
        elif name == "Recommendation Shown" and props.get("strategy"):
            batch.bump(day, "rec_shown", str(props["strategy"]))
        elif name == "Recommendation Clicked" and props.get("strategy"):
            batch.bump(day, "rec_clicked", str(props["strategy"]))
        elif name == CHAT_ENDED and props.get("conversation_id"):
            chats[str(props["conversation_id"])] = {
                "shop_id": shop_id,
                "conversation_id": str(props["conversation_id"]),
                "user_id": item.user_id,
                "anonymous_id": item.anonymous_id,
                "day": day,
                "first_response_seconds": _number(props.get("first_response_seconds")),
                "resolution_seconds": _number(props.get("conversation_duration")),
            }
        elif name == CHAT_MESSAGE:
            body = props.get("message_body")
            if isinstance(body, str) and body.strip():
                comments.append(_comment(item, day, "chat", body))
    save_steps(conn, steps.values())
    if chats:
        save_rows(conn, analytics_chats, chats.values(), upsert)
    _comments(batch, comments)
    _checkouts_started(batch, checkouts)
    touched_orders = _orders(batch, order_ids, checkout_of_order)
    _link_checkouts(batch, touched_orders, set(checkouts))
    _shipments(batch, order_ids)
    _customers(batch, batch.touched_customers)
    add_daily(conn, shop_id, batch.delta)


def _number(value: Any) -> float | None:
    if value is None or isinstance(value, bool):
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if number >= 0 else None


def _survey(batch: _Batch, day: date, props: dict[str, Any]) -> None:
    kind = props.get("survey_type")
    try:
        score = int(props.get("score"))  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return
    if kind in ("nps", "csat", "ces"):
        batch.bump(day, "survey", f"{kind}:{score}")


def _comment(item: Prepared, day: date, source: str, text: str) -> dict[str, Any]:
    scored = sentiment.score(text)
    return {
        "message_id": item.message_id,
        "user_id": item.user_id,
        "anonymous_id": item.anonymous_id,
        "day": day,
        "source": source,
        "label": scored.label,
        "score": scored.score,
        "drivers": list(scored.negative_drivers if scored.label == "negative" else ()),
    }


def _comments(batch: _Batch, comments: list[dict[str, Any]]) -> None:
    if not comments:
        return
    for row in comments:
        row["shop_id"] = batch.shop_id
        batch.bump(row["day"], "comments", row["label"])
        for word in row["drivers"]:
            batch.bump(row["day"], "negative_word", word)
    batch.upsert(batch.conn, analytics_comments, comments, ("shop_id", "message_id"), ())


# --- identity: an identify moves what was counted under the anonymous id to the person -------


def _merge_identified(batch: _Batch, fresh: Sequence[Prepared]) -> None:
    moves: dict[str, str] = {}
    for item in fresh:
        if item.type == "alias" and item.user_id and item.wire.get("previousId"):
            moves[f"a:{item.wire['previousId']}"] = f"u:{item.user_id}"
        elif item.user_id and item.anonymous_id:
            moves[f"a:{item.anonymous_id}"] = f"u:{item.user_id}"
    if not moves:
        return
    conn, shop_id = batch.conn, batch.shop_id
    old_keys = list(moves)
    day_rows = conn.execute(
        select(analytics_customer_days).where(
            analytics_customer_days.c.shop_id == shop_id,
            among(conn, analytics_customer_days.c.customer, old_keys),
        )
    ).all()
    if day_rows:
        save_steps(
            conn,
            (
                {
                    "shop_id": shop_id,
                    "day": row.day,
                    "customer": moves[row.customer],
                    "user_id": moves[row.customer][2:],
                    "anonymous_id": row.anonymous_id,
                    "steps": row.steps,
                }
                for row in day_rows
            ),
        )
        conn.execute(
            delete(analytics_customer_days).where(
                analytics_customer_days.c.shop_id == shop_id,
                among(conn, analytics_customer_days.c.customer, old_keys),
            )
        )
    for table in (analytics_orders, analytics_checkouts):
        moved = conn.execute(
            select(table.c.customer)
            .where(table.c.shop_id == shop_id, among(conn, table.c.customer, old_keys))
            .distinct()
        ).all()
        for row in moved:
            target = moves[row.customer]
            conn.execute(
                update(table)
                .where(table.c.shop_id == shop_id, table.c.customer == row.customer)
                .values(customer=target, user_id=target[2:])
            )
            if table is analytics_orders:
                batch.touched_customers |= {row.customer, target}


# --- checkouts and orders ---------------------------------------------------------------------


def _checkout_contribution(row: dict[str, Any] | None) -> Delta:
    if row is None:
        return {}
    day = row["started_at"].date()
    ordered = row.get("ordered_at")
    converted = ordered is not None and ordered - row["started_at"] <= CONVERSION_WINDOW
    return {(day, "checkouts", ""): 1.0, (day, "checkouts_converted", ""): float(converted)}


def _checkouts_started(batch: _Batch, started: dict[str, Prepared]) -> None:
    if not started:
        return
    table = analytics_checkouts
    existing = {
        row.checkout_key: dict(row._mapping)
        for row in batch.conn.execute(
            select(table).where(
                table.c.shop_id == batch.shop_id, table.c.checkout_key.in_(list(started))
            )
        )
    }
    rows = []
    for checkout_key, item in started.items():
        old = existing.get(checkout_key)
        key = batch.key(item.user_id, item.anonymous_id)
        new = dict(old) if old else {"shop_id": batch.shop_id, "checkout_key": checkout_key}
        new["customer"] = new.get("customer") or key
        new["user_id"] = new.get("user_id") or item.user_id
        new["anonymous_id"] = new.get("anonymous_id") or item.anonymous_id
        new["started_at"] = min(item.timestamp, old["started_at"]) if old else item.timestamp
        new.setdefault("ordered_at", None)
        batch.move(_checkout_contribution(old), _checkout_contribution(new))
        rows.append(new)
    save_rows(batch.conn, table, rows, batch.upsert)


def _order_contribution(row: dict[str, Any] | None) -> Delta:
    if row is None or row.get("placed_at") is None:
        return {}
    day = row["placed_at"].date()
    currency = row.get("currency")
    if currency is None:
        # Aggregated before currencies were kept (migration 0008): take back what was added
        # then, so an order touched after the upgrade moves to its currency by itself.
        return {
            (day, "orders", ""): 1.0,
            (day, "revenue", ""): row["total"],
            (day, "orders_returned", ""): float(bool(row["returned"])),
            (day, "refunded", ""): row["refunded"],
        }
    # Money is only summed within a currency; an order without one is kept apart under "".
    return {
        (day, "orders", ""): 1.0,
        (day, "currency_orders", currency): 1.0,
        (day, "revenue", currency): row["total"],
        (day, "orders_returned", ""): float(bool(row["returned"])),
        (day, "refunded", currency): row["refunded"],
    }


def _orders(
    batch: _Batch, order_ids: set[str], checkout_of_order: dict[str, str]
) -> list[dict[str, Any]]:
    """Recompute the order facts of every order an event touched; the placed ones back."""
    if not order_ids:
        return []
    conn, shop_id = batch.conn, batch.shop_id
    wanted = list(order_ids)
    current = conn.execute(
        select(orders).where(orders.c.shop_id == shop_id, among(conn, orders.c.order_id, wanted))
    ).all()
    old_rows = {
        row.order_id: dict(row._mapping)
        for row in conn.execute(
            select(analytics_orders).where(
                analytics_orders.c.shop_id == shop_id,
                among(conn, analytics_orders.c.order_id, wanted),
            )
        )
    }
    returned = {
        row.order_id
        for row in conn.execute(
            select(order_timeline.c.order_id)
            .where(
                order_timeline.c.shop_id == shop_id,
                among(conn, order_timeline.c.order_id, wanted),
                order_timeline.c.event == "Return Requested",
            )
            .distinct()
        )
    }
    batch.load_links(row.anonymous_id for row in current if row.anonymous_id)
    rows = []
    for order in current:
        old = old_rows.get(order.order_id)
        key = batch.key(order.user_id, order.anonymous_id)
        new = {
            "shop_id": shop_id,
            "order_id": order.order_id,
            "customer": key,
            "user_id": order.user_id or (split_key(key)[0] if key else None),
            "anonymous_id": order.anonymous_id,
            "checkout_id": checkout_of_order.get(order.order_id)
            or (old["checkout_id"] if old else None),
            "placed_at": order.placed_at,
            "total": _money(order.total),
            "refunded": _money(order.refunded),
            "currency": (order.currency or "").upper(),  # "": none given; NULL: see above
            "returned": order.order_id in returned,
        }
        batch.move(_order_contribution(old), _order_contribution(new))
        for row in (old, new):
            if row and row.get("customer"):
                batch.touched_customers.add(row["customer"])
        rows.append(new)
    save_rows(conn, analytics_orders, rows, batch.upsert)
    return [row for row in rows if row["placed_at"] is not None]


def _money(value: str | None) -> float:
    try:
        return float(value) if value else 0.0
    except ValueError:
        return 0.0


def _link_checkouts(batch: _Batch, placed: list[dict[str, Any]], started: set[str]) -> None:
    """Mark a checkout converted by the first order within 24 hours: the order naming its
    checkout id, else the same customer's next order."""
    conn, shop_id = batch.conn, batch.shop_id
    table = analytics_checkouts
    candidates: dict[str, dict[str, Any]] = {}
    conditions = []
    if started:
        conditions.append(among(conn, table.c.checkout_key, list(started)))
    by_id = [row["checkout_id"] for row in placed if row["checkout_id"]]
    if by_id:
        conditions.append(among(conn, table.c.checkout_key, by_id))
    customers = [row["customer"] for row in placed if row["customer"]]
    if customers:
        conditions.append(among(conn, table.c.customer, customers))
    if not conditions:
        return
    for stored in conn.execute(select(table).where(table.c.shop_id == shop_id, or_(*conditions))):
        candidates[stored.checkout_key] = dict(stored._mapping)
    orders_by_checkout: dict[str, list[dict[str, Any]]] = defaultdict(list)
    orders_by_customer: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for order in placed:
        if order["checkout_id"]:
            orders_by_checkout[order["checkout_id"]].append(order)
        if order["customer"]:
            orders_by_customer[order["customer"]].append(order)
    # Checkouts that started in this batch look for orders already stored, too.
    fresh_checkouts = [candidates[k] for k in started if k in candidates]
    if fresh_checkouts:
        keys = [c["checkout_key"] for c in fresh_checkouts]
        owners = [c["customer"] for c in fresh_checkouts if c["customer"]]
        for row in conn.execute(
            select(analytics_orders).where(
                analytics_orders.c.shop_id == shop_id,
                analytics_orders.c.placed_at.is_not(None),
                or_(
                    among(conn, analytics_orders.c.checkout_id, keys),
                    among(conn, analytics_orders.c.customer, owners),
                ),
            )
        ):
            found = dict(row._mapping)
            if found["checkout_id"]:
                orders_by_checkout[found["checkout_id"]].append(found)
            if found["customer"]:
                orders_by_customer[found["customer"]].append(found)
    changed = []
    for checkout in candidates.values():
        start = checkout["started_at"]
        matches = [
            o["placed_at"]
            for o in orders_by_checkout.get(checkout["checkout_key"], [])
            if o["placed_at"] >= start
        ]
        if not matches and checkout["customer"]:
            matches = [
                o["placed_at"]
                for o in orders_by_customer.get(checkout["customer"], [])
                if (o["checkout_id"] is None or o["checkout_id"] == checkout["checkout_key"])
                and start <= o["placed_at"] <= start + CONVERSION_WINDOW
            ]
        if not matches:
            continue
        ordered = min(matches)
        if checkout["ordered_at"] is not None and checkout["ordered_at"] <= ordered:
            continue
        new = {**checkout, "ordered_at": ordered}
        batch.move(_checkout_contribution(checkout), _checkout_contribution(new))
        changed.append(new)
    if changed:
        save_rows(conn, table, changed, batch.upsert)


# --- shipments --------------------------------------------------------------------------------


def _shipment_contribution(row: dict[str, Any] | None) -> Delta:
    if row is None or row.get("delivered_day") is None:
        return {}
    day = row["delivered_day"]
    out: Delta = {(day, "delivered", ""): 1.0}
    if row["promised"]:
        out[(day, "delivered_promised", "")] = 1.0
        out[(day, "delivered_on_time", "")] = float(row["on_time"])
    if row["delivery_days"] is not None:
        out[(day, "delivery_days_sum", "")] = row["delivery_days"]
        out[(day, "delivery_days_n", "")] = 1.0
    return out


def _shipments(batch: _Batch, order_ids: set[str]) -> None:
    if not order_ids:
        return
    conn, shop_id = batch.conn, batch.shop_id
    wanted = list(order_ids)
    current = conn.execute(
        select(shipments, orders.c.placed_at)
        .join(
            orders,
            and_(
                orders.c.shop_id == shipments.c.shop_id, orders.c.order_id == shipments.c.order_id
            ),
            isouter=True,
        )
        .where(shipments.c.shop_id == shop_id, among(conn, shipments.c.order_id, wanted))
    ).all()
    if not current:
        return
    old_rows = {
        row.shipment_id: dict(row._mapping)
        for row in conn.execute(
            select(analytics_shipments).where(
                analytics_shipments.c.shop_id == shop_id,
                among(
                    conn, analytics_shipments.c.shipment_id, [row.shipment_id for row in current]
                ),
            )
        )
    }
    rows = []
    for shipment in current:
        delivered = shipment.delivered_at
        promised = read_iso_date(shipment.promised_delivery_date)
        days = None
        if delivered is not None and shipment.placed_at is not None:
            days = max(0.0, (delivered - shipment.placed_at).total_seconds() / 86400)
        new = {
            "shop_id": shop_id,
            "shipment_id": shipment.shipment_id,
            "order_id": shipment.order_id,
            "user_id": shipment.user_id,
            "delivered_day": delivered.date() if delivered else None,
            "promised": promised is not None,
            "on_time": bool(delivered and promised and delivered.date() <= promised),
            "delivery_days": days,
        }
        batch.move(
            _shipment_contribution(old_rows.get(shipment.shipment_id)), _shipment_contribution(new)
        )
        rows.append(new)
    save_rows(conn, analytics_shipments, rows, batch.upsert)


# --- customers --------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Lifetime:
    orders: int
    revenue: float
    first: date
    last: date


def _customers(batch: _Batch, keys: set[str]) -> None:
    """Recompute lifetime order facts and the RFM segment of the customers whose orders moved."""
    if not keys:
        return
    conn, shop_id = batch.conn, batch.shop_id
    wanted = list(keys)
    # One row per customer and currency: lifetime figures add up over the currencies, the CLV
    # of a currency needs each customer's first order in it.
    totals: dict[str, _Lifetime] = {}
    first_in: dict[str, dict[str, str]] = defaultdict(dict)
    # Unpacked: a Row's attributes are found only after a failed lookup (an AttributeError).
    for customer, currency, placed, revenue, first_at, last_at in conn.execute(
        select(
            analytics_orders.c.customer,
            analytics_orders.c.currency,
            func.count().label("orders"),
            func.sum(analytics_orders.c.total).label("revenue"),
            func.min(analytics_orders.c.placed_at).label("first"),
            func.max(analytics_orders.c.placed_at).label("last"),
        )
        .where(
            analytics_orders.c.shop_id == shop_id,
            among(conn, analytics_orders.c.customer, wanted),
            analytics_orders.c.placed_at.is_not(None),
        )
        .group_by(analytics_orders.c.customer, analytics_orders.c.currency)
    ):
        first, last = _as_date(first_at), _as_date(last_at)
        first_in[customer][currency or ""] = first.isoformat()
        seen = totals.get(customer)
        totals[customer] = _Lifetime(
            orders=int(placed) + (seen.orders if seen else 0),
            revenue=float(revenue or 0.0) + (seen.revenue if seen else 0.0),
            first=min(first, seen.first) if seen else first,
            last=max(last, seen.last) if seen else last,
        )
    old_rows = {
        row.customer: dict(row._mapping)
        for row in conn.execute(
            select(analytics_customers).where(
                analytics_customers.c.shop_id == shop_id,
                among(conn, analytics_customers.c.customer, wanted),
            )
        )
    }
    day = batch.on or today()
    keep, gone = [], []
    for key in wanted:
        old = old_rows.get(key)
        total = totals.get(key)
        if total is None:
            if old is not None:
                gone.append(key)
                _segment_moved(batch, day, old.get("segment"), None)
                if old["first_order_day"] is not None:
                    batch.bump(old["first_order_day"], "first_orders", "", -1.0)
                _first_in_moved(batch, old.get("first_order_days") or {}, {})
            continue
        user_id, anonymous_id = split_key(key)
        first, last = total.first, total.last
        segment = personas.segment(day, last, total.orders)
        firsts = first_in.get(key, {})
        _first_in_moved(batch, (old.get("first_order_days") if old else None) or {}, firsts)
        new = {
            "shop_id": shop_id,
            "customer": key,
            "user_id": user_id,
            "anonymous_id": anonymous_id,
            "orders": total.orders,
            "revenue": total.revenue,
            "first_order_day": first,
            "last_order_day": last,
            "segment": segment,
            "segment_day": day,
            "first_order_days": firsts,
        }
        old_first = old["first_order_day"] if old else None
        if old_first != first:
            if old_first is not None:
                batch.bump(old_first, "first_orders", "", -1.0)
            batch.bump(first, "first_orders", "", 1.0)
        _segment_moved(batch, day, old.get("segment") if old else None, segment)
        keep.append(new)
    if gone:
        conn.execute(
            delete(analytics_customers).where(
                analytics_customers.c.shop_id == shop_id,
                among(conn, analytics_customers.c.customer, gone),
            )
        )
    save_rows(conn, analytics_customers, keep, batch.upsert)


def _first_in_moved(batch: _Batch, old: dict[str, str], new: dict[str, str]) -> None:
    """Count a customer's first order in each currency on its day (the CLV of a currency is
    its revenue over the customers who ordered in it)."""
    for currency in set(old) | set(new):
        if old.get(currency) == new.get(currency):
            continue
        if currency in old:
            batch.bump(date.fromisoformat(old[currency]), "currency_first_orders", currency, -1.0)
        if currency in new:
            batch.bump(date.fromisoformat(new[currency]), "currency_first_orders", currency, 1.0)


def _as_date(value: Any) -> date:
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    return datetime.fromisoformat(str(value)).date()


def _segment_moved(batch: _Batch, day: date, old: str | None, new: str | None) -> None:
    if old != new and batch.moves:
        batch.bump(day, "segment_move", f"{old or ''}>{new or ''}")


def rescore(
    conn: Connection, shop_id: str, upsert: Upsert, since: date | None, on: date | None = None
) -> int:
    """Re-segment the customers whose recency crossed a boundary after ``since`` (the last
    run; None: everyone): time alone moves a customer from champion towards lost. Returns
    how many were rescored."""
    day = on or today()
    query = select(analytics_customers.c.customer).where(analytics_customers.c.shop_id == shop_id)
    if since is not None:
        if since >= day:
            return 0
        last = analytics_customers.c.last_order_day
        query = query.where(
            or_(
                *(
                    and_(
                        last > since - timedelta(days=boundary + 1),
                        last <= day - timedelta(days=boundary + 1),
                    )
                    for boundary in personas.RECENCY_DAYS
                )
            )
        )
    keys = sorted({row.customer for row in conn.execute(query)})
    batch = _Batch(conn, shop_id, upsert, on=day)
    for start in range(0, len(keys), 500):
        _customers(batch, set(keys[start : start + 500]))
    add_daily(conn, shop_id, batch.delta)
    return len(keys)
