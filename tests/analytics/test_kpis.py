"""Every KPI on the hand-computed week of dataset.py, on SQLite and PostgreSQL.

The expected numbers are worked out in the comments from the dataset's story, not read back
from the code.
"""

from __future__ import annotations

import random
from datetime import date
from typing import Any

import pytest
from sqlalchemy import delete, update

from cx_sdk.analytics.kpis import Period
from cx_sdk.analytics.rebuild import rebuild
from cx_sdk.analytics.tables import (
    analytics_customers,
    analytics_daily,
    analytics_orders,
)
from cx_sdk.server import CreatedShop, Store

from .conftest import ingest_all, kpis
from .dataset import ev, week


def test_survey_scores_count_only_the_period(store: Store, week_shop: CreatedShop) -> None:
    k = kpis(store, week_shop.shop.id)["kpis"]
    # NPS 10, 9, 9, 8, 3: promoters 3, detractors 1 → (3 − 1) / 5 = 40; the 0 of 09-27 is out.
    assert (k["nps"], k["nps_answers"], k["nps_promoters"], k["nps_detractors"]) == (40.0, 5, 3, 1)
    # CSAT 5, 4, 2 → 2 of 3 are 4–5.
    assert (k["csat"], k["csat_answers"]) == (66.7, 3)
    # CES 7, 5, 4, 1 → 2 of 4 are 5–7.
    assert (k["ces"], k["ces_answers"]) == (50.0, 4)


def test_funnel_counts_people_across_their_anonymous_and_identified_ids(
    store: Store, week_shop: CreatedShop
) -> None:
    k = kpis(store, week_shop.shop.id)["kpis"]
    steps = [(s["step"], s["customers"], s["customers_any"], s["drop_off"]) for s in k["funnel"]]
    assert steps == [
        # A, B, C and D (D's anonymous view belongs to u-d after the identify)
        ("Product Viewed", 4, 4, None),
        # A, B, D → 1 − 3/4
        ("Product Added", 3, 3, 0.25),
        ("Checkout Started", 3, 3, 0.0),
        # A and D went all the way; E ordered without a view (counted in customers_any)
        ("Order Completed", 2, 3, 0.3333),
    ]
    assert k["conversion_rate"] == 0.5


def test_checkout_abandonment_uses_the_24_hour_window(store: Store, week_shop: CreatedShop) -> None:
    k = kpis(store, week_shop.shop.id)["kpis"]
    # chk-a ordered after 30 min; chk-b never; chk-d's order came 25 hours later.
    assert (k["checkouts"], k["checkout_abandonment_rate"]) == (3, 0.6667)


def test_order_kpis(store: Store, week_shop: CreatedShop) -> None:
    k = kpis(store, week_shop.shop.id)["kpis"]
    # o-a1 100, o-a2 50, o-d1 80, o-e1 200
    assert (k["orders"], k["revenue"], k["average_order_value"]) == (4, 430.0, 107.5)
    assert k["customers_with_order"] == 3  # A, D, E
    # A ordered twice in the week, E had ordered before it; D once → 2/3
    assert k["repeat_purchase_rate"] == 0.6667
    # E and F ordered the week before; F did not come back → 1/2
    assert k["churn_rate"] == 0.5
    assert k["customers_with_order_before"] == 2
    # all revenue up to 10-07 (430 + 40 + 60) over every customer with an order (A, D, E, F)
    assert k["clv"] == 132.5
    # o-a1 had a return requested (twice: still one order) → 1/4; refunded 30 of 430
    assert k["return_rate"] == 0.25
    assert k["refund_rate"] == 0.0698


def test_delivery_kpis(store: Store, week_shop: CreatedShop) -> None:
    k = kpis(store, week_shop.shop.id)["kpis"]
    assert k["delivered"] == 3  # the repeated delivery of s-a1 counts once
    # s-a1 on time, s-e1 a day late, s-d1 had no promised date → 1/2
    assert k["on_time_delivery_rate"] == 0.5
    # (2 d 4.5 h + 3 d 1 h + 2 d) / 3 = (2.1875 + 3.041667 + 2) / 3 = 2.4097
    assert k["average_delivery_days"] == 2.41


def test_chat_medians_skip_missing_first_responses(store: Store, week_shop: CreatedShop) -> None:
    k = kpis(store, week_shop.shop.id)["kpis"]
    assert k["chats"] == 3
    assert k["chat_first_response_median_seconds"] == 60.0  # median of 30 and 90
    assert k["chat_resolution_median_seconds"] == 600.0  # median of 300, 600, 1200


def test_recommendation_click_through_per_strategy(store: Store, week_shop: CreatedShop) -> None:
    k = kpis(store, week_shop.shop.id)["kpis"]
    assert k["recommendations"] == {
        "popular": {"shown": 2, "clicked": 0, "click_through_rate": 0.0},
        "similar": {"shown": 4, "clicked": 1, "click_through_rate": 0.25},
    }


def test_comment_sentiment_and_the_words_behind_negative_ones(
    store: Store, week_shop: CreatedShop
) -> None:
    s = kpis(store, week_shop.shop.id)["kpis"]["sentiment"]
    # three survey comments and one chat message; two are negative
    assert s["comments"] == 4
    assert s["comments_by_label"] == {"positive": 2, "neutral": 0, "negative": 2}
    assert s["negative_share"] == 0.5
    words = {w["word"]: w["comments"] for w in s["negative_words"]}
    assert words == {"beschädigt": 1, "arrived late": 1, "damaged": 1}


def test_stage_distribution_and_channel_mix(store: Store) -> None:
    shop = store.create_shop("Kanalladen").shop.id
    ingest_all(
        store,
        shop,
        [
            ev("Product Viewed", "10-02T09:00", "u-1", channel="web", product_id="p"),
            ev("Product Viewed", "10-02T09:00", "u-2", channel="app", product_id="p"),
            ev("Products Searched", "10-02T09:00", "u-2", channel="app", query="schuh"),
            ev(
                "Order Completed",
                "10-03T09:00",
                "u-1",
                channel="email",
                order_id="o",
                total="1",
                currency="EUR",
            ),
            ev(None, "10-03T09:00", "u-1", kind="identify"),  # no stage: not counted
        ],
    )
    k = kpis(store, shop)["kpis"]
    assert k["stages"] == {
        "awareness": 1,
        "consideration": 2,
        "purchase": 1,
        "retention": 0,
        "advocacy": 0,
    }
    assert k["channels"] == {"app": 2, "email": 1, "web": 1}


def test_a_kpi_without_data_is_null_never_zero(store: Store) -> None:
    shop = store.create_shop("Leer").shop.id
    k = kpis(store, shop)["kpis"]
    for name in (
        "nps",
        "csat",
        "ces",
        "conversion_rate",
        "checkout_abandonment_rate",
        "repeat_purchase_rate",
        "churn_rate",
        "clv",
        "average_order_value",
        "return_rate",
        "refund_rate",
        "on_time_delivery_rate",
        "average_delivery_days",
        "chat_first_response_median_seconds",
        "chat_resolution_median_seconds",
    ):
        assert k[name] is None, name
    assert k["sentiment"]["negative_share"] is None


def test_trend_buckets_add_up_to_the_period(store: Store, week_shop: CreatedShop) -> None:
    data = kpis(store, week_shop.shop.id, bucket="day")
    trend = data["trend"]
    assert [b["from"] for b in trend] == [f"2026-10-0{d}" for d in range(1, 8)]
    assert sum(b["orders"] for b in trend) == data["kpis"]["orders"]
    assert sum(b["nps_answers"] for b in trend) == data["kpis"]["nps_answers"]
    by_day = {b["from"]: b for b in trend}
    assert by_day["2026-10-02"]["nps"] == 100.0  # 10 and 9
    assert by_day["2026-10-06"]["nps"] is None  # no answers that day
    weekly = kpis(store, week_shop.shop.id, Period(date(2026, 9, 28), date(2026, 10, 11)), "week")
    assert [(b["from"], b["to"]) for b in weekly["trend"]] == [
        ("2026-09-28", "2026-10-04"),
        ("2026-10-05", "2026-10-11"),
    ]


def _comparable(data: dict[str, Any]) -> dict[str, Any]:
    """A report without what legitimately differs: segment movements are not replayed."""
    out = {**data, "kpis": {**data["kpis"]}}
    out["kpis"].pop("segment_moves")
    out.pop("shop_id")
    return out


def test_rebuild_from_the_log_gives_the_same_numbers(store: Store, week_shop: CreatedShop) -> None:
    before = kpis(store, week_shop.shop.id)
    assert rebuild(store, week_shop.shop.id) == len(week())
    assert _comparable(kpis(store, week_shop.shop.id)) == _comparable(before)


def test_late_repeated_and_reordered_events_give_the_same_numbers(
    store: Store, week_shop: CreatedShop
) -> None:
    """The same facts delivered shuffled, in other batch sizes, some twice."""
    messages = week()
    shuffled = messages[:]
    random.Random(7).shuffle(shuffled)
    shuffled += random.Random(8).sample(messages, 10)  # re-deliveries (same message ids)
    other = store.create_shop("Durcheinander").shop.id
    ingest_all(store, other, shuffled, size=3)
    assert _comparable(kpis(store, other)) == _comparable(kpis(store, week_shop.shop.id))


@pytest.mark.parametrize("bucket", ["day", "week", "month"])
def test_every_rate_is_a_fraction_and_every_score_on_its_scale(
    store: Store, week_shop: CreatedShop, bucket: str
) -> None:
    data = kpis(store, week_shop.shop.id, Period(date(2026, 9, 1), date(2026, 10, 31)), bucket)
    for entry in [data["kpis"], *data["trend"]]:
        for name, value in entry.items():
            if value is None:
                continue
            if name.endswith("_rate"):
                assert 0 <= value <= 1, (name, value)
            if name == "nps":
                assert -100 <= value <= 100
            if name in ("csat", "ces"):
                assert 0 <= value <= 100


def _two_currencies() -> list[dict[str, Any]]:
    """u-1 buys in EUR before and in the period and once in CHF; u-2 in CHF, u-3 in EUR."""
    return [
        ev("Order Completed", "09-20T10:00", "u-1", order_id="o1", total="100", currency="EUR"),
        ev("Order Completed", "10-02T10:00", "u-1", order_id="o2", total="50", currency="EUR"),
        ev("Order Completed", "10-03T10:00", "u-2", order_id="o3", total="200", currency="CHF"),
        ev("Order Refunded", "10-04T09:00", "u-2", order_id="o3", amount="50", currency="CHF"),
        ev("Order Completed", "10-04T10:00", "u-3", order_id="o4", total="30", currency="EUR"),
        ev("Order Completed", "10-05T10:00", "u-1", order_id="o5", total="100", currency="CHF"),
    ]


def test_money_is_summed_per_currency_and_the_main_one_is_the_headline(store: Store) -> None:
    shop = store.create_shop("Grenzladen").shop.id
    ingest_all(store, shop, _two_currencies())
    k = kpis(store, shop)["kpis"]
    assert k["orders"] == 4  # o2, o3, o4, o5: counting orders needs no currency
    # EUR has 3 orders up to 10-07 (o1, o2, o4), CHF 2: EUR is the main currency.
    assert list(k["money"]) == ["EUR", "CHF"]
    assert k["currency"] == "EUR"
    # EUR in the period: o2 50 + o4 30 = 80 over 2 orders; lifetime 180 over u-1 and u-3.
    # Nothing refunded in EUR: a rate of 0, not null (there was revenue).
    assert (k["revenue"], k["average_order_value"], k["clv"], k["refund_rate"]) == (
        80.0,
        40.0,
        90.0,
        0.0,
    )
    # CHF: o3 200 + o5 100 = 300 over 2 orders; lifetime 300 over u-2 and u-1; 50 of 300 back.
    assert k["money"]["CHF"] == {
        "orders": 2,
        "revenue": 300.0,
        "refunded": 50.0,
        "average_order_value": 150.0,
        "clv": 150.0,
        "refund_rate": 0.1667,
        "lifetime_orders": 2,
    }


def test_money_per_currency_survives_rebuild_and_reordered_events(store: Store) -> None:
    messages = _two_currencies()
    first = store.create_shop("Grenzladen A").shop.id
    ingest_all(store, first, messages)
    expected = kpis(store, first)
    second = store.create_shop("Grenzladen B").shop.id
    shuffled = list(messages)
    random.Random(3).shuffle(shuffled)
    ingest_all(store, second, shuffled, size=2)
    got = kpis(store, second)
    assert got["kpis"]["money"] == expected["kpis"]["money"]
    assert got["trend"] == expected["trend"]
    rebuild(store, first)
    assert kpis(store, first)["kpis"]["money"] == expected["kpis"]["money"]


def test_a_shop_without_orders_has_no_currency(store: Store) -> None:
    shop = store.create_shop("Leer").shop.id
    k = kpis(store, shop)["kpis"]
    assert (k["currency"], k["money"], k["clv"], k["average_order_value"]) == (None, {}, None, None)


def test_an_order_aggregated_before_currencies_were_kept_moves_to_its_currency(
    store: Store,
) -> None:
    shop = store.create_shop("Altladen").shop.id
    ingest_all(store, shop, _two_currencies()[:2])  # o1 and o2, EUR, u-1
    with store.begin() as conn:  # the state migration 0008 finds: no currency anywhere
        conn.execute(
            update(analytics_daily)
            .where(analytics_daily.c.metric.in_(["revenue", "refunded"]))
            .values(key="")
        )
        conn.execute(
            delete(analytics_daily).where(
                analytics_daily.c.metric.in_(["currency_orders", "currency_first_orders"])
            )
        )
        conn.execute(update(analytics_orders).values(currency=None))
        conn.execute(update(analytics_customers).values(first_order_days=None))
    assert list(kpis(store, shop)["kpis"]["money"]) == ["XXX"]
    ingest_all(
        store,
        shop,
        [
            ev("Order Refunded", "10-06T09:00", "u-1", order_id="o2", amount="10", currency="EUR"),
            ev("Order Paid", "10-06T09:00", "u-1", order_id="o1", currency="EUR"),
        ],
    )
    k = kpis(store, shop)["kpis"]
    # Both orders were touched: nothing is left under "no currency", nothing went negative.
    assert list(k["money"]) == ["EUR"]
    assert k["money"]["EUR"] == {
        "orders": 1,
        "revenue": 50.0,
        "refunded": 10.0,
        "average_order_value": 50.0,
        "clv": 150.0,
        "refund_rate": 0.2,
        "lifetime_orders": 2,
    }


def test_an_identify_merges_first_orders_per_currency(store: Store) -> None:
    shop = store.create_shop("Gastladen").shop.id
    ingest_all(
        store,
        shop,
        [
            ev(
                "Order Completed",
                "10-02T10:00",
                anon="a-1",
                order_id="g1",
                total="100",
                currency="CHF",
            ),
            ev(None, "10-03T10:00", "u-1", anon="a-1", kind="identify"),
            ev("Order Completed", "10-04T10:00", "u-1", order_id="g2", total="50", currency="CHF"),
        ],
        size=1,
    )
    chf = kpis(store, shop)["kpis"]["money"]["CHF"]
    # The guest order and the signed-in one are one customer: 150 over 1, not over 2.
    assert (chf["orders"], chf["revenue"], chf["clv"]) == (2, 150.0, 150.0)
