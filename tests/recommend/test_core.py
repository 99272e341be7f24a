"""The shared scoring core on hand-made counts."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from cx_sdk.recommend import core


def test_basket_pairs_are_ordered_distinct_and_capped() -> None:
    assert sorted(core.basket_pairs(["a", "b", "a"])) == [("a", "b"), ("b", "a")]
    big = [f"p{i}" for i in range(core.MAX_BASKET + 10)]
    assert len(core.basket_pairs(big)) == core.MAX_BASKET * (core.MAX_BASKET - 1)


def test_decay_halves_per_half_life_and_refuses_a_short_one() -> None:
    now = datetime(2026, 11, 23)
    later = core.decay_weight(now + timedelta(days=30), 30)
    assert later / core.decay_weight(now, 30) == pytest.approx(2.0)
    with pytest.raises(ValueError, match="half-life"):
        core.decay_weight(now, 1)


def test_related_ranks_a_real_association_over_a_best_seller_bought_by_chance() -> None:
    # Seed in 1,000 of 10,000 orders; "milk" in 5,000 (co-bought 200 times, less than the
    # 500 independence predicts), "filter" in 60 (co-bought 50 times: a real association).
    neighbours = [("milk", 200.0, 5000.0), ("filter", 50.0, 60.0)]
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
