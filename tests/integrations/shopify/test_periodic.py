"""The collector sweeps abandoned Shopify checkouts itself: no cron on the merchant's side."""

from __future__ import annotations

import time

import pytest

from cx_sdk.server import CreatedShop, Settings, Store

from .conftest import Deliver, fixture


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return settings.model_copy(
        update={"periodic_seconds": 0.05, "shopify_abandoned_after_minutes": 30}
    )


def test_server_marks_an_old_checkout_abandoned_on_its_own(
    store: Store, shopify_shop: CreatedShop, deliver: Deliver
) -> None:
    # The sample checkout was last updated in the past: far beyond 30 minutes.
    assert deliver("checkouts/create", fixture("checkouts_create.json")).status_code == 200
    deadline = time.monotonic() + 10
    found: list[dict] = []
    while not found and time.monotonic() < deadline:
        found = [e for _, e in store.iter_events(shopify_shop.shop.id, event="Checkout Abandoned")]
        time.sleep(0.05)
    assert [e["properties"]["checkout_id"] for e in found] == ["123123123"]
    time.sleep(0.2)  # further sweeps add nothing
    again = list(store.iter_events(shopify_shop.shop.id, event="Checkout Abandoned"))
    assert len(again) == 1
