"""The tracking widget over real projections: lookup, timeline, punctuality, problems."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from starlette.testclient import TestClient

from cx_sdk.server import CreatedShop, Settings, Store
from cx_sdk.widgets.tokens import shop_key
from cx_sdk.widgets.tracking import customer_token

from .journeys import (
    EMAIL,
    T0,
    full_journey,
    ingest,
    placed,
    refunded,
    return_requested,
    shipped,
    status,
)


def get(client: TestClient, shop: CreatedShop, **params: str) -> str:
    response = client.get(f"/widgets/{shop.shop.id}/tracking", params=params)
    assert response.status_code == 200, response.text
    return response.text


def test_tracking_shows_the_full_timeline_in_german(
    client: TestClient, store: Store, shop: CreatedShop
) -> None:
    full_journey(store, shop.shop.id)
    html = get(client, shop, order="#1001", email=EMAIL, locale="de")
    assert 'data-cx-widget="tracking"' in html and 'lang="de"' in html
    assert "<strong>Bestellung #1001</strong>\n    · Zugestellt" in html
    for text in (
        "Bestellung #1001",
        "Bestellung aufgegeben",
        "Zahlung erhalten",
        "Versendet mit DHL",
        "Unterwegs",
        "In Zustellung",
        "Zugestellt",
        "München, DE",
        "89,90\xa0€",
        "Pünktlich zugestellt",
        "14. November 2026",
    ):
        assert text in html, text
    assert 'href="https://www.dhl.de/de/privatkunden.html?piececode=00340434161094042557"' in html


def test_tracking_in_english_by_accept_language(
    client: TestClient, store: Store, shop: CreatedShop
) -> None:
    full_journey(store, shop.shop.id)
    response = client.get(
        f"/widgets/{shop.shop.id}/tracking",
        params={"order": "1001", "email": EMAIL.upper()},
        headers={"Accept-Language": "en-GB,en;q=0.9,de;q=0.5"},
    )
    html = response.text
    assert 'lang="en"' in html and response.headers["content-language"] == "en"
    for text in (
        "Order #1001",
        "Shipped with DHL",
        "Out for delivery",
        "Delivered on time",
        "€89.90",
        "November 14, 2026",
    ):
        assert text in html, text


@pytest.mark.parametrize(
    ("order", "email"),
    [("#1001", "someone.else@example.de"), ("#9999", EMAIL), ("5002", EMAIL)],
)
def test_wrong_pair_looks_exactly_like_a_missing_order(
    client: TestClient, store: Store, shop: CreatedShop, order: str, email: str
) -> None:
    full_journey(store, shop.shop.id)
    html = get(client, shop, order=order, email=email, locale="en")
    assert "We could not find an order with this number and email address" in html
    assert "DHL" not in html and "89.90" not in html


def test_order_number_alone_never_finds_the_order(
    client: TestClient, store: Store, shop: CreatedShop
) -> None:
    full_journey(store, shop.shop.id)
    html = get(client, shop, order="#1001", locale="en")
    assert "Please enter both your order number and your email address." in html
    assert "DHL" not in html


def test_another_shops_order_is_not_found(
    client: TestClient, store: Store, shop: CreatedShop
) -> None:
    other = store.create_shop("Anderer Laden")
    full_journey(store, other.shop.id)
    html = get(client, shop, order="#1001", email=EMAIL, locale="en")
    assert "We could not find an order" in html


def test_no_carrier_events_still_says_shipped_with_carrier_and_links(
    client: TestClient, store: Store, shop: CreatedShop
) -> None:
    ingest(
        store,
        shop.shop.id,
        placed(),
        shipped(
            carrier="Hermes",
            url="https://www.myhermes.de/empfangen/sendungsverfolgung/?trackingId=H1",
        ),
    )
    html = get(client, shop, order="#1001", email=EMAIL, locale="en")
    assert "Shipped with Hermes" in html
    assert "The carrier has not reported any progress yet." in html
    assert 'href="https://www.myhermes.de/empfangen/sendungsverfolgung/?trackingId=H1"' in html


def test_delay_and_failed_attempt_are_explained(
    client: TestClient, store: Store, shop: CreatedShop
) -> None:
    ingest(
        store,
        shop.shop.id,
        placed(),
        shipped(promised="2026-11-12", estimated="2026-11-12"),
        status(
            "attempt_fail",
            T0 + timedelta(days=2),
            estimated="2026-11-16",
            message="Empfänger nicht angetroffen",
        ),
    )
    html = get(client, shop, order="#1001", email=EMAIL, locale="de")
    assert "Später als versprochen" in html
    assert "Zustellversuch gescheitert" in html
    assert "Empfänger nicht angetroffen" in html
    assert "nächsten Werktag" in html
    assert "16. November 2026" in html


def test_unknown_carrier_status_becomes_an_explained_exception(
    client: TestClient, store: Store, shop: CreatedShop
) -> None:
    ingest(store, shop.shop.id, placed(), shipped(), status("customs_hold", T0 + timedelta(days=2)))
    html = get(client, shop, order="#1001", email=EMAIL, locale="en")
    assert "Problem with the shipment" in html
    assert "The carrier reported a problem" in html


def test_return_and_refund_are_shown(client: TestClient, store: Store, shop: CreatedShop) -> None:
    full_journey(store, shop.shop.id)
    ingest(
        store,
        shop.shop.id,
        return_requested(T0 + timedelta(days=5)),
        refunded("30.00", T0 + timedelta(days=8)),
    )
    html = get(client, shop, order="#1001", email=EMAIL, locale="de")
    assert "Rücksendung angefragt" in html
    assert "Rückerstattung: 30,00\xa0€" in html
    assert "Bisher erstattet: 30,00\xa0€" in html
    assert "Teilweise erstattet" in html


def test_without_parameters_the_lookup_form_is_shown(
    client: TestClient, store: Store, shop: CreatedShop
) -> None:
    html = get(client, shop, locale="de")
    assert 'name="order"' in html and 'name="email"' in html
    assert "Sendung verfolgen" in html or "Bestellung verfolgen" in html
    assert 'action="http://testserver/widgets/' in html


def test_tracking_reads_projections_only(
    client: TestClient, store: Store, shop: CreatedShop
) -> None:
    """Render cost must not grow with stored events: no query touches the events table."""
    from sqlalchemy import event as sa_event

    full_journey(store, shop.shop.id)
    statements: list[str] = []

    def spy(conn: object, cursor: object, statement: str, *args: object) -> None:
        statements.append(statement)

    sa_event.listen(store.engine, "before_cursor_execute", spy)
    try:
        get(client, shop, order="#1001", email=EMAIL)
    finally:
        sa_event.remove(store.engine, "before_cursor_execute", spy)
    assert statements
    assert not [s for s in statements if " events" in s.lower().replace('"', " ")]


def test_guessing_pairs_is_throttled_per_client(
    client: TestClient, store: Store, shop: CreatedShop
) -> None:
    full_journey(store, shop.shop.id)
    for attempt in range(10):
        html = get(client, shop, order="#1001", email=f"guess{attempt}@example.de", locale="en")
        assert "We could not find an order" in html
    html = get(client, shop, order="#1001", email=EMAIL, locale="en")
    assert "Too many attempts" in html and "DHL" not in html
    # Another client is not affected.
    other = TestClient(client.app, client=("203.0.113.9", 50000))
    assert "Shipped with DHL" in get(other, shop, order="#1001", email=EMAIL, locale="en")


def test_platform_verified_customer_finds_only_their_own_order(
    client: TestClient, store: Store, shop: CreatedShop, settings: Settings
) -> None:
    full_journey(store, shop.shop.id)
    key = shop_key(store, settings, shop.shop)
    mine = customer_token(key, shop.shop.id, "cust-1")
    html = get(client, shop, order="1001", customer=mine, locale="en")
    assert "Shipped with DHL" in html
    someone_else = customer_token(key, shop.shop.id, "cust-2")
    other_shop = customer_token(key, "shop_other", "cust-1")
    for token in (someone_else, other_shop, mine[:-4] + "AAAA"):
        html = get(client, shop, order="1001", customer=token, locale="en")
        assert "We could not find an order" in html and "DHL" not in html


def test_an_unknown_client_address_is_never_throttled() -> None:
    from cx_sdk.widgets.throttle import FailureThrottle

    throttle = FailureThrottle(limit=2)
    for _ in range(5):
        throttle.failed("")
    assert not throttle.blocked("")
    throttle.failed("198.51.100.7")
    throttle.failed("198.51.100.7")
    assert throttle.blocked("198.51.100.7") and not throttle.blocked("198.51.100.8")


def without_ids(html: str) -> str:
    """A fragment without its per-render element id suffixes."""
    return re.sub(r'-[0-9a-f]{8}"', '"', html)


def test_a_repeated_lookup_is_served_without_loading_the_order_again(
    client: TestClient, store: Store, shop: CreatedShop
) -> None:
    from sqlalchemy import event as sa_event

    full_journey(store, shop.shop.id)
    first = get(client, shop, order="#1001", email=EMAIL, locale="de")
    statements: list[str] = []

    def spy(conn: object, cursor: object, statement: str, *args: object) -> None:
        statements.append(statement.lower())

    sa_event.listen(store.engine, "before_cursor_execute", spy)
    try:
        again = get(client, shop, order="#1001", email=EMAIL, locale="de")
    finally:
        sa_event.remove(store.engine, "before_cursor_execute", spy)
    assert without_ids(again) == without_ids(first)
    assert not [s for s in statements if "order_timeline" in s or "shipments" in s]


def test_a_new_carrier_event_shows_on_the_next_render(
    client: TestClient, store: Store, shop: CreatedShop
) -> None:
    ingest(store, shop.shop.id, placed(), shipped())
    before = get(client, shop, order="#1001", email=EMAIL, locale="en")
    assert "Out for delivery" not in before
    ingest(store, shop.shop.id, status("out_for_delivery", T0 + timedelta(days=2)))
    assert "Out for delivery" in get(client, shop, order="#1001", email=EMAIL, locale="en")


def test_a_late_arriving_older_event_also_shows_on_the_next_render(
    client: TestClient, store: Store, shop: CreatedShop
) -> None:
    ingest(
        store, shop.shop.id, placed(), shipped(), status("out_for_delivery", T0 + timedelta(days=3))
    )
    before = get(client, shop, order="#1001", email=EMAIL, locale="en")
    assert "Hub Kassel" not in before
    late = status("in_transit", T0 + timedelta(days=2), city="Hub Kassel")
    ingest(store, shop.shop.id, late)
    assert "Hub Kassel" in get(client, shop, order="#1001", email=EMAIL, locale="en")


def test_changed_widget_texts_show_on_the_next_render(
    client: TestClient, store: Store, shop: CreatedShop
) -> None:
    from cx_sdk.widgets.config import WidgetConfig
    from cx_sdk.widgets.registry import settings_for

    full_journey(store, shop.shop.id)
    assert "Ihre Lieferung" not in get(client, shop, order="#1001", email=EMAIL, locale="de")
    settings_for(store).save(
        shop.shop.id, WidgetConfig("tracking", texts={"de": {"title": "Ihre Lieferung"}})
    )
    assert "Ihre Lieferung" in get(client, shop, order="#1001", email=EMAIL, locale="de")


def test_a_cached_rendering_never_answers_a_wrong_email(
    client: TestClient, store: Store, shop: CreatedShop
) -> None:
    full_journey(store, shop.shop.id)
    assert "Bestellung #1001" in get(client, shop, order="#1001", email=EMAIL, locale="de")
    wrong = get(client, shop, order="#1001", email="someone@example.org", locale="de")
    assert "Bestellung #1001" not in wrong and "89,90" not in wrong


def test_a_cached_rendering_gets_element_ids_of_its_own(
    client: TestClient, store: Store, shop: CreatedShop
) -> None:
    full_journey(store, shop.shop.id)
    first = get(client, shop, order="#1001", email=EMAIL, locale="de")
    second = get(client, shop, order="#1001", email=EMAIL, locale="de")
    ids = [set(re.findall(r'\bid="([^"]+)"', html)) for html in (first, second)]
    assert ids[0] and ids[1] and not ids[0] & ids[1]
    for html, own in zip((first, second), ids, strict=True):
        labelled = set(re.findall(r'(?:for|aria-labelledby)="([^"]+)"', html))
        assert labelled and labelled <= own
    assert without_ids(first) == without_ids(second)


def test_a_number_typed_without_hash_finds_ids_before_numbers_in_one_read(
    client: TestClient, store: Store, shop: CreatedShop
) -> None:
    """ "1001" is tried as id, as number, then "#1001" as id, as number: the first wins."""
    other = "other@example.de"
    ingest(store, shop.shop.id, placed(order_id="1001", number="#7", email=other, user_id=None))
    ingest(store, shop.shop.id, placed())  # id 5001, number #1001
    by_id = store.order_head(shop.shop.id, "1001", "#1001")
    assert by_id is not None and by_id.order_id == "1001"
    by_hashed_number = store.order_head(shop.shop.id, "1002", "#1001")
    assert by_hashed_number is not None and by_hashed_number.order_id == "5001"
    assert store.order_head(shop.shop.id, "1002", "#1002") is None
    assert store.order_head(shop.shop.id, "#1001") == by_hashed_number
    # The id "1001" wins over the number "#1001": the email of order 5001 does not fit it.
    assert "cx-alert" in get(client, shop, order="1001", email=EMAIL, locale="en")
    assert "Order #7" in get(client, shop, order="1001", email=other, locale="en")
    assert "Order #1001" in get(client, shop, order="#1001", email=EMAIL, locale="en")


def test_typed_emails_leave_worker_memory_on_each_periodic_run(
    client: TestClient, store: Store, shop: CreatedShop
) -> None:
    from cx_sdk.server import parts
    from cx_sdk.widgets import http, tracking
    from cx_sdk.widgets.cache import RenderCache

    full_journey(store, shop.shop.id)
    get(client, shop, order="#1001", email=EMAIL)
    typed = EMAIL.replace("@", "%40").encode()
    assert any(typed in query for query in http._QUERIES)
    assert tracking._email_hash.cache_info().currsize > 0

    job = next(job for job in parts.collect("periodic") if job is http.forget_typed_input)
    job(store, client.app.state.settings)  # type: ignore[attr-defined]
    assert not any(typed in query for query in http._QUERIES)
    assert tracking._email_hash.cache_info().currsize == 0

    expiring = RenderCache(seconds=0.0)
    expiring.put(("key", EMAIL), ("<section>",))
    lasting = RenderCache()
    lasting.put(("key", EMAIL), ("<section>",))
    expiring.prune()
    lasting.prune()
    assert len(expiring) == 0 and len(lasting) == 1
