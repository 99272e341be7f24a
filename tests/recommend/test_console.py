"""The console page for recommendations: bilingual, CSRF-protected, saved settings apply."""

from __future__ import annotations

from starlette.testclient import TestClient

from cx_sdk.recommend import settings as rec_settings
from cx_sdk.server import CreatedShop, Store

from ..console.test_console import ORIGIN, sign_in


def _form(csrf: str, **overrides: str) -> dict[str, str]:
    form = {"csrf": csrf, "excluded": ""}
    for name in rec_settings.PLACEMENTS:
        form[f"{name}_strategy"] = "also_bought"
        form[f"{name}_limit"] = "4"
    form.update(overrides)
    return form


def test_console_page_is_in_the_menu_and_in_both_languages(
    client: TestClient, shop: CreatedShop
) -> None:
    sign_in(client, shop)
    home = client.get("/console/?locale=en")
    assert 'href="/console/recommendations?locale=en"' in home.text
    assert "Recommendations" in home.text
    page = client.get("/console/recommendations?locale=de")
    assert page.status_code == 200
    assert "Produktseite" in page.text and "Diese Produkte nie empfehlen" in page.text
    assert "Product page" in client.get("/console/recommendations?locale=en").text


def test_saved_settings_apply_and_invalid_ones_are_explained(
    client: TestClient, store: Store, shop: CreatedShop
) -> None:
    csrf = sign_in(client, shop)
    saved = client.post(
        "/console/recommendations?locale=en",
        data=_form(csrf, thank_you_strategy="bestsellers", cart_limit="6", excluded="sku-1\nsku-2"),
        headers=ORIGIN,
        follow_redirects=False,
    )
    assert saved.status_code == 303
    chosen = rec_settings.load(store.engine, shop.shop.id)
    assert chosen.placement("thank_you").strategy == "bestsellers"
    assert chosen.placement("cart").limit == 6
    assert chosen.excluded == ("sku-1", "sku-2")
    refused = client.post(
        "/console/recommendations?locale=de",
        data=_form(csrf, product_limit="40"),
        headers=ORIGIN,
    )
    assert refused.status_code == 400
    assert "Anzahl muss eine ganze Zahl von 1 bis 12 sein" in refused.text
    assert rec_settings.load(store.engine, shop.shop.id).placement("cart").limit == 6


def test_without_csrf_or_session_nothing_is_saved(
    client: TestClient, store: Store, shop: CreatedShop
) -> None:
    assert client.get("/console/recommendations", follow_redirects=False).status_code == 303
    sign_in(client, shop)
    response = client.post(
        "/console/recommendations", data=_form("0" * 64, cart_limit="7"), headers=ORIGIN
    )
    assert response.status_code == 403
    assert rec_settings.load(store.engine, shop.shop.id).placement("cart").limit == 4
