"""The recommendations widget over HTTP: cards, escaping, settings, impressions and clicks."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs, urlsplit

from starlette.testclient import TestClient

from cx_sdk.recommend import impressions
from cx_sdk.recommend import settings as rec_settings
from cx_sdk.server import CreatedShop, Store

from .test_engine import order


def _events(store: Store, shop_id: str, name: str) -> list[dict[str, Any]]:
    return [event for _, event in store.iter_events(shop_id, event=name)]


def _seed(store: Store, shop_id: str, **extra: Any) -> None:
    store.ingest(
        shop_id,
        [
            order("1", "u1", ["a", "b", "c"], url="https://laden.example/p", **extra),
            order("2", "u2", ["a", "b"], url="https://laden.example/p", **extra),
        ],
    )


def test_cards_show_name_price_in_the_shoppers_locale_and_escape_names(
    client: TestClient, store: Store, shop: CreatedShop
) -> None:
    shop_id = shop.shop.id
    store.ingest(
        shop_id,
        [
            order("1", "u1", ["a", "<script>alert(1)</script>"]),
            order("2", "u2", ["a", "<script>alert(1)</script>"]),
        ],
    )
    de = client.get(f"/widgets/{shop_id}/recommendations", params={"product": "a", "locale": "de"})
    assert de.status_code == 200
    assert "Kunden kauften auch" in de.text
    assert "9,90\xa0€" in de.text
    assert "<script>" not in de.text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in de.text
    en = client.get(f"/widgets/{shop_id}/recommendations", params={"product": "a", "locale": "en"})
    assert "Customers also bought" in en.text and "€9.90" in en.text


def test_nothing_to_recommend_answers_204(client: TestClient, shop: CreatedShop) -> None:
    response = client.get(f"/widgets/{shop.shop.id}/recommendations", params={"product": "x"})
    assert response.status_code == 204


def test_unsafe_links_and_images_are_not_rendered(
    client: TestClient, store: Store, shop: CreatedShop
) -> None:
    shop_id = shop.shop.id
    store.ingest(
        shop_id,
        [
            order("1", "u1", ["a", "b"], url="javascript:alert(1)", image_url="javascript:x"),
            order("2", "u2", ["a", "b"], url="javascript:alert(1)", image_url="javascript:x"),
        ],
    )
    html = client.get(f"/widgets/{shop_id}/recommendations", params={"product": "a"}).text
    assert "javascript:" not in html
    assert "cx-rec-placeholder" in html and "<a " not in html


def test_impression_is_recorded_without_visitor_ids_before_consent(
    client: TestClient, store: Store, shop: CreatedShop
) -> None:
    shop_id = shop.shop.id
    _seed(store, shop_id)
    client.get(f"/widgets/{shop_id}/recommendations", params={"product": "a", "visitor": "anon-7"})
    assert impressions.for_store(store).flush() == 1
    shown = _events(store, shop_id, "Recommendation Shown")
    assert len(shown) == 1
    assert shown[0]["properties"]["strategy"] == "also_bought"
    assert shown[0]["anonymousId"].startswith("rec-") and shown[0].get("userId") is None
    client.get(
        f"/widgets/{shop_id}/recommendations",
        params={"product": "a", "visitor": "anon-7", "consent": "granted"},
    )
    impressions.for_store(store).flush()
    assert {e["anonymousId"] for e in _events(store, shop_id, "Recommendation Shown")} >= {"anon-7"}


def test_click_is_counted_with_its_strategy_and_redirects_to_the_product(
    client: TestClient, store: Store, shop: CreatedShop
) -> None:
    shop_id = shop.shop.id
    _seed(store, shop_id)
    html = client.get(
        f"/widgets/{shop_id}/recommendations", params={"product": "a", "strategy": "bestsellers"}
    ).text
    href = html.split('class="cx-rec-link" href="', 1)[1].split('"', 1)[0].replace("&amp;", "&")
    path = urlsplit(href)
    response = client.get(path.path, params=parse_qs(path.query), follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"] == "https://laden.example/p"
    clicked = _events(store, shop_id, "Recommendation Clicked")
    assert [c["properties"]["strategy"] for c in clicked] == ["bestsellers"]
    client.get(path.path, params=parse_qs(path.query), follow_redirects=False)
    assert len(_events(store, shop_id, "Recommendation Clicked")) == 1  # keyed: once


def test_a_forged_click_token_is_refused(client: TestClient, shop: CreatedShop) -> None:
    response = client.get(f"/recommendations/{shop.shop.id}/click", params={"t": "abc.def"})
    assert response.status_code == 400 and "click token" in response.text
    assert client.get(f"/recommendations/{shop.shop.id}/click").status_code == 400


def test_merchant_settings_choose_strategy_count_and_exclusions(
    client: TestClient, store: Store, shop: CreatedShop
) -> None:
    shop_id = shop.shop.id
    store.ingest(shop_id, [order(str(i), f"u{i}", ["a", p]) for i, p in enumerate("bcdef")])
    chosen = rec_settings.validate({"product": ("also_bought", "2")}, ["b", "  ", "c"])
    rec_settings.save(store.engine, shop_id, chosen)
    html = client.get(f"/widgets/{shop_id}/recommendations", params={"product": "a"}).text
    assert html.count('class="cx-rec"') == 2
    assert "Product &lt;b&gt;" not in html and "Product &lt;c&gt;" not in html


def test_invalid_settings_name_the_rule() -> None:
    for placements, excluded, text in (
        ({"product": ("nope", "4")}, [], "strategy must be one of"),
        ({"cart": ("for_you", "99")}, [], "count must be a whole number"),
        ({}, ["bad,id"], "not a product id"),
    ):
        try:
            rec_settings.validate(placements, excluded)
        except rec_settings.ConfigError as error:
            assert text in str(error)
        else:
            raise AssertionError(f"{placements} {excluded} was accepted")


def test_placement_picks_the_merchants_strategy_and_platform_names_are_understood(
    client: TestClient, store: Store, shop: CreatedShop
) -> None:
    shop_id = shop.shop.id
    _seed(store, shop_id)
    chosen = rec_settings.validate({"product": ("bestsellers", "3")}, [])
    rec_settings.save(store.engine, shop_id, chosen)
    html = client.get(
        f"/widgets/{shop_id}/recommendations",
        params={"product": "a", "placement": "product_page", "locale": "en"},
    ).text
    assert 'data-cx-strategy="bestsellers"' in html and "Bestsellers" in html
    thank_you = client.get(
        f"/widgets/{shop_id}/recommendations", params={"placement": "thank_you", "locale": "en"}
    ).text
    assert 'data-cx-strategy="for_you"' in thank_you


def test_odd_parameters_fall_back_instead_of_failing(
    client: TestClient, store: Store, shop: CreatedShop
) -> None:
    shop_id = shop.shop.id
    _seed(store, shop_id)
    base = f"/widgets/{shop_id}/recommendations"
    for params in (
        {"product": "a", "limit": "abc"},
        {"product": "a", "limit": "999"},
        {"product": "a", "strategy": "<bogus>"},
        {"product": "a", "placement": "nowhere"},
        {"product": ",".join(f"p{i}" for i in range(60)) + ",a"},
        {"product": "a" * 5000},
        {"customer": "forged.token", "strategy": "for_you"},
    ):
        response = client.get(base, params=params)
        assert response.status_code in (200, 204), params
        assert "<bogus>" not in response.text
    capped = client.get(base, params={"product": "a", "limit": "999"}).text
    assert capped.count('class="cx-rec"') <= rec_settings.MAX_LIMIT


def test_standalone_page_renders_the_cards_with_the_widgets_stylesheet(
    client: TestClient, store: Store, shop: CreatedShop
) -> None:
    shop_id = shop.shop.id
    _seed(store, shop_id)
    response = client.get(
        f"/widgets/{shop_id}/recommendations", params={"product": "a", "format": "page"}
    )
    assert response.status_code == 200
    assert response.text.lstrip().lower().startswith("<!doctype html>")
    assert 'class="cx-rec"' in response.text and "<link" in response.text
    assert "/widgets.css" in response.text
