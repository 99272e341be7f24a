"""Erase and export reach every analytics table that holds a customer's rows."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from cx_sdk.analytics import rebuild
from cx_sdk.analytics.tables import TABLES, analytics_daily
from cx_sdk.server import CreatedShop, Store

from ..server.helpers import ErasureRace


def _rows_of(store: Store, shop_id: str, user_id: str, anonymous_id: str) -> dict[str, int]:
    counts = {}
    with store.engine.connect() as conn:
        for table in TABLES:
            if table is analytics_daily:
                continue
            filters = []
            if "user_id" in table.c:
                filters.append(table.c.user_id == user_id)
            if "anonymous_id" in table.c:
                filters.append(table.c.anonymous_id == anonymous_id)
            condition = filters[0] if len(filters) == 1 else filters[0] | filters[1]
            counts[table.name] = conn.execute(
                select(func.count()).where(table.c.shop_id == shop_id, condition)
            ).scalar_one()
    return counts


def test_erase_removes_the_customer_from_every_analytics_table(
    store: Store, week_shop: CreatedShop
) -> None:
    shop_id = week_shop.shop.id
    before = _rows_of(store, shop_id, "u-d", "an-d")
    # D left a trace in the funnel, an order, a checkout, a shipment and a segment.
    for table in (
        "analytics_customer_days",
        "analytics_customers",
        "analytics_orders",
        "analytics_checkouts",
        "analytics_shipments",
    ):
        assert before[table] > 0, table
    exported = store.export_customer(shop_id, user_id="u-d")["tables"]
    assert exported["analytics_orders"][0]["order_id"] == "o-d1"
    assert {row["customer"] for row in exported["analytics_customer_days"]} == {"u:u-d"}
    store.erase_customer(shop_id, user_id="u-d")
    assert set(_rows_of(store, shop_id, "u-d", "an-d").values()) == {0}
    assert not store.has_customer_data(shop_id, "u-d")
    # A's rows (another customer) are still there.
    assert _rows_of(store, shop_id, "u-a", "")["analytics_orders"] == 2


def test_comment_and_chat_rows_are_erased_with_their_author(
    store: Store, week_shop: CreatedShop
) -> None:
    shop_id = week_shop.shop.id
    assert _rows_of(store, shop_id, "u-b", "")["analytics_chats"] == 3
    assert _rows_of(store, shop_id, "u-a", "")["analytics_comments"] == 3
    store.erase_customer(shop_id, user_id="u-b")
    store.erase_customer(shop_id, user_id="u-a")
    counts = {**_rows_of(store, shop_id, "u-b", ""), **_rows_of(store, shop_id, "u-a", "")}
    assert counts["analytics_chats"] == 0 and counts["analytics_comments"] == 0


def test_an_erase_during_a_rebuild_leaves_nothing_the_rebuild_wrote(
    store: Store, week_shop: CreatedShop, monkeypatch: pytest.MonkeyPatch
) -> None:
    shop_id = week_shop.shop.id
    race = ErasureRace()
    monkeypatch.setattr(rebuild.aggregates, "project", race.hold(rebuild.aggregates.project))
    race.run(store, shop_id, "u-d", lambda: rebuild.rebuild(store, shop_id))
    assert set(_rows_of(store, shop_id, "u-d", "an-d").values()) == {0}
    assert _rows_of(store, shop_id, "u-a", "")["analytics_orders"] == 2
