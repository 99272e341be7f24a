"""End to end: a signed WooCommerce delivery reaches a running collector, and the plugin's
storefront code (under a stand-in WordPress, wp_harness.php) renders the collector's tracking
fragment for the order's owner only, caches only what is shared, and renders nothing for a
switched-off or unknown widget."""

from __future__ import annotations

import json
import re
import shutil
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn

from cx_sdk.integrations.woocommerce import signature
from cx_sdk.server import Settings, Store, create_app, follower
from cx_sdk.widgets.registry import settings_for

from .test_plugin import PLUGIN, php  # noqa: F401  (fixture)

FIXTURES = Path(__file__).parents[2] / "fixtures" / "woocommerce"
HARNESS = Path(__file__).parent / "wp_harness.php"
SECRET = signature.generate_secret()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


@pytest.fixture
def collector(sqlite_store: Store) -> Iterator[tuple[str, Store, str]]:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    shop_id = sqlite_store.create_shop("Laden", "woocommerce", default_locale="de").shop.id
    sqlite_store.update_shop_secrets(shop_id, webhook_secret=SECRET)
    settings = Settings(
        database_url="sqlite://", migrate_on_start=False, key_cache_seconds=0, public_url=base
    )
    config = uvicorn.Config(
        create_app(settings, sqlite_store), host="127.0.0.1", port=port, log_level="warning"
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        assert time.monotonic() < deadline, "collector did not start"
        time.sleep(0.02)
    try:
        yield base, sqlite_store, shop_id
    finally:
        server.should_exit = True
        thread.join(timeout=10)


def deliver(base: str, shop_id: str, payload: dict[str, Any]) -> None:
    body = json.dumps(payload).encode()
    response = httpx.post(
        f"{base}/integrations/woocommerce/webhooks/{shop_id}",
        content=body,
        headers={
            "Content-Type": "application/json",
            "X-WC-Webhook-Topic": "order.updated",
            "X-WC-Webhook-Signature": signature.sign(body, SECRET),
        },
    )
    assert response.status_code == 200, response.text


def harness(php: str, tmp_path: Path, scenario: dict[str, Any]) -> dict[str, Any]:  # noqa: F811
    path = tmp_path / "scenario.json"
    path.write_text(json.dumps(scenario))
    result = subprocess.run(
        [php, str(HARNESS), str(PLUGIN), str(path)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    report: dict[str, Any] = json.loads(result.stdout)
    return report


@pytest.mark.slow
def test_delivery_to_storefront_fragment(
    php: str,  # noqa: F811
    collector: tuple[str, Store, str],
    tmp_path: Path,
) -> None:
    if shutil.which("php") is None:  # pragma: no cover - the fixture skips or fails first
        pytest.skip("php-cli is not installed")
    base, store, shop_id = collector
    order_723 = json.loads((FIXTURES / "orders_v3_list_727_723.json").read_text())[1]
    order_727 = json.loads((FIXTURES / "order_v3_retrieve_727.json").read_text())
    deliver(base, shop_id, order_723)
    deliver(base, shop_id, order_727)
    follower.settle(store, shop_id)  # the recommendation counts, without waiting

    orders = {
        "723": {
            "number": "723",
            "email": "joao.silva@example.com",
            "customer_id": 26,
            "order_key": "wc_order_58d17c18352",
        },
        "727": {
            "number": "727",
            "email": "john.doe@example.com",
            "customer_id": 0,
            "order_key": "wc_order_58d2d042d1d",
        },
    }
    scenario: dict[str, Any] = {
        "settings": {"collector_url": base, "shop_id": shop_id, "write_key": "wk_x"},
        "locale": "de_DE",
        "user": 26,
        "orders": orders,
        "calls": [
            ["cx_wc_view_order", 723],
            ["cx_wc_view_order", 727],
            ["cx_wc_product_recommendations"],
            ["cx_wc_product_recommendations"],
            ["cx_wc_chat_launcher"],
        ],
        "product": 93,
    }
    report = harness(php, tmp_path, scenario)
    owner, stranger, recs, recs_again, chat = report["results"]

    # The owner sees the order, in German, rendered by the collector.
    assert 'data-cx-widget="tracking"' in owner["html"]
    assert 'data-cx-state="ready"' in owner["html"]
    assert "723" in owner["html"]
    assert 'lang="de"' in owner["html"]
    assert "19,00" in owner["html"]  # refunded so far, formatted for German
    # Every widget root is marked ready: loader.js must not refetch it without parameters.
    roots = re.findall(r"<[^>]*data-cx-widget=[^>]*>", owner["html"])
    assert len(roots) == 2 and all('data-cx-state="ready"' in root for root in roots)
    assert "joao.silva" not in owner["html"]  # the email went to the collector only
    assert "<script" not in owner["html"]
    (url,) = owner["requests"]
    assert url.startswith(f"{base}/widgets/{shop_id}/tracking?")
    assert "locale=de" in url and "order=723" in url
    # Order 727 belongs to a guest: a logged-in customer does not see it on view-order.
    assert (stranger["html"], stranger["requests"]) == ("", [])
    # Recommendations are shared, not personal: fetched once, then served from the cache.
    assert 'data-cx-widget="recommendations"' in recs["html"] and len(recs["requests"]) == 1
    assert 'class="cx-rec"' in recs["html"]
    assert recs_again["html"] == recs["html"] and recs_again["requests"] == []
    # The chat starts switched off (204): nothing rendered, and that answer is cached too.
    assert chat["html"] == ""
    # Personal fragments are never cached; shared answers are, for five minutes.
    cached = report["transients"]
    assert len(cached) == 2
    assert {entry["ttl"] for entry in cached.values()} == {300}
    assert sorted(bool(entry["value"]["html"]) for entry in cached.values()) == [False, True]
    assert report["enqueued"] == {
        "cx-wc-widgets": f"{base}/widgets/{shop_id}/widgets.css",
        "cx-wc-loader": f"{base}/widgets/{shop_id}/loader.js",
    }

    # A guest on the order-received page proves the order with its key.
    guest: dict[str, Any] = {
        **scenario,
        "user": 0,
        "calls": [["cx_wc_shortcode_tracking", {"order": "727"}]],
    }
    good = harness(php, tmp_path, {**guest, "get": {"key": "wc_order_58d2d042d1d"}})
    assert "727" in good["results"][0]["html"]
    assert "order=727" in good["results"][0]["requests"][0]
    bad = harness(php, tmp_path, {**guest, "get": {"key": "wc_order_wrong"}})
    # Without the key only the empty lookup form is asked for, never the order.
    assert all("order=" not in url for url in bad["results"][0]["requests"])
    assert "joao" not in bad["results"][0]["html"] and "29,35" not in bad["results"][0]["html"]

    # The merchant switches tracking off: the collector answers 204 and nothing is rendered.
    settings_for(store).set_enabled(shop_id, "tracking", False)
    off = harness(php, tmp_path, {**scenario, "calls": [["cx_wc_view_order", 723]]})
    assert off["results"][0]["html"] == ""
    assert len(off["results"][0]["requests"]) == 1


@pytest.mark.slow
def test_plugin_settings_and_webhook_lifecycle(
    php: str,  # noqa: F811
    collector: tuple[str, Store, str],
    tmp_path: Path,
) -> None:
    base, _, shop_id = collector
    incomplete = {"collector_url": "", "shop_id": "", "write_key": "", "webhook_secret": ""}
    # Activation before the plugin is configured creates nothing.
    report = harness(php, tmp_path, {"settings": incomplete, "calls": [["cx_wc_activate"]]})
    assert report["webhooks"] == []

    # Saving the settings: http:// refused, a secret generated, letters and digits only.
    entered = {
        "collector_url": "http://cx.example.com",
        "shop_id": shop_id,
        "write_key": "wk_abc",
        "webhook_secret": "",
    }
    report = harness(
        php,
        tmp_path,
        {
            "settings": incomplete,
            "calls": [
                ["cx_wc_sanitize_settings", entered],
                ["cx_wc_sanitize_settings", {**entered, "webhook_secret": "a&b" * 12}],
            ],
        },
    )
    first, second = report["results"]
    assert first["returned"]["collector_url"] == ""
    assert re.fullmatch(r"[A-Za-z0-9]{40}", first["returned"]["webhook_secret"])
    assert first["returned"]["write_key"] == "wk_abc"
    # A secret WooCommerce would mangle is refused (and a good one generated instead).
    assert "&" not in second["returned"]["webhook_secret"]
    assert re.fullmatch(r"[A-Za-z0-9]{40}", second["returned"]["webhook_secret"])
    assert report["errors"] == ["cx_wc_url", "cx_wc_url", "cx_wc_secret"]

    # Complete settings: one webhook per topic, delivering to the collector, which answers
    # WooCommerce's creation ping with 200.
    settings = {**entered, "collector_url": base, "webhook_secret": SECRET}
    changed = {**settings, "webhook_secret": "B" * 40}
    report = harness(
        php,
        tmp_path,
        {
            "settings": settings,
            "user": 1,
            "calls": [["cx_wc_activate"]],
        },
    )
    hooks = report["webhooks"]
    assert [h["topic"] for h in hooks] == [
        "order.created",
        "order.updated",
        "order.deleted",
        "order.restored",
        "customer.created",
        "customer.updated",
    ]
    assert {h["delivery_url"] for h in hooks} == {
        f"{base}/integrations/woocommerce/webhooks/{shop_id}"
    }
    assert {h["secret"] for h in hooks} == {SECRET}
    assert {(h["status"], h["api_version"], h["user_id"]) for h in hooks} == {
        ("active", "wp_api_v3", 1)
    }
    assert hooks[0]["ping_status"] == 200
    assert not report["transients"]  # no error notice
    ids = report["options"]["cx_wc_webhook_ids"]
    assert sorted(ids.values()) == [h["id"] for h in hooks]

    # A changed secret recreates them; deactivation removes them.
    report = harness(
        php,
        tmp_path,
        {
            "settings": changed,
            "calls": [
                ["cx_wc_activate"],
                ["cx_wc_settings_changed", settings, changed],
                ["cx_wc_webhook_status"],
                ["cx_wc_deactivate"],
            ],
        },
    )
    status = report["results"][2]["returned"]
    assert report["webhooks"] == []
    assert "cx_wc_webhook_ids" not in report["options"]
    assert set(status.values()) == {"active"}

    # A shop id the collector does not know: the ping fails and the merchant is told why.
    report = harness(
        php,
        tmp_path,
        {
            "settings": {**settings, "shop_id": "shop_unknown"},
            "user": 1,
            "calls": [["cx_wc_activate"]],
        },
    )
    (notice,) = report["transients"].values()
    assert notice["value"] == ["error", "Delivery URL returned response code: 404"]


def test_uninstall_removes_webhooks_options_and_cached_fragments(
    php: str,  # noqa: F811
    tmp_path: Path,
) -> None:
    settings = {
        "collector_url": "https://cx.invalid",
        "shop_id": "shop_1",
        "write_key": "wk",
        "webhook_secret": "C" * 40,
    }
    # The webhooks come from a real sync (its ping fails: .invalid is never reachable).
    report = harness(
        php,
        tmp_path,
        {
            "settings": settings,
            "user": 1,
            "calls": [["cx_wc_sync_webhooks", settings], ["uninstall"]],
        },
    )
    created, uninstall = report["results"]
    assert created["returned"] == 6
    assert report["webhooks"] == []
    assert "cx_wc_settings" not in report["options"]
    assert "cx_wc_webhook_ids" not in report["options"]
    (query,) = uninstall["returned"]
    assert query == (
        "DELETE FROM wp_options WHERE option_name LIKE '\\_transient\\_cx\\_wc\\_%'"
        " OR option_name LIKE '\\_transient\\_timeout\\_cx\\_wc\\_%'"
        " OR option_name LIKE '\\_site\\_transient\\_cx\\_wc\\_%'"
    )
