"""Strategies on hand-made data, through ingest (the projector) and the store-backed engine,
on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from cx_sdk.recommend import core
from cx_sdk.recommend.engine import Engine, Visitor
from cx_sdk.recommend.tables import rec_history, rec_order_items, rec_pairs
from cx_sdk.server import CreatedShop, Store

DAY = "2026-11-{:02d}T10:00:00Z"


def order(
    order_id: str, user: str | None, items: list[str], day: int = 1, **extra: Any
) -> dict[str, Any]:
    return {
        "type": "track",
        "event": "Order Completed",
        "userId": user,
        "anonymousId": None if user else f"anon-{order_id}",
        "timestamp": DAY.format(day),
        "messageId": f"order-{order_id}",
        "properties": {
            "order_id": order_id,
            "currency": "EUR",
            "products": [
                {"product_id": p, "name": f"Product <{p}>", "price": "9.90", **extra} for p in items
            ],
        },
    }


def view(
    visitor: str, product: str, minute: int, user: str | None = None, **props: Any
) -> dict[str, Any]:
    message: dict[str, Any] = {
        "type": "track",
        "event": "Product Viewed",
        "anonymousId": visitor,
        "timestamp": f"2026-11-20T10:{minute:02d}:00Z",
        "messageId": f"view-{visitor}-{product}-{minute}",
        "properties": {"product_id": product, "name": product.upper(), **props},
    }
    if user:
        message["userId"] = user
    return message


def ids(cards: list[Any]) -> list[str]:
    return [card.product_id for card in cards]


def test_also_bought_ranks_the_strongest_co_purchase_first(store: Store, shop: CreatedShop) -> None:
    shop_id = shop.shop.id
    store.ingest(
        shop_id,
        [
            order("1", "u1", ["a", "b", "c"]),
            order("2", "u2", ["a", "b"]),
            order("3", "u3", ["a", "b", "d"]),
            order("4", "u4", ["c", "d"]),
        ],
    )
    cards = Engine(store).recommend(shop_id, "also_bought", products=["a"], limit=3)
    assert ids(cards)[0] == "b"
    assert "a" not in ids(cards)
    assert cards[0].name == "Product <b>" and cards[0].price == "9.90"


def test_a_redelivered_order_is_counted_once(store: Store, shop: CreatedShop) -> None:
    shop_id = shop.shop.id
    first = order("1", "u1", ["a", "b"])
    again = {**first, "messageId": "order-1-redelivered"}
    store.ingest(shop_id, [first, {**first, "messageId": "order-1-same-batch"}])
    store.ingest(shop_id, [again])
    with store.engine.connect() as conn:
        rows = conn.execute(rec_pairs.select().where(rec_pairs.c.shop_id == shop_id)).all()
    assert sorted((r.product_id, r.other_id, r.together) for r in rows) == [
        ("a", "b", 1.0),
        ("b", "a", 1.0),
    ]


def _pairs(store: Store, shop_id: str) -> dict[tuple[str, str], float]:
    with store.engine.connect() as conn:
        return {
            (r.product_id, r.other_id): r.together
            for r in conn.execute(rec_pairs.select().where(rec_pairs.c.shop_id == shop_id))
            if r.together
        }


def test_large_baskets_count_less_and_refunds_take_out_what_they_added(
    store: Store, shop: CreatedShop
) -> None:
    """The stored counts are ``core.pair_weight`` sums (what the bench measures): a product
    bought with the seed in two small orders outranks one that shared three big ones."""
    shop_id = shop.shop.id
    filler = [[f"f{i}-{j}" for j in range(8)] for i in range(3)]
    baskets = [["a", "big", *filler[i]] for i in range(3)] + [["a", "small"], ["a", "small"]]
    store.ingest(shop_id, [order(str(i), f"u{i}", b) for i, b in enumerate(baskets)])
    weight = core.pair_weight(10)
    assert 3 * weight < 2  # what the case needs of the default power: 9 ** -0.375 ≈ 0.44
    stored = _pairs(store, shop_id)
    assert stored[("a", "big")] == 3 * weight and stored[("a", "small")] == 2.0
    # The plain ranking by the stored counts (raw counts would put "big" first).
    plain = core.Tuning(shrink=0.0, damp=0.0, same_category=0.0, redundancy=0.0)
    ranked = ids(Engine(store, plain).recommend(shop_id, "also_bought", products=["a"], limit=2))
    assert ranked == ["small", "big"]

    # Refunding one product of a big order re-weighs the rest: the counts equal those of a
    # shop that only ever saw the smaller order.
    refund = {
        "type": "track",
        "event": "Order Refunded",
        "userId": "u0",
        "timestamp": DAY.format(3),
        "messageId": "refund-big",
        "properties": {
            "order_id": "0",
            "amount": "9.90",
            "currency": "EUR",
            "products": [{"product_id": "big"}],
        },
    }
    store.ingest(shop_id, [refund])
    other = store.create_shop("remaining").shop.id
    remaining = [["a", *filler[0]], *baskets[1:]]
    store.ingest(other, [order(str(i), f"u{i}", b) for i, b in enumerate(remaining)])
    assert _pairs(store, shop_id) == _pairs(store, other)


def test_full_refund_takes_the_order_back_out(store: Store, shop: CreatedShop) -> None:
    shop_id = shop.shop.id
    store.ingest(shop_id, [order("1", "u1", ["a", "b"]), order("2", "u2", ["a", "c"])])
    refund = {
        "type": "track",
        "event": "Order Refunded",
        "userId": "u1",
        "timestamp": DAY.format(3),
        "messageId": "refund-1",
        "properties": {
            "order_id": "1",
            "amount": "19.80",
            "currency": "EUR",
            "refund_type": "full",
        },
    }
    store.ingest(shop_id, [refund, {**refund, "messageId": "refund-1-again"}])
    cards = Engine(store).recommend(shop_id, "also_bought", products=["a"], limit=3)
    assert ids(cards)[0] == "c"
    with store.engine.connect() as conn:
        together = {
            (r.product_id, r.other_id): r.together
            for r in conn.execute(rec_pairs.select().where(rec_pairs.c.shop_id == shop_id))
        }
    assert together[("a", "b")] == 0.0 and together[("a", "c")] == 1.0


def test_partial_refund_removes_only_the_listed_product(store: Store, shop: CreatedShop) -> None:
    shop_id = shop.shop.id
    store.ingest(shop_id, [order("1", "u1", ["a", "b", "c"])])
    store.ingest(
        shop_id,
        [
            {
                "type": "track",
                "event": "Order Refunded",
                "userId": "u1",
                "timestamp": DAY.format(3),
                "messageId": "refund-b",
                "properties": {
                    "order_id": "1",
                    "amount": "9.90",
                    "currency": "EUR",
                    "products": [{"product_id": "b"}],
                },
            }
        ],
    )
    with store.engine.connect() as conn:
        together = {
            (r.product_id, r.other_id): r.together
            for r in conn.execute(rec_pairs.select().where(rec_pairs.c.shop_id == shop_id))
        }
    assert together[("a", "c")] == 1.0
    assert together[("a", "b")] == 0.0 and together[("c", "b")] == 0.0


def test_out_of_stock_and_nameless_products_are_never_shown(
    store: Store, shop: CreatedShop
) -> None:
    shop_id = shop.shop.id
    store.ingest(shop_id, [order("1", "u1", ["a", "b", "c"]), order("2", "u2", ["a", "b"])])
    store.ingest(shop_id, [view("v1", "b", 1, in_stock=False)])
    nameless = order("3", "u3", ["a", "x"])
    nameless["properties"]["products"][1].pop("name")
    store.ingest(shop_id, [nameless])
    shown = ids(Engine(store).recommend(shop_id, "also_bought", products=["a"], limit=5))
    assert "b" not in shown and "x" not in shown and "c" in shown


def test_bestsellers_prefer_recent_sales_and_the_seed_category(
    store: Store, shop: CreatedShop
) -> None:
    shop_id = shop.shop.id
    old = [order(f"old{i}", f"o{i}", ["old"], day=1) for i in range(3)]
    # 3 sales 60 days ago weigh less than 2 today with a 30-day half-life.
    for message in old:
        message["timestamp"] = "2026-09-01T10:00:00Z"
    fresh = [order(f"new{i}", f"n{i}", ["new"], day=1) for i in range(2)]
    store.ingest(shop_id, [*old, *fresh])
    assert ids(Engine(store).recommend(shop_id, "bestsellers", limit=2)) == ["new", "old"]
    store.ingest(
        shop_id, [view("v", "shoe", 1, category="Schuhe"), view("v", "boot", 2, category="Schuhe")]
    )
    store.ingest(shop_id, [order("s1", "s", ["boot"])])
    assert ids(Engine(store).recommend(shop_id, "bestsellers", products=["shoe"], limit=1)) == [
        "boot"
    ]


def test_recently_viewed_follows_the_visitor_across_identify(
    store: Store, shop: CreatedShop
) -> None:
    shop_id = shop.shop.id
    store.ingest(shop_id, [view("anon-1", "a", 1), view("anon-1", "b", 2)])
    engine = Engine(store)
    assert ids(
        engine.recommend(shop_id, "recently_viewed", visitor=Visitor(anonymous_id="anon-1"))
    ) == ["b", "a"]
    store.ingest(
        shop_id,
        [{"type": "identify", "userId": "u9", "anonymousId": "anon-1", "messageId": "id-1"}],
    )
    store.ingest(shop_id, [view("anon-2", "c", 3, user="u9")])
    assert ids(engine.recommend(shop_id, "recently_viewed", visitor=Visitor(user_id="u9"))) == [
        "c",
        "b",
        "a",
    ]
    assert (
        ids(engine.recommend(shop_id, "recently_viewed", visitor=Visitor(anonymous_id="other")))
        == []
    )


def test_also_viewed_pairs_products_of_one_session(store: Store, shop: CreatedShop) -> None:
    shop_id = shop.shop.id
    store.ingest(
        shop_id,
        [
            view("s1", "a", 1),
            view("s1", "b", 2),
            view("s2", "a", 3),
            view("s2", "c", 4),
            view("s3", "a", 5),
            view("s3", "b", 6),
        ],
    )
    assert ids(Engine(store).recommend(shop_id, "also_viewed", products=["a"], limit=2)) == [
        "b",
        "c",
    ]


def test_for_you_ranks_the_customers_own_products_with_a_popularity_prior(
    store: Store, shop: CreatedShop
) -> None:
    shop_id = shop.shop.id
    store.ingest(
        shop_id,
        [
            order("1", "u1", ["coffee", "milk"], day=1),
            order("2", "u1", ["coffee"], day=2),
            order("3", "u2", ["coffee", "filter"], day=2),
            *(order(f"t{i}", f"t{i}", ["tea"], day=3) for i in range(4)),
            *(order(f"x{i}", f"x{i}", [f"x{i}"], day=3) for i in range(20)),
        ],
    )
    engine = Engine(store)
    mine = ids(engine.recommend(shop_id, "for_you", visitor=Visitor(user_id="u1"), limit=3))
    # coffee: 2 own purchases + 3/27 of all orders; tea: 4/27; milk: 1 own + 1/27.
    assert mine == ["coffee", "tea", "milk"]
    new = ids(engine.recommend(shop_id, "for_you", visitor=Visitor(anonymous_id="new"), limit=2))
    assert new == ["tea", "coffee"]  # the shop's most frequent products for a new visitor
    assert ids(engine.recommend(shop_id, "for_you", limit=2)) == new


def test_what_was_just_bought_is_not_offered_again(store: Store, shop: CreatedShop) -> None:
    shop_id = shop.shop.id
    store.ingest(shop_id, [order("1", "u1", ["a", "b"]), order("2", "u2", ["a", "c"])])
    cards = Engine(store).recommend(shop_id, "also_bought", products=["a"], order_id="1", limit=4)
    assert "b" not in ids(cards) and "c" in ids(cards)


def test_engine_lists_equal_the_core_on_the_same_counts(store: Store, shop: CreatedShop) -> None:
    """The bench's model is the engine's: same counts in, same ranking out, including the
    seed's category and the pair counts among candidates that spread the list."""
    shop_id = shop.shop.id
    baskets = [
        ["a", "b", "c"],
        ["a", "b"],
        ["a", "b", "f"],
        ["a", "d"],
        ["b", "d"],
        ["c", "d", "e"],
        ["a", "e", "f"],
        ["b", "f"],
    ]
    kinds = {"a": "dairy", "b": "bakery", "c": "dairy", "d": "fruit", "e": "dairy", "f": None}
    messages = [order(str(i), f"u{i}", b) for i, b in enumerate(baskets)]
    for message in messages:
        for line in message["properties"]["products"]:
            if kinds[line["product_id"]]:
                line["category"] = kinds[line["product_id"]]
    store.ingest(shop_id, messages)
    counts: dict[tuple[str, str], float] = {}
    for basket in baskets:
        for pair in core.basket_pairs(basket):
            counts[pair] = counts.get(pair, 0.0) + core.pair_weight(len(basket))
    size = {p: sum(p in b for b in baskets) for b in baskets for p in b}
    neighbours = [(o, float(c), float(size[o])) for (s, o), c in counts.items() if s == "a"]
    popular = sorted(((p, float(n)) for p, n in size.items()), key=lambda kv: (-kv[1], kv[0]))

    def pairs_among(products: Sequence[str]) -> dict[tuple[str, str], float]:
        return {(s, o): float(c) for (s, o), c in counts.items() if s in products and o in products}

    for tuning in (core.DEFAULT, core.Tuning(same_category=2.0, redundancy=2.0, pool=3)):
        expected = core.related(
            size["a"],
            len(baskets),
            neighbours,
            popular,
            4,
            {"a"},
            tuning,
            "dairy",
            kinds,
            pairs_among,
        )
        got = ids(Engine(store, tuning).recommend(shop_id, "also_bought", products=["a"], limit=4))
        assert got == expected[: len(got)] and len(got) == 4


def test_erase_and_export_reach_the_customer_tables(store: Store, shop: CreatedShop) -> None:
    shop_id = shop.shop.id
    store.ingest(shop_id, [order("1", "u1", ["a", "b"]), view("anon-1", "a", 1, user="u1")])
    exported = store.export_customer(shop_id, user_id="u1")
    assert exported["tables"]["rec_history"] and exported["tables"]["rec_order_items"]
    store.erase_customer(shop_id, user_id="u1")
    with store.engine.connect() as conn:
        for table in (rec_history, rec_order_items):
            assert conn.execute(table.select().where(table.c.shop_id == shop_id)).all() == []


def test_rebuild_from_the_event_log_gives_the_same_counts(store: Store, shop: CreatedShop) -> None:
    from cx_sdk.recommend.cli import rebuild
    from cx_sdk.recommend.tables import rec_items

    shop_id = shop.shop.id
    store.ingest(shop_id, [order("1", "u1", ["a", "b", "c"]), order("2", "u2", ["a", "b"])])
    store.ingest(shop_id, [view("s1", "a", 1), view("s1", "b", 2)])

    def snapshot() -> tuple[list[Any], list[Any]]:
        with store.engine.connect() as conn:
            pairs = sorted(tuple(r) for r in conn.execute(rec_pairs.select()))
            items = sorted(
                (r.product_id, r.baskets, r.views, round(r.trend / 1e30, 6))
                for r in conn.execute(rec_items.select())
            )
        return pairs, items

    before = snapshot()
    assert rebuild(store, shop_id) == 4
    assert snapshot() == before


def test_concurrent_ingest_loses_no_increment(store: Store, shop: CreatedShop) -> None:
    import threading

    shop_id = shop.shop.id
    errors: list[BaseException] = []

    def worker(start: int) -> None:
        try:
            for i in range(start, start + 10):
                store.ingest(shop_id, [order(f"c{i}", f"u{i}", ["a", "b"])])
        except BaseException as error:  # pragma: no cover - reported below
            errors.append(error)

    threads = [threading.Thread(target=worker, args=(n * 10,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    with store.engine.connect() as conn:
        together = conn.execute(
            rec_pairs.select().where(rec_pairs.c.shop_id == shop_id, rec_pairs.c.product_id == "a")
        ).one()
    assert together.together == 40.0


def test_a_batchs_views_keep_each_ones_product_data_by_value_and_type(
    store: Store, shop: CreatedShop
) -> None:
    """Views are read once per distinct product data; 1 and 1.0 are equal but not the same
    price, and a list among the values is no key."""
    from cx_sdk.recommend.tables import rec_items

    shop_id = shop.shop.id
    result = store.ingest(
        shop_id,
        [
            view("s1", "a", 1, price=1, currency="EUR"),
            view("s2", "a", 2, price=1.0, currency="EUR"),
            view("s3", "b", 3, price=2, currency="EUR", in_stock=True),
            view("s4", "b", 4, price=2, currency="EUR", stock=[1]),
        ],
    )
    assert len(result.accepted) == 4
    with store.engine.connect() as conn:
        items = {r.product_id: (r.price, r.in_stock) for r in conn.execute(rec_items.select())}
    assert items == {"a": ("1.0", None), "b": ("2", True)}
