"""Recommendations read from the precomputed counts (never from the event table) and scored
by ``core``. Every query is scoped by shop and served by an index.

The statements are built once (building one cost more than running it against SQLite) and
the reads on every render go through the driver (``Store.driver_read``): SQLAlchemy's
execution and row machinery were most of a render's time. Those reads take and give text,
numbers and booleans only (no JSON, no timestamps), so SQLite and PostgreSQL rows agree."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from contextlib import nullcontext
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cache
from typing import Any

from sqlalchemy import Connection, bindparam, select, union_all

from ..server.clock import naive_utc, utcnow
from ..server.store import Store
from ..server.tables import identities
from . import core
from .projector import BASKETS, VIEW_SESSIONS
from .tables import rec_history, rec_items, rec_order_items, rec_pairs, rec_totals

STRATEGIES = ("also_bought", "also_viewed", "bestsellers", "recently_viewed", "for_you")
MAX_SEEDS = 10
# Orders this recent are "just bought": their products are not offered again.
JUST_BOUGHT = timedelta(days=1)


@dataclass(frozen=True)
class Visitor:
    """Who is looking: a verified user id and/or the browser's anonymous id."""

    user_id: str | None = None
    anonymous_id: str | None = None


@dataclass(frozen=True)
class Card:
    product_id: str
    name: str
    price: str | None
    currency: str | None
    image_url: str | None
    url: str | None
    category: str | None


# --- statements ------------------------------------------------------------------------------

_SHOP: Any = bindparam("shop")
_PRODUCT: Any = bindparam("product")
_LIMIT: Any = bindparam("limit")
_KEYS: Any = bindparam("keys", expanding=True)
# Per related strategy: the pairs' kind, the items' count column, the total's name.
_RELATED: dict[str, tuple[str, Any, str]] = {
    "also_bought": ("b", rec_items.c.baskets, BASKETS),
    "also_viewed": ("v", rec_items.c.views, VIEW_SESSIONS),
}

_TOTAL = select(rec_totals.c.value).where(
    rec_totals.c.shop_id == _SHOP, rec_totals.c.name == bindparam("name")
)
_POPULAR = {
    kind: select(rec_items.c.product_id, column, rec_items.c.category)
    .where(rec_items.c.shop_id == _SHOP, column > 0)
    .order_by(column.desc(), rec_items.c.product_id)
    .limit(_LIMIT)
    for kind, column, _ in _RELATED.values()
}
_CATEGORY = select(rec_items.c.category).where(
    rec_items.c.shop_id == _SHOP, rec_items.c.product_id == _PRODUCT
)
_BESTSELLERS = {
    in_category: select(rec_items.c.product_id, rec_items.c.trend)
    .where(
        rec_items.c.shop_id == _SHOP,
        rec_items.c.trend > 0,
        *([rec_items.c.category == bindparam("category")] if in_category else []),
    )
    .order_by(rec_items.c.trend.desc(), rec_items.c.product_id)
    .limit(_LIMIT)
    for in_category in (True, False)
}
_RECENT = (
    select(rec_history.c.product_id, rec_history.c.last_viewed_at)
    .where(
        rec_history.c.shop_id == _SHOP,
        rec_history.c.visitor.in_(_KEYS),
        rec_history.c.last_viewed_at.is_not(None),
    )
    .order_by(rec_history.c.last_viewed_at.desc())
    .limit(_LIMIT)
)
_HISTORY = (
    select(rec_history.c.product_id, rec_history.c.bought, rec_history.c.viewed)
    .where(rec_history.c.shop_id == _SHOP, rec_history.c.visitor.in_(_KEYS))
    .order_by(rec_history.c.bought.desc(), rec_history.c.viewed.desc())
    .limit(200)
)
_USER_OF = select(identities.c.user_id).where(
    identities.c.shop_id == _SHOP, identities.c.anonymous_id == bindparam("anonymous_id")
)
_DEVICES_OF = select(identities.c.anonymous_id).where(
    identities.c.shop_id == _SHOP, identities.c.user_id == bindparam("user_id")
)
_ORDER_ITEMS = select(rec_order_items.c.product_id).where(
    rec_order_items.c.shop_id == _SHOP, rec_order_items.c.order_id == bindparam("order_id")
)
# Through SQLAlchemy: it binds the timestamp in the form SQLite stores it in.
_BOUGHT_SINCE = select(rec_order_items.c.product_id).where(
    rec_order_items.c.shop_id == _SHOP,
    rec_order_items.c.user_id == bindparam("user_id"),
    rec_order_items.c.placed_at >= bindparam("since"),
)


def _named(count: int) -> list[Any]:
    """``count`` placeholders ``p0``, ``p1``, …: an IN list the driver can take as it is."""
    return [bindparam(f"p{index}") for index in range(count)]


@cache
def _seed_counts(kind: str, count: int) -> Any:
    """The count and category of ``count`` seeds, one read for all of them."""
    column = _POPULAR[kind].selected_columns[1]
    return select(rec_items.c.product_id, column, rec_items.c.category).where(
        rec_items.c.shop_id == _SHOP, rec_items.c.product_id.in_(_named(count))
    )


@cache
def _neighbours(kind: str, count: int) -> Any:
    """Each of ``count`` seeds' strongest co-occurrences (``limit`` per seed) with the other
    product's own count and category: one read for a whole cart."""
    column = _POPULAR[kind].selected_columns[1]
    lists = [
        select(
            rec_pairs.c.product_id,
            rec_pairs.c.other_id,
            rec_pairs.c.together,
            column,
            rec_items.c.category,
        )
        .join(
            rec_items,
            (rec_items.c.shop_id == rec_pairs.c.shop_id)
            & (rec_items.c.product_id == rec_pairs.c.other_id),
        )
        .where(
            rec_pairs.c.shop_id == _SHOP,
            rec_pairs.c.kind == kind,
            rec_pairs.c.product_id == seed,
            rec_pairs.c.together > 0,
        )
        .order_by(rec_pairs.c.together.desc(), rec_pairs.c.other_id)
        .limit(_LIMIT)
        for seed in _named(count)
    ]
    if count == 1:
        return lists[0]
    # A compound SELECT takes no LIMIT per part (SQLite): each part is a subquery.
    return union_all(*(select(*part.subquery().c) for part in lists))


@cache
def _pairs_among(kind: str, count: int) -> Any:
    """Co-occurrence counts among ``count`` products (both in the list): a primary-key read."""
    products = _named(count)
    return select(rec_pairs.c.product_id, rec_pairs.c.other_id, rec_pairs.c.together).where(
        rec_pairs.c.shop_id == _SHOP,
        rec_pairs.c.kind == kind,
        rec_pairs.c.product_id.in_(products),
        rec_pairs.c.other_id.in_(products),
        rec_pairs.c.together > 0,
    )


@cache
def _cards(count: int) -> Any:
    return select(
        rec_items.c.product_id,
        rec_items.c.name,
        rec_items.c.price,
        rec_items.c.currency,
        rec_items.c.image_url,
        rec_items.c.url,
        rec_items.c.category,
        rec_items.c.in_stock,
    ).where(rec_items.c.shop_id == _SHOP, rec_items.c.product_id.in_(_named(count)))


def _listed(products: Sequence[str]) -> dict[str, str]:
    """The parameters of a ``_named`` list."""
    return {f"p{index}": product for index, product in enumerate(products)}


class Engine:
    def __init__(self, store: Store, tuning: core.Tuning = core.DEFAULT) -> None:
        self.store = store
        self.tuning = tuning

    def recommend(
        self,
        shop_id: str,
        strategy: str,
        *,
        products: Sequence[str] = (),
        visitor: Visitor = Visitor(),
        limit: int = 4,
        exclude: Collection[str] = (),
        order_id: str | None = None,
        category: str | None = None,
        now: datetime | None = None,
        conn: Connection | None = None,
    ) -> list[Card]:
        """Up to ``limit`` cards; products without a name or known to be out of stock are
        skipped (``cards``), so a card is never broken. ``conn``: the caller's connection
        (the widget's, which read the settings on it: one checkout per render on PostgreSQL)."""
        if strategy not in STRATEGIES:
            raise ValueError(f"strategy must be one of {', '.join(STRATEGIES)}")
        seeds = list(dict.fromkeys(products))[:MAX_SEEDS]
        with self.store.reading() if conn is None else nullcontext(conn) as conn:
            keys = self._visitor_keys(conn, shop_id, visitor)
            skip = {
                *exclude,
                *seeds,
                *self._just_bought(conn, shop_id, visitor, order_id, now),
            }
            # Ask for more than needed: nameless products are dropped afterwards.
            want = limit * 2 + 2
            if strategy in _RELATED:
                ids = self._related(conn, shop_id, strategy, seeds, want, skip)
            elif strategy == "bestsellers":
                ids = self._bestsellers(conn, shop_id, seeds, category, want, skip)
            elif strategy == "recently_viewed":
                ids = self._recent(conn, shop_id, keys, want, skip)
            else:
                ids = self._for_you(conn, shop_id, keys, want, skip)
            return self.cards(conn, shop_id, ids)[:limit]

    # --- strategies ----------------------------------------------------------------------

    def _related(
        self,
        conn: Connection,
        shop_id: str,
        strategy: str,
        seeds: Sequence[str],
        limit: int,
        skip: Collection[str],
    ) -> list[str]:
        if not seeds:
            return self._bestsellers(conn, shop_id, (), None, limit, skip)
        kind, _, total_name = _RELATED[strategy]
        total = self._total(conn, shop_id, total_name)
        categories: dict[str, str | None] = {}
        popular = []
        for product, count, category in self._read(
            _POPULAR[kind], conn, shop=shop_id, limit=self.tuning.popular
        ):
            popular.append((product, float(count)))
            categories[product] = category
        own = {
            product: (float(count), category)
            for product, count, category in self._read(
                _seed_counts(kind, len(seeds)), conn, shop=shop_id, **_listed(seeds)
            )
        }
        neighbours: dict[str, list[tuple[str, float, float]]] = {seed: [] for seed in seeds}
        for seed, product, together, count, category in self._read(
            _neighbours(kind, len(seeds)),
            conn,
            shop=shop_id,
            limit=self.tuning.candidates,
            **_listed(seeds),
        ):
            neighbours[seed].append((product, float(together), float(count)))
            categories[product] = category

        def pairs_among(products: Sequence[str]) -> dict[tuple[str, str], float]:
            return self.pairs_among(conn, shop_id, kind, products)

        lists = []
        for seed in seeds:
            seed_count, seed_category = own.get(seed, (0.0, None))
            lists.append(
                core.related(
                    seed_count,
                    total,
                    neighbours[seed],
                    popular,
                    limit,
                    skip,
                    self.tuning,
                    seed_category,
                    categories,
                    pairs_among,
                )
            )
        return _interleave(lists, limit)

    def pairs_among(
        self, conn: Connection, shop_id: str, kind: str, products: Sequence[str]
    ) -> dict[tuple[str, str], float]:
        """Co-occurrence counts among a list's candidates (``core.related`` spreads the list
        with them): one primary-key read of up to pool² rows."""
        chosen = list(dict.fromkeys(products))
        if not chosen:
            return {}
        rows = self._read(_pairs_among(kind, len(chosen)), conn, shop=shop_id, **_listed(chosen))
        return {(first, second): float(together) for first, second, together in rows}

    def _bestsellers(
        self,
        conn: Connection,
        shop_id: str,
        seeds: Sequence[str],
        category: str | None,
        limit: int,
        skip: Collection[str],
    ) -> list[str]:
        """Per category when one is known (given, or the first seed's), then shop-wide."""
        if category is None and seeds:
            category = self._first(_CATEGORY, conn, shop=shop_id, product=seeds[0])
        chosen: list[str] = []
        for in_category in (True, False) if category else (False,):
            rows = self._read(
                _BESTSELLERS[in_category],
                conn,
                shop=shop_id,
                category=category,
                limit=limit + len(skip) + len(chosen),
            )
            found = core.bestsellers(
                ((product, float(trend)) for product, trend in rows), limit, {*skip, *chosen}
            )
            chosen += found[: limit - len(chosen)]
            if len(chosen) >= limit:
                break
        return chosen

    def _recent(
        self, conn: Connection, shop_id: str, keys: list[str], limit: int, skip: Collection[str]
    ) -> list[str]:
        if not keys:
            return []
        rows = conn.execute(_RECENT, {"shop": shop_id, "keys": keys, "limit": limit + len(skip)})
        return core.recently_viewed(
            ((row.product_id, row.last_viewed_at) for row in rows), limit, skip
        )

    def _for_you(
        self, conn: Connection, shop_id: str, keys: list[str], limit: int, skip: Collection[str]
    ) -> list[str]:
        history: dict[str, tuple[float, float]] = {}
        if keys:
            for row in conn.execute(_HISTORY, {"shop": shop_id, "keys": keys}):
                bought, viewed = history.get(row.product_id, (0.0, 0.0))
                history[row.product_id] = (bought + row.bought, viewed + row.viewed)
        popular = [
            (product, float(count))
            for product, count, _ in self._read(
                _POPULAR["b"], conn, shop=shop_id, limit=self.tuning.popular
            )
        ]
        return core.for_you(
            ((p, bought, viewed) for p, (bought, viewed) in history.items()),
            popular,
            self._total(conn, shop_id, BASKETS),
            core.decay_weight(utcnow(), self.tuning.for_you_half_life_days),
            lambda top: (
                self._related(conn, shop_id, "also_bought", top, limit, skip) if top else []
            ),
            lambda: self._bestsellers(conn, shop_id, (), None, limit, skip),
            limit,
            skip,
            self.tuning,
        )

    # --- reading helpers -----------------------------------------------------------------

    def _read(self, statement: Any, conn: Connection, **params: Any) -> list[Any]:
        """All rows of a prebuilt statement, as the driver gives them."""
        return self.store.driver_read(statement).rows(conn, params)

    def _first(self, statement: Any, conn: Connection, **params: Any) -> Any:
        """The first column of a prebuilt statement's first row; None without a row."""
        row = self.store.driver_read(statement).run(conn, params)
        return None if row is None else row[0]

    def _total(self, conn: Connection, shop_id: str, name: str) -> float:
        return float(self._first(_TOTAL, conn, shop=shop_id, name=name) or 0)

    def _visitor_keys(self, conn: Connection, shop_id: str, visitor: Visitor) -> list[str]:
        """Every history key of this visitor: anonymous browsing is stitched to the customer
        the collector's ``identities`` links it to, and the customer's other devices."""
        user_id = visitor.user_id
        if not user_id and visitor.anonymous_id:
            user_id = self._first(_USER_OF, conn, shop=shop_id, anonymous_id=visitor.anonymous_id)
        keys = [f"a:{visitor.anonymous_id}"] if visitor.anonymous_id else []
        if user_id:
            keys.append(f"u:{user_id}")
            keys += [
                f"a:{anonymous_id}"
                for (anonymous_id,) in self._read(_DEVICES_OF, conn, shop=shop_id, user_id=user_id)
            ]
        return sorted(set(keys))

    def _just_bought(
        self,
        conn: Connection,
        shop_id: str,
        visitor: Visitor,
        order_id: str | None,
        now: datetime | None,
    ) -> set[str]:
        found: set[str] = set()
        if order_id:
            found |= {
                product
                for (product,) in self._read(_ORDER_ITEMS, conn, shop=shop_id, order_id=order_id)
            }
        if visitor.user_id:
            since = (naive_utc(now) if now else utcnow()) - JUST_BOUGHT
            found |= {
                row.product_id
                for row in conn.execute(
                    _BOUGHT_SINCE, {"shop": shop_id, "user_id": visitor.user_id, "since": since}
                )
            }
        return found

    def cards(self, conn: Connection, shop_id: str, product_ids: Sequence[str]) -> list[Card]:
        """Cards in the given order; a product without a name, or known to be out of stock,
        is left out."""
        chosen = list(dict.fromkeys(product_ids))
        if not chosen:
            return []
        rows = {
            row[0]: row
            for row in self._read(_cards(len(chosen)), conn, shop=shop_id, **_listed(chosen))
        }
        cards = []
        for product_id in product_ids:
            row = rows.get(product_id)
            # ``in_stock`` is 0/1 from SQLite's driver, a bool from PostgreSQL's.
            if row is None or not row[1] or (row[7] is not None and not row[7]):
                continue
            cards.append(Card(*row[:7]))
        return cards


def _interleave(lists: Sequence[list[str]], limit: int) -> list[str]:
    """Round-robin over several seeds' lists (a cart), each product once."""
    chosen: list[str] = []
    for position in range(max((len(items) for items in lists), default=0)):
        for items in lists:
            if position < len(items) and items[position] not in chosen:
                chosen.append(items[position])
    return chosen[:limit]
