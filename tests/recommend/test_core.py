"""The shared scoring core on hand-made counts."""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from datetime import datetime, timedelta

import pytest

from cx_sdk.recommend import core


def test_basket_pairs_are_ordered_distinct_and_capped() -> None:
    assert sorted(core.basket_pairs(["a", "b", "a"])) == [("a", "b"), ("b", "a")]
    big = [f"p{i}" for i in range(core.MAX_BASKET + 10)]
    assert len(core.basket_pairs(big)) == core.MAX_BASKET * (core.MAX_BASKET - 1)


def test_pair_weight_falls_with_the_basket_size_and_sums_exactly() -> None:
    tuning = core.Tuning(basket_power=0.5)
    weights = [core.pair_weight(size, tuning) for size in range(2, core.MAX_BASKET + 1)]
    assert core.pair_weight(1, tuning) == 0.0
    assert weights[0] == 1.0  # a two-product order counts like before
    assert core.pair_weight(5, tuning) == 0.5  # (5 - 1) ** -0.5
    assert all(later < earlier for earlier, later in itertools.pairwise(weights))
    assert all((w / core.WEIGHT_STEP).is_integer() for w in weights)
    assert {core.pair_weight(size, core.Tuning(basket_power=0.0)) for size in (2, 9, 50)} == {1.0}
    # Added in one order and taken out in another leaves exactly nothing: a refund or a
    # rebuild never leaves a ghost pair of 1e-17.
    total = 0.0
    for weight in weights * 3:
        total += weight
    for weight in reversed(weights * 3):
        total -= weight
    assert total == 0.0


def test_decay_halves_per_half_life_and_refuses_a_short_one() -> None:
    now = datetime(2026, 11, 23)
    later = core.decay_weight(now + timedelta(days=30), 30)
    assert later / core.decay_weight(now, 30) == pytest.approx(2.0)
    with pytest.raises(ValueError, match="half-life"):
        core.decay_weight(now, 1)


def test_related_ranks_a_real_association_over_a_best_seller_bought_by_chance() -> None:
    # Seed in 1,000 of 10,000 orders; "milk" in 5,000 (co-bought 100 times, a fifth of the
    # 500 independence predicts), "filter" in 60 (co-bought 50 times: a real association).
    neighbours = [("milk", 100.0, 5000.0), ("filter", 50.0, 60.0)]
    ranked = core.related(1000, 10000, neighbours, [("milk", 5000.0)], 2)
    assert ranked == ["filter", "milk"]
    raw = core.related(1000, 10000, neighbours, [], 2, tuning=core.Tuning(shrink=0, damp=0))
    assert raw == ["milk", "filter"]


def test_related_lifts_rarer_products_only_for_a_rare_seed() -> None:
    neighbours = [("common", 2.0, 4000.0), ("niche", 1.0, 2.0)]
    rare = core.related(5, 10000, neighbours, [], 2, tuning=core.Tuning(shrink=0, damp=0.5))
    assert rare == ["niche", "common"]
    frequent = core.related(500, 10000, neighbours, [], 2, tuning=core.Tuning(shrink=0, damp=0.5))
    assert frequent == ["common", "niche"]


def test_related_fills_a_rare_seed_with_popular_products_and_excludes() -> None:
    ranked = core.related(2, 10000, [("x", 1.0, 3.0)], [("milk", 5000.0), ("bread", 3000.0)], 3)
    assert ranked == ["milk", "bread", "x"]
    assert core.related(2, 10000, [("x", 1.0, 3.0)], [("milk", 5000.0)], 3, {"milk"}) == ["x"]
    assert core.related(2, 0, [("x", 1.0, 3.0)], [], 3) == []


def test_related_prefers_the_seeds_own_category_when_the_evidence_is_close() -> None:
    # Yoghurt seed: strawberry yoghurt co-bought a little less often than bread.
    neighbours = [("bread", 30.0, 400.0), ("strawberry", 27.0, 400.0)]
    kinds = {"bread": "bakery", "strawberry": "yoghurt"}
    plain = core.Tuning(same_category=0.0, redundancy=0.0)
    assert core.related(1000, 10000, neighbours, [], 2, tuning=plain) == ["bread", "strawberry"]
    boosted = core.Tuning(same_category=0.5, redundancy=0.0)
    ranked = core.related(1000, 10000, neighbours, [], 2, (), boosted, "yoghurt", kinds)
    assert ranked == ["strawberry", "bread"]
    # Unknown categories (no category for the seed) change nothing.
    unknown = core.related(1000, 10000, neighbours, [], 2, (), boosted, None, kinds)
    assert unknown == ["bread", "strawberry"]


def test_related_spreads_the_list_over_baskets_instead_of_repeating_one() -> None:
    # "chips" and "dip" are almost always bought together: after "chips", "dip" adds little
    # chance of a useful card, while "salsa" stands on its own.
    neighbours = [("chips", 60.0, 100.0), ("dip", 58.0, 100.0), ("salsa", 50.0, 100.0)]
    together = {("dip", "chips"): 95.0, ("chips", "dip"): 95.0}
    asked: list[list[str]] = []

    def pairs_among(products: Sequence[str]) -> dict[tuple[str, str], float]:
        asked.append(list(products))
        return together

    spread = core.Tuning(shrink=0.0, redundancy=1.0, same_category=0.0)
    ranked = core.related(500, 10000, neighbours, [], 3, (), spread, pairs_among=pairs_among)
    assert ranked == ["chips", "salsa", "dip"]
    assert sorted(asked[0]) == ["chips", "dip", "salsa"]
    without = core.Tuning(shrink=0.0, redundancy=0.0, same_category=0.0)
    assert core.related(500, 10000, neighbours, [], 3, (), without, pairs_among=pairs_among) == [
        "chips",
        "dip",
        "salsa",
    ]


def test_bestsellers_and_recently_viewed_order_and_ties() -> None:
    assert core.bestsellers([("b", 2.0), ("a", 2.0), ("c", 5.0)], 3, {"c"}) == ["a", "b"]
    t = datetime(2026, 11, 23, 10)
    views = [("a", t), ("b", t + timedelta(minutes=1)), ("a", t + timedelta(minutes=2))]
    assert core.recently_viewed(views, 5) == ["a", "b"]
    assert core.recently_viewed(views, 5, {"a"}) == ["b"]


def test_for_you_falls_back_to_neighbours_then_the_fallback() -> None:
    ranked = core.for_you(
        [("coffee", 2.0, 0.0)],
        [],
        0,
        1.0,
        lambda top: ["filter", "coffee"] if top == ["coffee"] else [],
        lambda: ["tea", "filter"],
        3,
    )
    assert ranked == ["coffee", "filter", "tea"]
