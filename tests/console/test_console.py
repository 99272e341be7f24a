"""The merchant console: sign-in, session cookie, CSRF, switches that take effect at once."""

from __future__ import annotations

import re

import pytest
from starlette.testclient import TestClient

from cx_sdk.server import CreatedShop, Store
from cx_sdk.widgets.registry import settings_for

ORIGIN = {"Origin": "http://testserver"}


def sign_in(client: TestClient, shop: CreatedShop) -> str:
    response = client.post(
        "/console/login", data={"token": shop.admin_token}, headers=ORIGIN, follow_redirects=False
    )
    assert response.status_code == 303, response.text
    cookie = response.headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie and "Path=/console" in cookie
    page = client.get("/console/")
    assert page.status_code == 200
    match = re.search(r'name="csrf" value="([0-9a-f]{64})"', page.text)
    assert match
    return match.group(1)


def widget_form(csrf: str, **overrides: str) -> dict[str, str]:
    form = {
        "csrf": csrf,
        "enabled": "on",
        "placement": "inline",
        "text_de_title": "",
        "text_de_intro": "",
        "text_en_title": "",
        "text_en_intro": "",
        "colour_accent": "#1a56db",
        "colour_background": "#ffffff",
        "colour_text": "#1f2937",
    }
    form.update(overrides)
    return {key: value for key, value in form.items() if value is not None}


def test_sign_in_page_is_bilingual_and_locked_down(client: TestClient) -> None:
    page = client.get("/console/", headers={"Accept-Language": "de"})
    assert "Anmelden" in page.text and 'lang="de"' in page.text
    assert "Sign in" in client.get("/console/?locale=en").text
    assert "frame-ancestors 'none'" in page.headers["content-security-policy"]
    assert "<script" not in page.text


def test_wrong_admin_token_or_write_key_is_refused(client: TestClient, shop: CreatedShop) -> None:
    for token in ("adm_wrong", shop.write_key):
        response = client.post(
            "/console/login", data={"token": token, "locale": "en"}, headers=ORIGIN
        )
        assert response.status_code == 401
        assert "set-cookie" not in response.headers


def test_switching_a_widget_off_in_the_console_takes_effect_on_the_next_render(
    client: TestClient, store: Store, shop: CreatedShop
) -> None:
    csrf = sign_in(client, shop)
    url = f"/widgets/{shop.shop.id}/tracking"
    assert client.get(url).status_code == 200
    response = client.post(
        "/console/widgets/tracking",
        data=widget_form(csrf, enabled=None),  # type: ignore[arg-type]
        headers=ORIGIN,
        follow_redirects=False,
    )
    assert response.status_code == 303
    assert client.get(url).status_code == 204
    client.post("/console/widgets/tracking", data=widget_form(csrf), headers=ORIGIN)
    assert client.get(url).status_code == 200


def test_texts_placement_and_colours_are_saved_and_rendered(
    client: TestClient, store: Store, shop: CreatedShop
) -> None:
    csrf = sign_in(client, shop)
    client.post(
        "/console/widgets/tracking",
        data=widget_form(
            csrf,
            placement="bottom-right",
            text_de_title="Wo bleibt mein Paket?",
            text_en_title="Where's my parcel?",
            colour_accent="#7c2d12",
        ),
        headers=ORIGIN,
    )
    de = client.get(f"/widgets/{shop.shop.id}/tracking?locale=de").text
    en = client.get(f"/widgets/{shop.shop.id}/tracking?locale=en").text
    assert "Wo bleibt mein Paket?" in de and "cx-placement-bottom-right" in de
    assert "Where&#39;s my parcel?" in en
    css = client.get(f"/widgets/{shop.shop.id}/widgets.css").text
    assert "--cx-accent:#7c2d12" in css
    page = client.get("/console/?locale=de&saved=tracking").text
    assert "Gespeichert." in page and 'value="Wo bleibt mein Paket?"' in page


def test_invalid_values_are_explained_not_saved(
    client: TestClient, store: Store, shop: CreatedShop
) -> None:
    csrf = sign_in(client, shop)
    response = client.post(
        "/console/widgets/tracking?locale=en",
        data=widget_form(csrf, colour_accent="#ffff00"),
        headers=ORIGIN,
    )
    assert response.status_code == 400
    assert "contrast" in response.text
    assert 'action="/console/widgets/tracking?locale=en"' in response.text
    assert settings_for(store).get(shop.shop.id, "tracking").colours["accent"] == "#1a56db"


def test_survey_settings_are_saved(client: TestClient, store: Store, shop: CreatedShop) -> None:
    csrf = sign_in(client, shop)
    response = client.post(
        "/console/surveys",
        data={
            "csrf": csrf,
            "survey_id": "csat-order",
            "enabled": "on",
            "survey_type": "csat",
            "trigger": "order",
            "delay_days": "1",
            "cap_days": "60",
            "question_de": "Wie war Ihr Einkauf?",
            "question_en": "",
        },
        headers=ORIGIN,
        follow_redirects=False,
    )
    assert response.status_code == 303
    surveys = {s.survey_id: s for s in settings_for(store).surveys(shop.shop.id)}
    assert set(surveys) == {"nps", "csat-order"}
    assert surveys["csat-order"].cap_days == 60
    assert surveys["csat-order"].question == {"de": "Wie war Ihr Einkauf?"}
    bad = client.post(
        "/console/surveys/nps?locale=en",
        data={
            "csrf": csrf,
            "survey_type": "nps",
            "trigger": "weekly",
            "delay_days": "x",
            "cap_days": "30",
        },
        headers=ORIGIN,
    )
    assert bad.status_code == 400 and "whole numbers" in bad.text


def test_a_survey_is_limited_to_personas_in_the_console(
    client: TestClient, store: Store, shop: CreatedShop
) -> None:
    csrf = sign_in(client, shop)
    form = {
        "csrf": csrf,
        "enabled": "on",
        "survey_type": "nps",
        "trigger": "delivery",
        "delay_days": "7",
        "cap_days": "30",
        "segments": ["at_risk", "champions"],
    }
    response = client.post("/console/surveys/nps", data=form, headers=ORIGIN)
    assert response.status_code == 200  # after the redirect
    assert settings_for(store).survey(shop.shop.id, "nps").segments == ("champions", "at_risk")
    page = client.get("/console/?locale=de").text
    assert re.search(
        r'value="champions" checked>\s*<label for="s-nps-p-champions">Champions<', page
    )
    assert re.search(r'value="lost">\s*<label for="s-nps-p-lost">Verloren<', page)
    refused = client.post(
        "/console/surveys/nps?locale=de", data={**form, "segments": ["vip"]}, headers=ORIGIN
    )
    assert refused.status_code == 400 and "Personas müssen aus" in refused.text


def test_post_without_or_with_wrong_csrf_token_is_refused(
    client: TestClient, store: Store, shop: CreatedShop
) -> None:
    sign_in(client, shop)
    for csrf in ("", "0" * 64):
        response = client.post(
            "/console/widgets/tracking",
            data=widget_form(csrf, enabled=None),
            headers=ORIGIN,  # type: ignore[arg-type]
        )
        assert response.status_code == 403
    assert settings_for(store).get(shop.shop.id, "tracking").enabled


def test_cross_origin_post_is_refused(client: TestClient, store: Store, shop: CreatedShop) -> None:
    csrf = sign_in(client, shop)
    response = client.post(
        "/console/widgets/tracking",
        data=widget_form(csrf, enabled=None),  # type: ignore[arg-type]
        headers={"Origin": "https://evil.example"},
    )
    assert response.status_code == 403
    assert settings_for(store).get(shop.shop.id, "tracking").enabled


def test_without_session_changes_are_refused(client: TestClient, shop: CreatedShop) -> None:
    response = client.post("/console/widgets/tracking", data=widget_form("x"), headers=ORIGIN)
    assert response.status_code == 401


def test_forged_session_cookie_is_ignored(client: TestClient, shop: CreatedShop) -> None:
    client.cookies.set("cx_console", "eyJzIjoic2hvcCJ9.AAAA", path="/console")
    assert "token" in client.get("/console/").text  # the sign-in form again


def test_session_is_scoped_to_its_shop(client: TestClient, store: Store, shop: CreatedShop) -> None:
    other = store.create_shop("Anderer Laden")
    csrf = sign_in(client, shop)
    client.post("/console/widgets/survey", data=widget_form(csrf, enabled=None), headers=ORIGIN)  # type: ignore[arg-type]
    assert not settings_for(store).get(shop.shop.id, "survey").enabled
    assert settings_for(store).get(other.shop.id, "survey").enabled


def test_sign_out_ends_the_session(client: TestClient, shop: CreatedShop) -> None:
    csrf = sign_in(client, shop)
    client.post("/console/logout", data={"csrf": csrf}, headers=ORIGIN)
    assert 'name="token"' in client.get("/console/").text


def test_rotating_the_admin_token_ends_its_console_sessions(
    client: TestClient, store: Store, shop: CreatedShop
) -> None:
    csrf = sign_in(client, shop)
    store.rotate_key(shop.shop.id, "write")  # another kind of key: the session stays
    assert 'name="token"' not in client.get("/console/").text
    store.rotate_key(shop.shop.id, "admin")
    assert 'name="token"' in client.get("/console/").text
    response = client.post("/console/widgets/tracking", data=widget_form(csrf), headers=ORIGIN)
    assert response.status_code == 401
    assert client.get("/console/dashboard").status_code == 401


@pytest.mark.parametrize("name", ["<script>alert(1)</script>", '"><img src=x onerror=alert(1)>'])
def test_shop_name_is_escaped_in_the_console(client: TestClient, store: Store, name: str) -> None:
    created = store.create_shop(name)
    csrf = sign_in(client, created)
    page = client.get("/console/").text
    assert name not in page and csrf in page


def test_errors_are_explained_in_the_merchants_language(
    client: TestClient, shop: CreatedShop
) -> None:
    csrf = sign_in(client, shop)
    response = client.post(
        "/console/widgets/tracking?locale=de",
        data=widget_form(csrf, colour_accent="#ffff00"),
        headers=ORIGIN,
    )
    assert response.status_code == 400
    assert "Die Akzentfarbe ist zu hell" in response.text


@pytest.mark.parametrize("value", ["²", "٣", "1e3", "", "9" * 40])
def test_odd_numbers_in_survey_settings_are_a_clear_400(
    client: TestClient, shop: CreatedShop, value: str
) -> None:
    csrf = sign_in(client, shop)
    response = client.post(
        "/console/surveys/nps?locale=en",
        data={
            "csrf": csrf,
            "survey_type": "nps",
            "trigger": "delivery",
            "delay_days": value,
            "cap_days": "30",
        },
        headers=ORIGIN,
    )
    assert response.status_code == 400


def test_nul_in_a_console_form_is_a_clear_400(client: TestClient, shop: CreatedShop) -> None:
    csrf = sign_in(client, shop)
    response = client.post(
        "/console/widgets/tracking", data=widget_form(csrf, text_de_title="a\x00b"), headers=ORIGIN
    )
    assert response.status_code == 400 and "NUL" in response.text


def test_refusals_are_pages_in_the_merchants_language(
    client: TestClient, shop: CreatedShop
) -> None:
    de = client.post(
        "/console/widgets/tracking",
        data=widget_form("x"),
        headers={**ORIGIN, "Accept-Language": "de-DE"},
    )
    assert de.status_code == 401 and "Bitte melden Sie sich erneut an." in de.text
    assert 'href="/console/?locale=de"' in de.text
    en = client.post(
        "/console/widgets/tracking?locale=en",
        data=widget_form("x"),
        headers={"Origin": "https://evil.example"},
    )
    assert en.status_code == 403 and "Forms sent from other sites are refused." in en.text
