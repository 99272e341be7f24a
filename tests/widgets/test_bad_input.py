"""Whatever arrives, the answer is a clear 2xx/4xx, never a 500."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
from starlette.testclient import TestClient

from cx_sdk.server import CreatedShop, Store

from .journeys import EMAIL, delivered, ingest, placed, shipped

WEIRD = ["", " ", "²", "٣", "-1", "1e3", "%00", "\x00", "a" * 5000, "#", "@", "😀", "' OR 1=1 --"]


@pytest.mark.parametrize("value", WEIRD)
def test_tracking_never_fails_on_odd_parameters(
    client: TestClient, shop: CreatedShop, value: str
) -> None:
    for params in (
        {"order": value, "email": value},
        {"order": value, "email": EMAIL},
        {"locale": value},
        {"format": value},
    ):
        response = client.get(f"/widgets/{shop.shop.id}/tracking", params=params)
        assert response.status_code == 200


def test_tracking_page_mode_works_without_javascript(
    client: TestClient, store: Store, shop: CreatedShop
) -> None:
    page = client.get(f"/widgets/{shop.shop.id}/tracking", params={"format": "page"}).text
    assert page.startswith("<!doctype html>") and "<script" not in page
    assert '<input type="hidden" name="format" value="page">' in page
    assert 'method="get" action="http://testserver/widgets/' in page


@pytest.mark.parametrize("value", WEIRD)
def test_survey_answer_never_fails_on_odd_scores(
    client: TestClient, store: Store, shop: CreatedShop, value: str
) -> None:
    now = datetime.now(UTC)
    ingest(
        store,
        shop.shop.id,
        placed(at=now - timedelta(days=12)),
        shipped(at=now - timedelta(days=11)),
        delivered(now - timedelta(days=10)),
    )
    html = client.get(
        f"/widgets/{shop.shop.id}/survey", params={"order": "#1001", "email": EMAIL}
    ).text
    token = re.search(r'name="t" value="([^"]+)"', html)
    assert token
    response = client.post(
        f"/widgets/{shop.shop.id}/survey",
        data={"t": token.group(1), "score": value, "comment": value},
    )
    assert response.status_code == 200
    assert 'type="radio"' in response.text  # asked again, nothing stored


def test_oversized_answer_is_refused(client: TestClient, shop: CreatedShop) -> None:
    response = client.post(
        f"/widgets/{shop.shop.id}/survey", data={"t": "x", "comment": "a" * 20_000}
    )
    assert response.status_code == 413


def test_nul_in_the_shop_id_is_an_unknown_shop(client: TestClient) -> None:
    for path in ("/widgets/a%00b/tracking", "/widgets/a%00b/widgets.css"):
        assert client.get(path).status_code in (200, 404)
    assert client.get("/widgets/a%00b/tracking").status_code == 404


def test_a_browser_navigation_gets_a_whole_page(client: TestClient, shop: CreatedShop) -> None:
    """A plain form post from an embedded fragment without JavaScript lands on a page."""
    url = f"/widgets/{shop.shop.id}/tracking"
    navigated = client.get(url, headers={"Sec-Fetch-Mode": "navigate"}).text
    fetched = client.get(url, headers={"Sec-Fetch-Mode": "cors"}).text
    assert navigated.startswith("<!doctype html>") and not fetched.startswith("<!doctype")
