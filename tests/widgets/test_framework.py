"""The framework: switches, status codes, locale negotiation, catalogs, the loader budget."""

from __future__ import annotations

import gzip
import json
import re
from dataclasses import replace
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.testclient import TestClient

from cx_sdk.server import CreatedShop, Store, expiring
from cx_sdk.server.app import Collector
from cx_sdk.widgets import i18n
from cx_sdk.widgets.config import (
    ConfigError,
    SurveyConfig,
    WidgetConfig,
    WidgetSettings,
    contrast,
    validate_survey,
    validate_widget,
)
from cx_sdk.widgets.http import _params, clean, first_load_bytes
from cx_sdk.widgets.registry import settings_for

from .journeys import EMAIL, full_journey

PACKAGE = Path(i18n.__file__).parent.parent


def test_switched_off_widget_answers_204_and_on_again_renders(
    client: TestClient, store: Store, shop: CreatedShop
) -> None:
    url = f"/widgets/{shop.shop.id}/tracking"
    assert client.get(url).status_code == 200
    settings_for(store).set_enabled(shop.shop.id, "tracking", False)
    off = client.get(url)
    assert off.status_code == 204 and off.content == b""
    settings_for(store).set_enabled(shop.shop.id, "tracking", True)
    assert client.get(url).status_code == 200


def test_unknown_shop_and_widget_are_clear_404s(client: TestClient, shop: CreatedShop) -> None:
    missing_shop = client.get("/widgets/shop_nope/tracking")
    assert missing_shop.status_code == 404 and "unknown shop" in missing_shop.text
    missing_widget = client.get(f"/widgets/{shop.shop.id}/nope")
    assert missing_widget.status_code == 404 and "tracking" in missing_widget.text


def test_fragments_are_cors_readable_without_cookies_and_not_cached(
    client: TestClient, shop: CreatedShop
) -> None:
    response = client.get(f"/widgets/{shop.shop.id}/tracking")
    assert response.headers["access-control-allow-origin"] == "*"
    assert response.headers["cache-control"] == "no-store"
    assert "set-cookie" not in response.headers
    loader = client.get(f"/widgets/{shop.shop.id}/loader.js")
    assert loader.headers["content-type"].startswith("text/javascript")
    assert "set-cookie" not in loader.headers


@pytest.mark.parametrize(
    ("query", "header", "shop_default", "expected"),
    [
        ("en", "de-DE", "de", "en"),
        ("de_AT", None, "en", "de"),
        (None, "fr-FR, en-US;q=0.8, de;q=0.9", "en", "de"),
        (None, "fr, it", "en", "en"),
        ("xx", "de;q=0, en;q=0.1", "de", "en"),
        (None, None, None, "de"),
    ],
)
def test_locale_negotiation_query_then_browser_then_shop(
    query: str | None, header: str | None, shop_default: str | None, expected: str
) -> None:
    assert i18n.negotiate(query, header, shop_default) == expected


def test_shop_default_locale_applies_without_other_hints(client: TestClient, store: Store) -> None:
    created = store.create_shop("English Shop", default_locale="en")
    html = client.get(f"/widgets/{created.shop.id}/tracking").text
    assert 'lang="en"' in html and "Where is my order?" in html


def test_every_text_has_a_german_translation() -> None:
    german: dict[str, Any] = {}
    for path in i18n.catalog_paths("de"):  # the widgets' catalog and the parts' (merged)
        with path.open("rb") as source:
            german.update({message.id: message for message in read_po(source) if message.id})
    ids = set()
    method_map = [("**/templates/**.html", "jinja2"), ("**.py", "python")]
    options = {"**/templates/**.html": {"extensions": "jinja2.ext.i18n"}}
    for directory in (PACKAGE / "widgets", PACKAGE / "console"):
        for _, _, message, _, _ in extract_from_dir(directory, method_map, options):
            ids.add(message if isinstance(message, str) else message[0])
    assert len(ids) > 60
    untranslated = sorted(m for m in ids if m not in german or not german[m].string)
    assert untranslated == []


def test_dates_and_money_follow_the_locale() -> None:
    from datetime import UTC, datetime
    from decimal import Decimal

    moment = datetime(2026, 11, 23, 9, 5, tzinfo=UTC)
    de, en = i18n.Formatter("de"), i18n.Formatter("en")
    assert de.money(Decimal("1234.5"), "EUR") == "1.234,50\xa0€"
    assert en.money(Decimal("1234.5"), "EUR") == "€1,234.50"
    assert de.date(moment) == "23. November 2026"
    assert en.date(moment) == "November 23, 2026"
    assert de.datetime(moment) == "23.11.2026, 10:05:00"


def test_first_load_javascript_and_css_stay_under_10_kb_gzipped(
    client: TestClient, shop: CreatedShop
) -> None:
    sizes = first_load_bytes()
    assert sum(sizes.values()) < 10 * 1024, sizes
    served = client.get(f"/widgets/{shop.shop.id}/loader.js").content
    assert len(gzip.compress(served)) < 10 * 1024


def test_loader_is_csp_friendly_and_sets_no_cookie() -> None:
    source = (PACKAGE / "widgets" / "static" / "loader.js").read_text()
    for forbidden in (
        "document.cookie",
        "localStorage",
        "sessionStorage",
        "eval(",
        "new Function",
        "innerText =",
        ".style.",
    ):
        assert forbidden not in source, forbidden
    assert 'credentials: "omit"' in source
    assert "link.nonce = nonce" in source
    templates = {p: p.read_text() for p in PACKAGE.glob("*/**/templates/*.html")}
    # No inline script, handler or style anywhere; fragments carry no script at all (the chat's
    # panel and agent desk are pages of their own that load one script file under their CSP).
    for path, text in templates.items():
        assert not re.search(r"<script(?![^>]*\bsrc=)|\son[a-z]+=|style=", text), path
        if "chat" not in path.parts:
            assert "<script" not in text, path


def test_colours_are_validated_for_format_and_contrast() -> None:
    assert round(contrast("#000000", "#ffffff"), 1) == 21.0
    ok = validate_widget(WidgetConfig("tracking", colours={"accent": "#1A56DB"}))
    assert ok.colours["accent"] == "#1a56db"
    with pytest.raises(ConfigError, match="contrast"):
        validate_widget(WidgetConfig("tracking", colours={"accent": "#ffff00"}))
    with pytest.raises(ConfigError, match="must look like"):
        validate_widget(WidgetConfig("tracking", colours={"accent": "red;}body{x:y"}))
    with pytest.raises(ConfigError, match="placement"):
        validate_widget(WidgetConfig("tracking", placement="top"))
    with pytest.raises(ConfigError, match="de, en"):
        validate_widget(WidgetConfig("tracking", texts={"fr": {"title": "Où"}}))


def test_survey_config_is_validated() -> None:
    with pytest.raises(ConfigError, match="trigger"):
        validate_survey(SurveyConfig("nps", trigger="weekly"))
    with pytest.raises(ConfigError, match="cap"):
        validate_survey(SurveyConfig("nps", cap_days=0))
    with pytest.raises(ConfigError, match="nps, csat or ces"):
        validate_survey(SurveyConfig("nps", survey_type="stars"))


def test_shop_colours_reach_the_stylesheet(
    client: TestClient, store: Store, shop: CreatedShop
) -> None:
    settings_for(store).save(shop.shop.id, WidgetConfig("survey", colours={"accent": "#7c2d12"}))
    css = client.get(f"/widgets/{shop.shop.id}/widgets.css").text
    assert '.cx-w[data-cx-widget="survey"]{--cx-accent:#7c2d12;' in css


def test_click_reports_need_a_rendered_widgets_token(
    client: TestClient, store: Store, shop: CreatedShop
) -> None:
    from .journeys import EMAIL, full_journey

    full_journey(store, shop.shop.id)
    html = client.get(
        f"/widgets/{shop.shop.id}/tracking", params={"order": "#1001", "email": EMAIL}
    ).text
    token = re.search(r'data-cx-token="([^"]+)"', html)
    assert token
    url = f"/widgets/{shop.shop.id}/events"
    body = json.dumps({"t": token.group(1), "action": "tracking_link_clicked"})
    assert client.post(url, content=body, headers={"Content-Type": "text/plain"}).status_code == 204
    [(_, event)] = list(store.iter_events(shop.shop.id, event="Widget Interaction"))
    assert event["properties"] == {
        "widget": "tracking",
        "action": "tracking_link_clicked",
        "order_id": "5001",
    }
    forged = client.post(url, content=body.replace(token.group(1)[-6:], "AAAAAA"))
    assert forged.status_code == 400 and "widget token" in forged.text
    unknown = client.post(url, content=body.replace("tracking_link_clicked", "buy_now"))
    assert unknown.status_code == 400 and "action must be one of" in unknown.text
    assert client.post(url, content=b"not json").status_code == 400


def test_without_secret_key_the_first_render_creates_the_shops_signing_key(
    store: Store, shop: CreatedShop
) -> None:
    from cx_sdk.server import Settings, create_app
    from cx_sdk.widgets.tokens import SHOP_SECRET_NAME

    from .journeys import EMAIL, full_journey

    full_journey(store, shop.shop.id)
    settings = Settings(database_url="sqlite://", migrate_on_start=False, secret_key=None)
    with TestClient(create_app(settings, store)) as client:
        html = client.get(
            f"/widgets/{shop.shop.id}/tracking", params={"order": "#1001", "email": EMAIL}
        ).text
        assert "data-cx-token=" in html
        key = store.get_shop(shop.shop.id).secrets[SHOP_SECRET_NAME]  # type: ignore[union-attr]
        assert len(key) == 64
        # Later renders (on the event loop with SQLite) sign with that same key.
        again = client.get(
            f"/widgets/{shop.shop.id}/tracking", params={"order": "#1001", "email": EMAIL}
        ).text
        token = re.search(r'data-cx-token="([^"]+)"', again)
        assert token
        body = json.dumps({"t": token.group(1), "action": "tracking_link_clicked"})
        assert client.post(f"/widgets/{shop.shop.id}/events", content=body).status_code == 204


@pytest.mark.parametrize(
    "query",
    [
        b"",
        b"order=%234711&email=a%40b.de&locale=de",
        b"order=1+2&email=a+b%2Bc%40d.de",
        b"order&email=&&locale=en&",
        b"order=1&order=2",
        b"name%3Dx=y%26z&%C3%A4=%C3%BC&bad=%ZZ%e",
        b"latin=\xe4\xf6&x=a=b",
    ],
)
def test_widget_query_parsing_reads_like_starlettes(query: bytes) -> None:
    """The fragment's own query parser must give what ``request.query_params`` gives."""
    request = Request({"type": "http", "query_string": query, "headers": []})
    expected = {key: clean(value, 500) for key, value in request.query_params.items()}
    assert _params(request) == expected


def test_a_saved_widget_setting_shows_on_the_next_read(store: Store, shop: CreatedShop) -> None:
    """Configs are shared while their row reads the same, never past a change saved through
    this worker."""
    widgets = settings_for(store)
    first = widgets.get(shop.shop.id, "tracking")
    widgets.save(shop.shop.id, replace(first, texts={"de": {"title": "Wo ist es?"}}))
    titled = widgets.get(shop.shop.id, "tracking")
    assert titled.text("de", "title") == "Wo ist es?"
    widgets.save(shop.shop.id, replace(titled, colours={"accent": "#000000"}))
    recoloured = settings_for(store).get(shop.shop.id, "tracking")
    assert recoloured.colours["accent"] == "#000000"
    assert recoloured.fingerprint != titled.fingerprint != first.fingerprint
    assert settings_for(store).get(shop.shop.id, "tracking") == recoloured


def test_a_setting_changed_by_another_worker_shows_once_the_cached_read_expires(
    store: Store, shop: CreatedShop, monkeypatch: pytest.MonkeyPatch
) -> None:
    clock = [1000.0]
    monkeypatch.setattr(expiring, "monotonic", lambda: clock[0])
    store.key_cache_seconds = 5.0
    widgets = settings_for(store)
    assert widgets.get(shop.shop.id, "tracking").enabled
    other_worker = WidgetSettings(store.engine, widgets.known)
    other_worker.set_enabled(shop.shop.id, "tracking", False)
    clock[0] += 4.9
    assert widgets.get(shop.shop.id, "tracking").enabled
    assert not widgets.stored(shop.shop.id, "tracking").enabled  # the console reads the row
    assert not widgets.all(shop.shop.id)[widgets.known.index("tracking")].enabled
    clock[0] += 0.2
    assert not widgets.get(shop.shop.id, "tracking").enabled


def test_switching_a_widget_starts_from_the_stored_row_not_a_cached_copy(
    store: Store, shop: CreatedShop
) -> None:
    store.key_cache_seconds = 60.0
    widgets = settings_for(store)
    widgets.get(shop.shop.id, "tracking")
    other_worker = WidgetSettings(store.engine, widgets.known)
    titled = other_worker.save(
        shop.shop.id, WidgetConfig("tracking", texts={"en": {"title": "Where is it?"}})
    )
    widgets.set_enabled(shop.shop.id, "tracking", False)
    saved = widgets.get(shop.shop.id, "tracking")
    assert not saved.enabled and saved.texts == titled.texts


def test_renders_racing_to_create_the_signing_key_agree_on_one(store: Store) -> None:
    import threading

    from cx_sdk.server import Settings
    from cx_sdk.widgets.tokens import shop_key

    created = store.create_shop("Neu")
    settings = Settings(database_url="sqlite://", secret_key=None)
    start = threading.Barrier(8)
    keys: list[bytes] = []

    def render() -> None:
        start.wait()
        keys.append(shop_key(store, settings, created.shop))

    threads = [threading.Thread(target=render) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    stored = store.get_shop(created.shop.id)
    assert stored is not None
    assert set(keys) == {shop_key(store, settings, stored)}


def _without_uids(html: str) -> str:
    return re.sub(r"-[0-9a-f]{8}\"", '-UID"', html)


def _routes_only(app: Collector) -> Any:
    """The collector as plain Starlette: every request through middleware and routing."""

    async def routed(scope: Any, receive: Any, send: Any) -> None:
        await Starlette.__call__(app, scope, receive, send)

    return routed


@pytest.mark.parametrize(
    "query",
    ["", f"?order=%231001&email={quote(EMAIL)}", "?order=1001&email=x%40y.de", "?order=1001"],
)
def test_fragments_answer_alike_through_the_fast_route_and_the_routes(
    app: Collector, store: Store, shop: CreatedShop, query: str
) -> None:
    full_journey(store, shop.shop.id)
    url = f"/widgets/{shop.shop.id}/tracking{query}"
    with TestClient(app) as fast, TestClient(_routes_only(app)) as routed:
        for path in (url, f"/widgets/{shop.shop.id}/nope", "/widgets/shop_nope/tracking"):
            one, other = fast.get(path), routed.get(path)
            assert one.status_code == other.status_code
            assert {**one.headers, "date": ""} == {**other.headers, "date": ""}
            assert _without_uids(one.text) == _without_uids(other.text)
        settings_for(store).set_enabled(shop.shop.id, "tracking", False)
        assert fast.get(url).status_code == routed.get(url).status_code == 204


def test_fragment_gets_skip_starlettes_routing_and_nothing_else_does(
    app: Collector, shop: CreatedShop
) -> None:
    async def no_routing(scope: Any, receive: Any, send: Any) -> None:
        raise AssertionError(f"routed: {scope['path']}")

    with TestClient(app, root_path="/cx") as client:
        assert client.get(f"/cx/widgets/{shop.shop.id}/loader.js").status_code == 200
        app.middleware_stack = no_routing
        fragment = client.get(f"/cx/widgets/{shop.shop.id}/tracking")
        assert fragment.status_code == 200 and 'data-cx-widget="tracking"' in fragment.text
        with pytest.raises(AssertionError, match="routed"):
            client.get(f"/cx/widgets/{shop.shop.id}/loader.js")
        with pytest.raises(AssertionError, match="routed"):
            client.head(f"/cx/widgets/{shop.shop.id}/tracking")


def test_a_render_cannot_change_the_query_the_next_render_reads() -> None:
    scope = {"type": "http", "query_string": b"order=1&email=a%40b.de", "headers": []}
    first = _params(Request(scope))
    first["order"] = "2"
    assert _params(Request(scope)) == {"order": "1", "email": "a@b.de"}
