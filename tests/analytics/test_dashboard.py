"""The dashboard page and its CSV exports, through the console session."""

from __future__ import annotations

import csv
import io
import re

from starlette.testclient import TestClient

from cx_sdk.server import CreatedShop, Store

from ..console.test_console import sign_in
from .conftest import ingest_all
from .dataset import ev

WEEK = {"from": "2026-10-01", "to": "2026-10-07"}


def test_dashboard_needs_a_console_session(client: TestClient, week_shop: CreatedShop) -> None:
    assert client.get("/console/dashboard", params=WEEK).status_code == 401
    assert client.get("/console/dashboard/funnel.csv", params=WEEK).status_code == 401


def test_dashboard_shows_every_chart_and_table_in_german_and_english(
    client: TestClient, week_shop: CreatedShop
) -> None:
    sign_in(client, week_shop)
    german = client.get("/console/dashboard", params={**WEEK, "locale": "de"})
    assert german.status_code == 200
    html = german.text
    assert "<script" not in html
    assert html.count('<svg class="chart"') == 7
    for text in ("Kennzahlen", "Trichter", "Pünktliche Zustellung", "Kundensegmente", "40,0"):
        assert text in html, text
    # NPS 40, on-time 50 %, four orders, a dash where there is no data
    assert "50,0\xa0%" in html
    english = client.get("/console/dashboard", params={**WEEK, "locale": "en"}).text
    for text in ("Key figures", "Funnel", "On-time delivery", "Customer segments", "40.0"):
        assert text in english, text
    assert "107,50\xa0€" in html  # the average order value, in the orders' currency
    # The menu of the console links here.
    assert 'href="/console/dashboard?locale=en"' in english
    names = set(re.findall(r'href="/console/dashboard/([a-z_]+)\.csv', english))
    assert names == {
        "kpis",
        "funnel",
        "surveys",
        "delivery",
        "segments",
        "segment_moves",
        "chats",
        "recommendations",
        "stages",
        "channels",
        "negative_words",
    }


def test_every_table_downloads_as_csv(client: TestClient, week_shop: CreatedShop) -> None:
    sign_in(client, week_shop)
    html = client.get("/console/dashboard", params={**WEEK, "locale": "en"}).text
    for link in re.findall(r'href="(/console/dashboard/[a-z_]+\.csv[^"]*)"', html):
        response = client.get(link.replace("&amp;", "&"))
        assert response.status_code == 200, link
        assert response.headers["content-type"].startswith("text/csv")
        assert "attachment" in response.headers["content-disposition"]
        rows = list(csv.reader(io.StringIO(response.text.lstrip("\ufeff"))))
        assert rows and rows[0], link
    funnel = client.get("/console/dashboard/funnel.csv", params={**WEEK, "locale": "en"})
    rows = list(csv.reader(io.StringIO(funnel.text.lstrip("\ufeff"))))
    assert rows == [
        ["Step", "Customers", "Drop-off from the step before"],
        ["Product viewed", "4", ""],
        ["Added to cart", "3", "0.25"],
        ["Checkout started", "3", "0.0"],
        ["Order completed", "2", "0.3333"],
    ]
    assert client.get("/console/dashboard/nothing.csv", params=WEEK).status_code == 404


def test_names_from_events_are_escaped_on_the_page_and_defused_in_csv(
    client: TestClient, store: Store, shop: CreatedShop
) -> None:
    evil = '=HYPERLINK("http://x")<script>alert(1)</script>'
    ingest_all(store, shop.shop.id, [ev("Recommendation Shown", "10-02T10:00", "u", strategy=evil)])
    sign_in(client, shop)
    html = client.get("/console/dashboard", params=WEEK).text
    assert "<script>alert(1)" not in html and "&lt;script&gt;alert(1)" in html
    body = client.get("/console/dashboard/recommendations.csv", params=WEEK).text
    [row] = list(csv.reader(io.StringIO(body.lstrip("\ufeff"))))[1:]
    assert row[0].startswith("'=")


def test_a_bad_period_falls_back_to_the_last_30_days_with_a_notice(
    client: TestClient, shop: CreatedShop
) -> None:
    sign_in(client, shop)
    response = client.get("/console/dashboard", params={"from": "morgen", "locale": "en"})
    assert response.status_code == 400
    assert "showing the last 30 days" in response.text


def test_money_is_shown_per_currency_with_its_symbol(client: TestClient, store: Store) -> None:
    created = store.create_shop("Grenzladen")
    ingest_all(
        store,
        created.shop.id,
        [
            ev("Order Completed", "10-02T10:00", "u-1", order_id="o1", total="50", currency="EUR"),
            ev("Order Completed", "10-03T10:00", "u-1", order_id="o2", total="30", currency="EUR"),
            ev("Order Completed", "10-03T11:00", "u-2", order_id="o3", total="200", currency="CHF"),
        ],
    )
    sign_in(client, created)
    html = client.get("/console/dashboard", params={**WEEK, "locale": "de"}).text
    # EUR has more orders: the average order value 40 € is the headline, CHF 200 is listed.
    assert "40,00\xa0€" in html
    assert "Umsatz nach Währung" in html
    assert "200,00\xa0CHF" in html
    rows = list(
        csv.reader(io.StringIO(client.get("/console/dashboard/money.csv", params=WEEK).text))
    )
    assert rows[1][:3] == ["EUR", "2", "80.0"]
    assert rows[2][:3] == ["CHF", "1", "200.0"]
