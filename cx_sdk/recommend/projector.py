"""Keeps the recommendation counts current right after ingest (the collector's follower feeds
it batches of newly stored events; inline when projections are not deferred).

Every change is an atomic ``INSERT … ON CONFLICT DO UPDATE SET n = n + excluded.n``, so
concurrent workers on PostgreSQL never lose an increment and a batch costs one statement
per table. Cost per event grows with its basket: an order of k products adds k·(k-1) pair
counts (k capped at core.MAX_BASKET); a view adds at most SESSION_ITEMS pairs.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

from sqlalchemy import Connection, Table, and_, case, func, or_, select

from ..server.bulk import BulkInsert, insert_for
from ..server.db import among
from ..server.ingest_rules import Prepared
from ..server.projections import Upsert
from . import core
from .tables import rec_history, rec_items, rec_order_items, rec_pairs, rec_totals

EVENTS = frozenset({"Product Viewed", "Product Added", "Order Completed", "Order Refunded"})
# Views of one visitor within this window form a session for "also viewed".
SESSION = timedelta(hours=24)
SESSION_ITEMS = 20
# A product added to the cart is a stronger sign of interest than a view.
ADDED_WEIGHT = 2.0
# The pair upsert in both drivers' parameter styles (sqlite3: ?, psycopg: %s).
PAIRS_SQL = {
    mark: "INSERT INTO rec_pairs (shop_id, kind, product_id, other_id, together) "
    "VALUES (" + ", ".join([mark] * 5) + ") "
    "ON CONFLICT (shop_id, kind, product_id, other_id) "
    "DO UPDATE SET together = rec_pairs.together + excluded.together"
    for mark in ("?", "%s")
}
BASKETS = "rec_baskets"
VIEW_SESSIONS = "rec_view_sessions"
# Set by a migration when stored counts follow an older rule; a rebuild (``clear``) removes it.
RECOUNT = "rec_recount"
TEXT_LIMITS = {"name": 300, "category": 200, "currency": 3, "price": 40}


def visitor_key(user_id: str | None, anonymous_id: str | None) -> str | None:
    if user_id:
        return f"u:{user_id}"[:210]
    if anonymous_id:
        return f"a:{anonymous_id}"[:210]
    return None


def _text(value: Any, limit: int) -> str | None:
    if value is None or isinstance(value, (dict, list, bool)):
        return None
    text = str(value).strip().replace("\x00", "")
    return text[:limit] or None


def _price(value: Any) -> str | None:
    if value is None or isinstance(value, bool):
        return None
    try:
        amount = Decimal(str(value))
    except InvalidOperation:
        return None
    return str(amount) if amount.is_finite() and amount >= 0 else None


def _stock(props: dict[str, Any]) -> bool | None:
    """``in_stock`` (bool) or a stock number (``stock``, ``inventory_quantity``); None when
    the shop does not say."""
    flag = props.get("in_stock")
    if isinstance(flag, bool):
        return flag
    for key in ("stock", "inventory_quantity"):
        value = props.get(key)
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return value > 0
    return None


def product_data(props: dict[str, Any], currency: Any = None) -> dict[str, Any]:
    """What a card needs, from a product-shaped dict (an event's properties or an order line)."""
    return {
        "name": _text(props.get("name"), TEXT_LIMITS["name"]),
        "price": _price(props.get("price")),
        "currency": _text(props.get("currency") or currency, 3),
        "image_url": _text(props.get("image_url"), 2000),
        "url": _text(props.get("url"), 2000),
        "category": _text(props.get("category"), TEXT_LIMITS["category"]),
        "in_stock": _stock(props),
    }


_NO_PRODUCT_DATA = dict.fromkeys(product_data({}))
# Every property product_data reads.
_PRODUCT_KEYS = (*TEXT_LIMITS, "image_url", "url", "in_stock", "stock", "inventory_quantity")


@dataclass
class Changes:
    """Everything one batch adds, summed in memory, written in one statement per table."""

    items: dict[str, dict[str, Any]] = field(default_factory=dict)
    pairs: dict[tuple[str, str, str], float] = field(default_factory=dict)
    history: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)
    orders: list[dict[str, Any]] = field(default_factory=list)
    # Shop-wide totals (``rec_totals``): what the scores divide by.
    totals: dict[str, int] = field(default_factory=dict)

    def total(self, name: str, amount: int) -> None:
        self.totals[name] = self.totals.get(name, 0) + amount

    def item(self, product_id: str, at: datetime, data: dict[str, Any] | None = None) -> None:
        row = self.items.setdefault(
            product_id,
            {
                "product_id": product_id,
                "baskets": 0.0,
                "views": 0.0,
                "trend": 0.0,
                "updated_at": at,
                **_NO_PRODUCT_DATA,
            },
        )
        row["updated_at"] = max(row["updated_at"], at)
        for key, value in (data or {}).items():
            if value is not None:
                row[key] = value

    def pair(self, kind: str, first: str, second: str, amount: float) -> None:
        self.pairs[(kind, first, second)] = self.pairs.get((kind, first, second), 0.0) + amount

    def seen(
        self,
        visitor: str,
        product_id: str,
        item: Prepared,
        viewed: float = 0.0,
        bought: float = 0.0,
        at: datetime | None = None,
    ) -> None:
        row = self.history.setdefault(
            (visitor, product_id),
            {
                "visitor": visitor,
                "product_id": product_id,
                "user_id": item.user_id,
                "anonymous_id": None if item.user_id else item.anonymous_id,
                "viewed": 0.0,
                "bought": 0.0,
                "last_viewed_at": None,
                "last_bought_at": None,
            },
        )
        row["viewed"] += viewed
        row["bought"] += bought
        if viewed and at is not None:
            row["last_viewed_at"] = max(filter(None, (row["last_viewed_at"], at)))
        if bought and at is not None:
            row["last_bought_at"] = max(filter(None, (row["last_bought_at"], at)))


def project(conn: Connection, shop_id: str, fresh: Sequence[Prepared], upsert: Upsert) -> None:
    """The ``projectors()`` hook: apply the batch's product and order events. ``upsert``
    is unused: counts need ``n = n + excluded.n``, which ``Store.upsert`` does not do."""
    items = [item for item in fresh if item.event in EVENTS]
    if not items:
        return
    changes = Changes()
    tuning = core.DEFAULT
    _views(conn, shop_id, [i for i in items if i.event == "Product Viewed"], changes)
    for item in items:
        props = item.wire.get("properties") or {}
        if item.event == "Product Added":
            product_id = _text(props.get("product_id"), 200)
            if product_id:
                changes.item(product_id, item.timestamp, product_data(props))
                visitor = visitor_key(item.user_id, item.anonymous_id)
                if visitor:
                    changes.seen(visitor, product_id, item, viewed=ADDED_WEIGHT)
    placed = [item for item in items if item.event == "Order Completed"]
    seen = _known_orders(conn, shop_id, placed)
    for item in placed:
        _order(item, changes, tuning, seen)
    for item in items:
        if item.event == "Order Refunded":
            _refund(conn, shop_id, item, changes, tuning)
    write(conn, shop_id, changes)


def _views(conn: Connection, shop_id: str, views: list[Prepared], changes: Changes) -> None:
    """Each view counts once per visitor session; a new one pairs with the session's others."""
    if not views:
        return
    visitors = {
        key for item in views if (key := visitor_key(item.user_id, item.anonymous_id)) is not None
    }
    earliest = min(item.timestamp for item in views) - SESSION
    recent: dict[str, dict[str, datetime]] = {}
    # Unpacked, not ``row.visitor``: a Row finds an attribute only after a failed lookup has
    # raised an AttributeError, and this reads every recent view of the batch's visitors.
    for visitor, product_id, viewed_at in conn.execute(
        select(rec_history.c.visitor, rec_history.c.product_id, rec_history.c.last_viewed_at).where(
            rec_history.c.shop_id == shop_id,
            among(conn, rec_history.c.visitor, sorted(visitors)),
            rec_history.c.last_viewed_at >= earliest,
        )
    ):
        recent.setdefault(visitor, {})[product_id] = viewed_at
    # A product's views mostly carry the same data: read it once per distinct set of values.
    read: dict[tuple[Any, ...], dict[str, Any]] = {}
    for item in sorted(views, key=lambda i: i.timestamp):
        props = item.wire.get("properties") or {}
        product_id = _text(props.get("product_id"), 200)
        if not product_id:
            continue
        values = tuple(map(props.get, _PRODUCT_KEYS))
        # With the types: 1, 1.0 and True are equal keys but not the same price or stock.
        shape = (*values, *map(type, values))
        try:
            data = read.get(shape) or read.setdefault(shape, product_data(props))
        except TypeError:  # a list or object among them: not a key
            data = product_data(props)
        changes.item(product_id, item.timestamp, data)
        visitor = visitor_key(item.user_id, item.anonymous_id)
        if visitor is None:
            continue
        session = recent.setdefault(visitor, {})
        at = item.timestamp
        previous = session.get(product_id)
        if previous is None or at - previous > SESSION:
            changes.items[product_id]["views"] += 1.0
            changes.total(VIEW_SESSIONS, 1)
            others = sorted(
                (p for p, seen in session.items() if p != product_id and abs(at - seen) <= SESSION),
                key=lambda p: session[p],
                reverse=True,
            )[:SESSION_ITEMS]
            for other in others:
                changes.pair("v", product_id, other, 1.0)
                changes.pair("v", other, product_id, 1.0)
        session[product_id] = max(at, previous) if previous else at
        changes.seen(visitor, product_id, item, viewed=1.0, at=at)


def _lines(props: dict[str, Any]) -> list[dict[str, Any]]:
    lines = props.get("products")
    if not isinstance(lines, list):
        return []
    return [line for line in lines if isinstance(line, dict) and _text(line.get("product_id"), 200)]


def _known_orders(conn: Connection, shop_id: str, placed: list[Prepared]) -> set[str]:
    """Orders already counted, in one query for the whole batch."""
    ids = {
        order_id
        for item in placed
        if (order_id := _text((item.wire.get("properties") or {}).get("order_id"), 200))
    }
    if not ids:
        return set()
    return {
        row.order_id
        for row in conn.execute(
            select(rec_order_items.c.order_id)
            .where(
                rec_order_items.c.shop_id == shop_id, among(conn, rec_order_items.c.order_id, ids)
            )
            .distinct()
        )
    }


def _order(item: Prepared, changes: Changes, tuning: core.Tuning, seen: set[str]) -> None:
    props = item.wire.get("properties") or {}
    order_id = _text(props.get("order_id"), 200)
    lines = _lines(props)
    if not order_id or not lines or order_id in seen:
        return  # nothing to count, or the same order delivered again under another messageId
    seen.add(order_id)
    at = item.timestamp
    basket: list[str] = []
    for line in lines:
        product_id = str(_text(line.get("product_id"), 200))
        changes.item(product_id, at, product_data(line, props.get("currency")))
        if product_id not in basket:
            basket.append(product_id)
    basket = basket[: core.MAX_BASKET]
    _count_basket(changes, basket, at, 1.0, tuning)
    visitor = visitor_key(item.user_id, item.anonymous_id)
    weight = core.decay_weight(at, tuning.for_you_half_life_days)
    for product_id in basket:
        if visitor:
            changes.seen(visitor, product_id, item, bought=weight, at=at)
        changes.orders.append(
            {
                "order_id": order_id,
                "product_id": product_id,
                "user_id": item.user_id,
                "anonymous_id": item.anonymous_id,
                "placed_at": at,
                "refunded": False,
            }
        )


def _count_basket(
    changes: Changes, basket: list[str], at: datetime, sign: float, tuning: core.Tuning
) -> None:
    trend = core.decay_weight(at, tuning.half_life_days)
    if basket:
        changes.total(BASKETS, int(sign))
    for product_id in basket:
        changes.item(product_id, at)
        changes.items[product_id]["baskets"] += sign
        changes.items[product_id]["trend"] += sign * trend
    # Each pair weighs by the basket's size (``core.pair_weight``); a refund recomputes the
    # weight of the order's basket before and after, so it takes out exactly what was added.
    weight = sign * core.pair_weight(len(basket), tuning)
    for first, second in core.basket_pairs(basket):
        changes.pair("b", first, second, weight)


def _refund(
    conn: Connection, shop_id: str, item: Prepared, changes: Changes, tuning: core.Tuning
) -> None:
    """Take refunded products back out of the counts: the listed ones, or the whole order
    for a full refund. Each order line is taken out once, however often it is refunded."""
    props = item.wire.get("properties") or {}
    order_id = _text(props.get("order_id"), 200)
    if not order_id:
        return
    rows = conn.execute(
        select(rec_order_items).where(
            rec_order_items.c.shop_id == shop_id, rec_order_items.c.order_id == order_id
        )
    ).all()
    listed = {str(_text(line.get("product_id"), 200)) for line in _lines(props)}
    if not listed and props.get("refund_type") != "full":
        return
    kept = [row.product_id for row in rows if not row.refunded]
    refunded = [p for p in kept if not listed or p in listed]
    if not refunded or not rows:
        return
    placed = rows[0].placed_at
    remaining = [p for p in kept if p not in refunded]
    # The basket's pairs are those of ``kept``; after the refund they are those of ``remaining``.
    _count_basket(changes, kept, placed, -1.0, tuning)
    _count_basket(changes, remaining, placed, 1.0, tuning)
    weight = core.decay_weight(placed, tuning.for_you_half_life_days)
    visitor = visitor_key(rows[0].user_id, rows[0].anonymous_id)
    for product_id in refunded:
        if visitor:
            changes.seen(visitor, product_id, item, bought=-weight)
    conn.execute(
        rec_order_items.update()
        .where(
            rec_order_items.c.shop_id == shop_id,
            rec_order_items.c.order_id == order_id,
            rec_order_items.c.product_id.in_(refunded),
        )
        .values(refunded=True)
    )


def _newer(column: Any, excluded: Any) -> Any:
    return case(
        (or_(column.is_(None), and_(excluded.is_not(None), excluded > column)), excluded),
        else_=column,
    )


def _add_items(base: Any) -> Any:
    excluded = base.excluded
    return base.on_conflict_do_update(
        index_elements=["shop_id", "product_id"],
        set_={
            **{key: func.coalesce(excluded[key], rec_items.c[key]) for key in _NO_PRODUCT_DATA},
            "baskets": rec_items.c.baskets + excluded.baskets,
            "views": rec_items.c.views + excluded.views,
            "trend": rec_items.c.trend + excluded.trend,
            "updated_at": _newer(rec_items.c.updated_at, excluded.updated_at),
        },
    )


def _add_history(base: Any) -> Any:
    excluded = base.excluded
    return base.on_conflict_do_update(
        index_elements=["shop_id", "visitor", "product_id"],
        set_={
            "viewed": rec_history.c.viewed + excluded.viewed,
            "bought": rec_history.c.bought + excluded.bought,
            "last_viewed_at": _newer(rec_history.c.last_viewed_at, excluded.last_viewed_at),
            "last_bought_at": _newer(rec_history.c.last_bought_at, excluded.last_bought_at),
        },
    )


def _add_totals(base: Any) -> Any:
    return base.on_conflict_do_update(
        index_elements=["shop_id", "name"],
        set_={"value": rec_totals.c.value + base.excluded.value},
    )


def _keep_orders(base: Any) -> Any:
    return base.on_conflict_do_nothing(index_elements=["shop_id", "order_id", "product_id"])


def _statement(conn: Connection, table: Table, finish: Callable[[Any], Any]) -> BulkInsert:
    """The multi-row INSERT for ``table`` on this engine, compiled once (``server.bulk``)."""
    return insert_for(conn.dialect, f"recommend {table.name}", table, finish)


def write(conn: Connection, shop_id: str, changes: Changes) -> None:
    """Add ``changes`` to the stored counts (atomically, on either engine). Every key occurs
    once per statement (the changes are keyed by it), as PostgreSQL requires."""
    if changes.items:
        _statement(conn, rec_items, _add_items).run(
            conn, [{"shop_id": shop_id, **row} for row in changes.items.values()]
        )
    if changes.pairs:
        # The hot path (k·(k−1) rows per order): plain tuples straight to the driver, skipping
        # SQLAlchemy's per-row parameter processing (a third of the projector's time).
        conn.exec_driver_sql(
            PAIRS_SQL["?" if conn.dialect.paramstyle == "qmark" else "%s"],
            [
                (shop_id, kind, first, second, amount)
                for (kind, first, second), amount in changes.pairs.items()
                if amount
            ],
        )
    if changes.history:
        _statement(conn, rec_history, _add_history).run(
            conn, [{"shop_id": shop_id, **row} for row in changes.history.values()]
        )
    if changes.totals:
        _statement(conn, rec_totals, _add_totals).run(
            conn,
            [
                {"shop_id": shop_id, "name": name, "value": value}
                for name, value in changes.totals.items()
            ],
        )
    if changes.orders:
        _statement(conn, rec_order_items, _keep_orders).run(
            conn, [{"shop_id": shop_id, **row} for row in changes.orders]
        )


def clear(conn: Connection, shop_id: str, tables: Iterable[Table] = ()) -> None:
    """Forget a shop's counts (before a rebuild); the merchant's settings stay."""
    for table in tables or (rec_pairs, rec_history, rec_order_items, rec_items):
        conn.execute(table.delete().where(table.c.shop_id == shop_id))
    conn.execute(
        rec_totals.delete().where(
            rec_totals.c.shop_id == shop_id,
            rec_totals.c.name.in_([BASKETS, VIEW_SESSIONS, RECOUNT]),
        )
    )


def stale_shops(conn: Connection) -> list[str]:
    """Shops whose counts a migration marked for ``cx recs rebuild``."""
    query = (
        select(rec_totals.c.shop_id)
        .where(rec_totals.c.name == RECOUNT)
        .order_by(rec_totals.c.shop_id)
    )
    return list(conn.execute(query).scalars())
