"""RFM personas: the grid, incremental scoring on ingest, rescoring as time passes."""

from __future__ import annotations

from datetime import date

import pytest

from cx_sdk.analytics import segment_of
from cx_sdk.analytics.jobs import rescore_shop
from cx_sdk.analytics.personas import SEGMENTS, classify, frequency_score, recency_score, segment
from cx_sdk.server import Store

from .conftest import PERIOD, ingest_all, kpis
from .dataset import order


def test_every_recency_frequency_pair_has_one_of_the_eight_segments() -> None:
    found = {classify(r, f) for r in range(1, 6) for f in range(1, 6)}
    assert found == set(SEGMENTS)


@pytest.mark.parametrize(
    ("days", "orders", "expected"),
    [
        (3, 1, "new"),
        (45, 1, "promising"),
        (10, 2, "promising"),
        (5, 6, "champions"),
        (50, 4, "champions"),
        (90, 3, "loyal"),
        (90, 1, "needs_attention"),
        (200, 5, "at_risk"),
        (400, 3, "at_risk"),
        (200, 1, "hibernating"),
        (400, 2, "lost"),
    ],
)
def test_segment_of_recency_and_frequency(days: int, orders: int, expected: str) -> None:
    on = date(2026, 11, 23)
    assert segment(on, date.fromordinal(on.toordinal() - days), orders) == expected


def test_scores_step_at_the_documented_boundaries() -> None:
    assert [recency_score(d) for d in (0, 30, 31, 60, 61, 120, 121, 240, 241)] == [
        5,
        5,
        4,
        4,
        3,
        3,
        2,
        2,
        1,
    ]
    assert [frequency_score(n) for n in (1, 2, 3, 4, 5, 6, 20)] == [1, 2, 3, 4, 4, 5, 5]


def test_segments_follow_orders_and_time_and_movements_are_counted(store: Store) -> None:
    shop = store.create_shop("Stammkunden").shop.id
    today = date.today()
    at = f"{today:%m-%d}T08:00"
    year = today.year

    def placed(order_id: str) -> dict[str, object]:
        message = order(order_id, at, "u-p", "20.00")
        message["timestamp"] = f"{year}-{at}:00Z"
        return message

    ingest_all(store, shop, [placed("p1")])
    assert segment_of(store, shop, "u-p") == "new"
    assert segment_of(store, shop, "nobody") is None
    ingest_all(store, shop, [placed("p2"), placed("p3"), placed("p4")])
    assert segment_of(store, shop, "u-p") == "champions"
    # 130 days later nothing was ordered: the daily job moves the customer on.
    later = date.fromordinal(today.toordinal() + 130)
    assert rescore_shop(store, shop, on=date.fromordinal(today.toordinal() + 1)) == 1
    assert rescore_shop(store, shop, on=later) == 1
    assert segment_of(store, shop, "u-p") == "at_risk"
    assert rescore_shop(store, shop, on=later) == 0  # once a day
    period = type(PERIOD)(today, later)
    moves = kpis(store, shop, period, "month")["kpis"]["segment_moves"]
    assert {(m["from"], m["to"]): m["customers"] for m in moves} == {
        (None, "new"): 1,
        ("new", "champions"): 1,
        ("champions", "at_risk"): 1,
    }
    assert kpis(store, shop, period, "month")["segments"]["at_risk"] == 1


def test_rescoring_only_reads_customers_whose_recency_crossed_a_boundary(store: Store) -> None:
    shop = store.create_shop("Viele").shop.id
    today = date.today()
    messages = []
    for index, days_ago in enumerate((1, 10, 29, 100)):
        day = date.fromordinal(today.toordinal() - days_ago)
        message = order(f"o{index}", "01-01T08:00", f"u{index}", "5.00")
        message["timestamp"] = f"{day.isoformat()}T08:00:00Z"
        messages.append(message)
    ingest_all(store, shop, messages)
    rescore_shop(store, shop, on=today)
    # Two days on, only the customer whose last order turned 31 days old changes score.
    assert rescore_shop(store, shop, on=date.fromordinal(today.toordinal() + 2)) == 1
    assert segment_of(store, shop, "u2") == "promising"
    assert segment_of(store, shop, "u1") == "new"
