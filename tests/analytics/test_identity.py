"""A person browsing anonymously and identifying later is one customer in the funnel."""

from __future__ import annotations

from cx_sdk.server import Store

from .conftest import ingest_all, kpis
from .dataset import ev, order


def test_an_identify_in_a_later_call_moves_anonymous_steps_to_the_person(store: Store) -> None:
    shop = store.create_shop("Spätlader").shop.id
    # Each call stores one message: the identify cannot be seen with the views.
    for message in (
        ev("Product Viewed", "10-02T09:00", anon="an-x", product_id="p"),
        ev("Product Added", "10-02T09:01", anon="an-x", product_id="p"),
        ev(None, "10-02T09:30", "u-x", "an-x", kind="identify"),
        ev("Checkout Started", "10-02T09:40", "u-x", checkout_id="chk-x"),
        order("o-x", "10-02T09:45", "u-x", "10.00", checkout_id="chk-x"),
        # after the identify, the same browser without the user id is still the person
        ev("Product Viewed", "10-03T09:00", anon="an-x", product_id="q"),
    ):
        ingest_all(store, shop, [message], size=1)
    k = kpis(store, shop)["kpis"]
    assert [step["customers"] for step in k["funnel"]] == [1, 1, 1, 1]
    assert k["conversion_rate"] == 1.0


def test_an_alias_moves_anonymous_steps_too(store: Store) -> None:
    shop = store.create_shop("Aliasladen").shop.id
    ingest_all(store, shop, [ev("Product Viewed", "10-02T09:00", anon="an-y", product_id="p")])
    alias = ev(None, "10-02T10:00", "u-y", kind="alias")
    alias["previousId"] = "an-y"
    ingest_all(store, shop, [alias])
    ingest_all(store, shop, [order("o-y", "10-02T11:00", "u-y", "5.00")])
    k = kpis(store, shop)["kpis"]
    assert [step["customers_any"] for step in k["funnel"]] == [1, 0, 0, 1]
    assert k["conversion_rate"] == 1.0


def test_two_browsers_of_one_person_on_one_day_become_one_customer(store: Store) -> None:
    shop = store.create_shop("Zweigerät").shop.id
    ingest_all(
        store,
        shop,
        [
            ev("Product Viewed", "10-02T09:00", anon="an-phone", product_id="p"),
            ev("Product Added", "10-02T09:05", anon="an-laptop", product_id="p"),
        ],
    )
    # Both identify later, in one call: both browsers' day moves to the same person and day.
    ingest_all(
        store,
        shop,
        [
            ev(None, "10-02T10:00", "u-z", "an-phone", kind="identify"),
            ev(None, "10-02T10:01", "u-z", "an-laptop", kind="identify"),
        ],
    )
    ingest_all(store, shop, [order("o-z", "10-02T11:00", "u-z", "5.00")])
    k = kpis(store, shop)["kpis"]
    assert [step["customers_any"] for step in k["funnel"]] == [1, 1, 0, 1]
