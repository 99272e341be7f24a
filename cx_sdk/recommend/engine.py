"""Recommendations read from the precomputed counts (never from the event table) and scored
by ``core``. Every query is scoped by shop and served by an index."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Connection, select

from ..server.store import Store
from ..server.tables import counters, identities
from . import core
from .projector import BASKETS, VIEW_SESSIONS
from .tables import rec_history, rec_items, rec_order_items, rec_pairs

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
    ) -> list[Card]:
        """Up to ``limit`` cards; products without a name or known to be out of stock are
        skipped (``cards``), so a card is never broken."""
        if strategy not in STRATEGIES:
            raise ValueError(f"strategy must be one of {', '.join(STRATEGIES)}")
        seeds = list(dict.fromkeys(products))[:MAX_SEEDS]
        with self.store.engine.connect() as conn:
            keys = self._visitor_keys(conn, shop_id, visitor)
            skip = {
                *exclude,
                *seeds,
                *self._just_bought(conn, shop_id, visitor, order_id, now),
            }
            # Ask for more than needed: nameless products are dropped afterwards.
            want = limit * 2 + 2
            if strategy in ("also_bought", "also_viewed"):
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
        kind, column, total_name = (
            ("b", rec_items.c.baskets, BASKETS)
            if strategy == "also_bought"
            else ("v", rec_items.c.views, VIEW_SESSIONS)
        )
        total = self._total(conn, shop_id, total_name)
        categories: dict[str, str | None] = {}
        popular = []
        for row in conn.execute(
            select(rec_items.c.product_id, column.label("n"), rec_items.c.category)
            .where(rec_items.c.shop_id == shop_id, column > 0)
            .order_by(column.desc(), rec_items.c.product_id)
            .limit(self.tuning.popular)
        ):
            popular.append((row.product_id, float(row.n)))
            categories[row.product_id] = row.category

        def pairs_among(products: Sequence[str]) -> dict[tuple[str, str], float]:
            return self.pairs_among(conn, shop_id, kind, products)

        lists = []
        for seed in seeds:
            own = conn.execute(
                select(column.label("n"), rec_items.c.category).where(
                    rec_items.c.shop_id == shop_id, rec_items.c.product_id == seed
                )
            ).first()
            neighbours = []
            for product, together, count, category in self.neighbours(
                conn, shop_id, kind, seed, column
            ):
                neighbours.append((product, together, count))
                categories[product] = category
            lists.append(
                core.related(
                    float(own.n) if own else 0.0,
                    total,
                    neighbours,
                    popular,
                    limit,
                    skip,
                    self.tuning,
                    own.category if own else None,
                    categories,
                    pairs_among,
                )
            )
        return _interleave(lists, limit)

    def neighbours(
        self, conn: Connection, shop_id: str, kind: str, seed: str, column: Any
    ) -> list[tuple[str, float, float, str | None]]:
        """The seed's strongest co-occurrences with the other product's own count and
        category."""
        rows = conn.execute(
            select(
                rec_pairs.c.other_id,
                rec_pairs.c.together,
                column.label("n"),
                rec_items.c.category,
            )
            .join(
                rec_items,
                (rec_items.c.shop_id == rec_pairs.c.shop_id)
                & (rec_items.c.product_id == rec_pairs.c.other_id),
            )
            .where(
                rec_pairs.c.shop_id == shop_id,
                rec_pairs.c.kind == kind,
                rec_pairs.c.product_id == seed,
                rec_pairs.c.together > 0,
            )
            .order_by(rec_pairs.c.together.desc(), rec_pairs.c.other_id)
            .limit(self.tuning.candidates)
        )
        return [(row.other_id, float(row.together), float(row.n), row.category) for row in rows]

    def pairs_among(
        self, conn: Connection, shop_id: str, kind: str, products: Sequence[str]
    ) -> dict[tuple[str, str], float]:
        """Co-occurrence counts among a list's candidates (``core.related`` spreads the list
        with them): one primary-key read. Up to pool² rows, so they go to the driver as
        plain tuples (SQLAlchemy's row processing was most of this read's time)."""
        chosen = list(dict.fromkeys(products))
        if not chosen:
            return {}
        mark = "?" if conn.dialect.paramstyle == "qmark" else "%s"
        marks = ", ".join([mark] * len(chosen))
        # Only placeholders are formatted in; every value is bound.
        rows = conn.exec_driver_sql(
            "SELECT product_id, other_id, together FROM rec_pairs "  # noqa: S608
            f"WHERE shop_id = {mark} AND kind = {mark} AND product_id IN ({marks}) "
            f"AND other_id IN ({marks}) AND together > 0",
            (shop_id, kind, *chosen, *chosen),
        )
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
            category = conn.execute(
                select(rec_items.c.category).where(
                    rec_items.c.shop_id == shop_id, rec_items.c.product_id == seeds[0]
                )
            ).scalar()
        chosen: list[str] = []
        where = [rec_items.c.shop_id == shop_id, rec_items.c.trend > 0]
        for extra in ([rec_items.c.category == category] if category else [], []):
            rows = conn.execute(
                select(rec_items.c.product_id, rec_items.c.trend)
                .where(*where, *extra)
                .order_by(rec_items.c.trend.desc(), rec_items.c.product_id)
                .limit(limit + len(skip) + len(chosen))
            )
            found = core.bestsellers(
                ((row.product_id, float(row.trend)) for row in rows), limit, {*skip, *chosen}
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
        rows = conn.execute(
            select(rec_history.c.product_id, rec_history.c.last_viewed_at)
            .where(
                rec_history.c.shop_id == shop_id,
                rec_history.c.visitor.in_(keys),
                rec_history.c.last_viewed_at.is_not(None),
            )
            .order_by(rec_history.c.last_viewed_at.desc())
            .limit(limit + len(skip))
        )
        return core.recently_viewed(
            ((row.product_id, row.last_viewed_at) for row in rows), limit, skip
        )

    def _for_you(
        self, conn: Connection, shop_id: str, keys: list[str], limit: int, skip: Collection[str]
    ) -> list[str]:
        history: dict[str, tuple[float, float]] = {}
        if keys:
            for row in conn.execute(
                select(rec_history.c.product_id, rec_history.c.bought, rec_history.c.viewed)
                .where(rec_history.c.shop_id == shop_id, rec_history.c.visitor.in_(keys))
                .order_by(rec_history.c.bought.desc(), rec_history.c.viewed.desc())
                .limit(200)
            ):
                bought, viewed = history.get(row.product_id, (0.0, 0.0))
                history[row.product_id] = (bought + row.bought, viewed + row.viewed)
        popular = [
            (row.product_id, float(row.baskets))
            for row in conn.execute(
                select(rec_items.c.product_id, rec_items.c.baskets)
                .where(rec_items.c.shop_id == shop_id, rec_items.c.baskets > 0)
                .order_by(rec_items.c.baskets.desc(), rec_items.c.product_id)
                .limit(self.tuning.popular)
            )
        ]
        return core.for_you(
            ((p, bought, viewed) for p, (bought, viewed) in history.items()),
            popular,
            self._total(conn, shop_id, BASKETS),
            core.decay_weight(_utcnow(), self.tuning.for_you_half_life_days),
            lambda top: (
                self._related(conn, shop_id, "also_bought", top, limit, skip) if top else []
            ),
            lambda: self._bestsellers(conn, shop_id, (), None, limit, skip),
            limit,
            skip,
            self.tuning,
        )

    # --- reading helpers -----------------------------------------------------------------

    def _total(self, conn: Connection, shop_id: str, name: str) -> float:
        value = conn.execute(
            select(counters.c.value).where(counters.c.shop_id == shop_id, counters.c.name == name)
        ).scalar()
        return float(value or 0)

    def _visitor_keys(self, conn: Connection, shop_id: str, visitor: Visitor) -> list[str]:
        """Every history key of this visitor: anonymous browsing is stitched to the customer
        the collector's ``identities`` links it to, and the customer's other devices."""
        user_id = visitor.user_id
        if not user_id and visitor.anonymous_id:
            user_id = conn.execute(
                select(identities.c.user_id).where(
                    identities.c.shop_id == shop_id,
                    identities.c.anonymous_id == visitor.anonymous_id,
                )
            ).scalar()
        keys = [f"a:{visitor.anonymous_id}"] if visitor.anonymous_id else []
        if user_id:
            keys.append(f"u:{user_id}")
            keys += [
                f"a:{row.anonymous_id}"
                for row in conn.execute(
                    select(identities.c.anonymous_id).where(
                        identities.c.shop_id == shop_id, identities.c.user_id == user_id
                    )
                )
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
                row.product_id
                for row in conn.execute(
                    select(rec_order_items.c.product_id).where(
                        rec_order_items.c.shop_id == shop_id,
                        rec_order_items.c.order_id == order_id,
                    )
                )
            }
        if visitor.user_id:
            since = (now.replace(tzinfo=None) if now else _utcnow()) - JUST_BOUGHT
            found |= {
                row.product_id
                for row in conn.execute(
                    select(rec_order_items.c.product_id).where(
                        rec_order_items.c.shop_id == shop_id,
                        rec_order_items.c.user_id == visitor.user_id,
                        rec_order_items.c.placed_at >= since,
                    )
                )
            }
        return found

    def cards(self, conn: Connection, shop_id: str, product_ids: Sequence[str]) -> list[Card]:
        """Cards in the given order; a product without a name is left out."""
        if not product_ids:
            return []
        rows = {
            row.product_id: row
            for row in conn.execute(
                select(rec_items).where(
                    rec_items.c.shop_id == shop_id, rec_items.c.product_id.in_(list(product_ids))
                )
            )
        }
        cards = []
        for product_id in product_ids:
            row = rows.get(product_id)
            if row is None or not row.name or row.in_stock is False:
                continue
            cards.append(
                Card(
                    product_id=product_id,
                    name=row.name,
                    price=row.price,
                    currency=row.currency,
                    image_url=row.image_url,
                    url=row.url,
                    category=row.category,
                )
            )
        return cards


def _utcnow() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


def _interleave(lists: Sequence[list[str]], limit: int) -> list[str]:
    """Round-robin over several seeds' lists (a cart), each product once."""
    chosen: list[str] = []
    for position in range(max((len(items) for items in lists), default=0)):
        for items in lists:
            if position < len(items) and items[position] not in chosen:
                chosen.append(items[position])
    return chosen[:limit]
