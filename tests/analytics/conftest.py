"""Fixtures of the analytics tests: a shop with the hand-computed week stored."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest

from cx_sdk.analytics.kpis import Period, report
from cx_sdk.server import CreatedShop, Store

from .dataset import week

PERIOD = Period(date(2026, 10, 1), date(2026, 10, 7))


def ingest_all(store: Store, shop_id: str, messages: list[dict[str, Any]], size: int = 5) -> None:
    for start in range(0, len(messages), size):
        result = store.ingest(shop_id, messages[start : start + size])
        assert not result.rejected, result.rejected


def kpis(store: Store, shop_id: str, period: Period = PERIOD, bucket: str = "day") -> Any:
    with store.engine.connect() as conn:
        return report(conn, shop_id, period, bucket)


@pytest.fixture
def week_shop(store: Store) -> CreatedShop:
    shop = store.create_shop("Wochenladen")
    ingest_all(store, shop.shop.id, week())
    return shop
