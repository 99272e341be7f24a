"""Backfill and the ``cx woocommerce`` command, against a mocked WooCommerce REST API."""

from __future__ import annotations

import base64
import copy
import json
import re
import zipfile
from pathlib import Path
from typing import Any

import httpx
import pytest
from pytest_httpx import HTTPXMock

from cx_sdk.integrations.woocommerce import cli, webhooks
from cx_sdk.integrations.woocommerce.backfill import (
    BackfillError,
    WooClient,
    backfill,
)
from cx_sdk.server import CreatedShop, Store

FIXTURES = Path(__file__).parents[2] / "fixtures" / "woocommerce"
SHOP_URL = "https://shop.example"
API = f"{SHOP_URL}/wp-json/wc/v3"
AUTH = "Basic " + base64.b64encode(b"ck_test:cs_test").decode()


def load(name: str) -> Any:
    return json.loads((FIXTURES / name).read_text())


def orders_url(page: int) -> str:
    return f"{API}/orders?per_page=100&page={page}&orderby=id&order=asc"


def page_two() -> list[dict[str, Any]]:
    order = copy.deepcopy(load("order_v3_retrieve_727.json"))
    order.update(id=730, number="730", status="completed")
    return [order]


def mock_pages(httpx_mock: HTTPXMock, *, page2_status: int = 200) -> None:
    httpx_mock.add_response(
        url=orders_url(1),
        json=load("orders_v3_list_727_723.json"),
        headers={"X-WP-Total": "3", "X-WP-TotalPages": "2"},
        match_headers={"Authorization": AUTH},
    )
    httpx_mock.add_response(
        url=f"{API}/orders/723/refunds?per_page=100",
        json=load("order_refunds_v3_list_723.json"),
        match_headers={"Authorization": AUTH},
    )
    if page2_status == 200:
        httpx_mock.add_response(
            url=orders_url(2),
            json=page_two(),
            headers={"X-WP-Total": "3", "X-WP-TotalPages": "2"},
        )
    else:
        for _ in range(4):  # first try + 3 retries
            httpx_mock.add_response(url=orders_url(2), status_code=page2_status)


def client() -> WooClient:
    return WooClient(SHOP_URL, "ck_test", "cs_test", sleep=lambda _: None)


def test_backfill_reads_every_page_with_basic_auth_and_maps_orders_and_refunds(
    httpx_mock: HTTPXMock, store: Store, shop: CreatedShop
) -> None:
    mock_pages(httpx_mock)
    seen: list[tuple[int, int]] = []
    report = backfill(
        store, shop.shop.id, client(), progress=lambda page, total: seen.append((page, total))
    )
    assert seen == [(1, 2), (2, 2)]
    assert (report.pages, report.orders, report.events, report.duplicates) == (2, 3, 8, 0)
    assert store.count_events(shop.shop.id) == 8
    order = store.get_order(shop.shop.id, "723")
    assert order is not None and order.refunded is not None and float(order.refunded) == 19.0
    refunds = [t for t in order.timeline if t["event"] == "Order Refunded"]
    # Times come from the refunds endpoint, not from the order's last change.
    assert sorted(t["at"].isoformat() for t in refunds) == [
        "2017-03-21T19:55:37+00:00",
        "2017-03-21T20:07:11+00:00",
    ]
    progress = store.get_state(shop.shop.id, "backfill", "orders")
    assert progress is not None and progress["finished"] is True and progress["page"] == 2


def test_backfill_resumes_after_interruption_without_duplicates(
    httpx_mock: HTTPXMock, store: Store, shop: CreatedShop
) -> None:
    three = {"X-WP-Total": "4", "X-WP-TotalPages": "3"}
    page_three = copy.deepcopy(page_two())
    page_three[0].update(id=731, number="731")

    def pages(first: int, third_status: int) -> None:
        if first == 1:
            httpx_mock.add_response(
                url=orders_url(1), json=load("orders_v3_list_727_723.json"), headers=three
            )
            httpx_mock.add_response(
                url=f"{API}/orders/723/refunds?per_page=100",
                json=load("order_refunds_v3_list_723.json"),
            )
        httpx_mock.add_response(url=orders_url(2), json=page_two(), headers=three)
        if third_status == 200:
            httpx_mock.add_response(url=orders_url(3), json=page_three, headers=three)
        else:
            for _ in range(4):  # first try + 3 retries
                httpx_mock.add_response(url=orders_url(3), status_code=third_status)

    pages(1, 503)
    with pytest.raises(BackfillError, match="page 3: HTTP 503"):
        backfill(store, shop.shop.id, client())
    assert store.count_events(shop.shop.id) == 8
    progress = store.get_state(shop.shop.id, "backfill", "orders")
    assert progress is not None and (progress["page"], progress["finished"]) == (2, False)

    httpx_mock.reset()
    pages(2, 200)  # page 1 is not mocked: asking for it again fails the test
    report = backfill(store, shop.shop.id, client())
    # The last finished page is read again (a deletion may have shifted it) but adds nothing.
    assert (report.pages, report.events, report.duplicates) == (2, 2, 0)
    assert store.count_events(shop.shop.id) == 10


def test_backfill_after_webhooks_adds_only_what_they_missed(
    httpx_mock: HTTPXMock, store: Store, shop: CreatedShop
) -> None:
    order_723 = load("orders_v3_list_727_723.json")[1]
    outcome = webhooks.process(store, shop.shop.id, "order.updated", order_723, 10_000)
    assert len(outcome.messages) == 4
    mock_pages(httpx_mock)
    report = backfill(store, shop.shop.id, client())
    assert report.events == 4  # 727 and 730: placed + paid each; 723 was complete
    assert store.count_events(shop.shop.id) == 8


def test_backfill_with_shipment_trackings(
    httpx_mock: HTTPXMock, store: Store, shop: CreatedShop
) -> None:
    httpx_mock.add_response(
        url=orders_url(1),
        json=[load("order_v3_retrieve_727.json")],
        headers={"X-WP-TotalPages": "1"},
    )
    trackings = load("shipment_trackings_list_order_198_jetpack_envelope.json")["data"]
    httpx_mock.add_response(url=f"{API}/orders/727/shipment-trackings", json=trackings)
    report = backfill(store, shop.shop.id, client(), trackings=True)
    assert report.events == 5
    order = store.get_order(shop.shop.id, "727")
    assert order is not None
    assert sorted(s.carrier or "" for s in order.shipments) == [
        "Flybynight Courriers",
        "UPS",
        "USPS",
    ]


def test_backfill_with_notes_times_the_facts(
    httpx_mock: HTTPXMock, store: Store, shop: CreatedShop
) -> None:
    order = load("orders_v3_list_727_723.json")[1]
    httpx_mock.add_response(url=orders_url(1), json=[order], headers={"X-WP-TotalPages": "1"})
    httpx_mock.add_response(
        url=f"{API}/orders/723/refunds?per_page=100", json=load("order_refunds_v3_list_723.json")
    )
    httpx_mock.add_response(
        url=f"{API}/orders/723/notes?type=internal", json=load("order_notes_v3_list_723.json")
    )
    assert backfill(store, shop.shop.id, client(), notes=True).events == 4
    view = store.get_order(shop.shop.id, "723")
    assert view is not None and view.placed_at is not None and view.paid_at is not None
    assert view.placed_at.isoformat() == "2017-03-21T19:16:46+00:00"
    assert view.paid_at.isoformat() == "2017-03-21T19:16:58+00:00"


def test_plain_http_is_refused_before_any_request() -> None:
    with pytest.raises(BackfillError, match="https://"):
        WooClient("http://shop.example", "ck_test", "cs_test")


def test_keys_that_are_not_woocommerce_keys_are_refused() -> None:
    with pytest.raises(BackfillError, match="ck_"):
        WooClient(SHOP_URL, "key", "secret")


def test_refused_keys_are_a_clear_error(
    httpx_mock: HTTPXMock, store: Store, shop: CreatedShop
) -> None:
    httpx_mock.add_response(url=orders_url(1), status_code=401, json={"code": "unauthorized"})
    with pytest.raises(BackfillError, match="refused the API keys"):
        backfill(store, shop.shop.id, client())


def test_cli_backfill_prints_a_summary(
    httpx_mock: HTTPXMock, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    url = f"sqlite:///{tmp_path / 'cx.db'}"
    store = Store.open(url)
    shop_id = store.create_shop("Laden", "woocommerce").shop.id
    store.close()
    mock_pages(httpx_mock)
    argv = ["--db", url, "backfill", "--shop", shop_id, "--url", SHOP_URL]
    code = cli.main([*argv, "--key", "ck_test", "--secret", "cs_test"])
    assert code == 0
    assert "3 orders on 2 pages: 8 new events, 0 already stored" in capsys.readouterr().out


def test_cli_says_what_is_wrong_with_http(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    url = f"sqlite:///{tmp_path / 'cx.db'}"
    argv = ["--db", url, "backfill", "--shop", "s", "--url", "http://shop.example"]
    assert cli.main([*argv, "--key", "ck_a", "--secret", "cs_b"]) == 1
    assert "https://" in capsys.readouterr().err


def test_cli_connect_creates_the_webhooks_with_an_alphanumeric_secret(
    httpx_mock: HTTPXMock, tmp_path: Path
) -> None:
    url = f"sqlite:///{tmp_path / 'cx.db'}"
    store = Store.open(url)
    shop_id = store.create_shop("Laden", "woocommerce").shop.id
    store.update_shop_secrets(shop_id, webhook_secret=None)
    store.close()
    for _ in cli.TOPICS:
        httpx_mock.add_response(
            method="POST",
            url=f"{API}/webhooks",
            json=load("webhook_v3_create_response_142.json"),
            status_code=201,
        )
    argv = ["--db", url, "connect", "--shop", shop_id, "--url", SHOP_URL]
    argv += ["--key", "ck_test", "--secret", "cs_test", "--collector-url", "https://cx.example/"]
    assert cli.main(argv) == 0
    store = Store.open(url)
    shop = store.get_shop(shop_id)
    store.close()
    assert shop is not None
    secret = shop.secrets["webhook_secret"]
    assert re.fullmatch(r"[A-Za-z0-9]{40}", secret)
    bodies = [json.loads(r.content) for r in httpx_mock.get_requests()]
    assert [b["topic"] for b in bodies] == list(cli.TOPICS)
    assert {b["delivery_url"] for b in bodies} == {
        f"https://cx.example/integrations/woocommerce/webhooks/{shop_id}"
    }
    assert {b["secret"] for b in bodies} == {secret}
    assert all(r.headers["Authorization"] == AUTH for r in httpx_mock.get_requests())


def test_cli_returns_table_set_and_refuse_unknown_events(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    url = f"sqlite:///{tmp_path / 'cx.db'}"
    store = Store.open(url)
    shop_id = store.create_shop("Laden", "woocommerce").shop.id
    store.close()
    base = ["returns", "--shop", shop_id, "--db", url]  # --db after the subcommand works too
    assert cli.main([*base, "set", "wc-rma-ok=Return Approved"]) == 0
    assert "rma-ok\tReturn Approved" in capsys.readouterr().out
    assert cli.main([*base, "set", "rma-lost=Return Lost"]) == 1
    assert "unknown event 'Return Lost'" in capsys.readouterr().err
    store = Store.open(url)
    saved = store.get_state(shop_id, "config", "woocommerce")
    store.close()
    assert saved is not None and saved["return_statuses"]["rma-ok"] == "Return Approved"
    assert "rma-lost" not in saved["return_statuses"]


def test_transport_errors_are_retried_then_reported(httpx_mock: HTTPXMock) -> None:
    for _ in range(4):
        httpx_mock.add_exception(httpx.ConnectError("refused"), url=orders_url(1))
    with pytest.raises(BackfillError, match="cannot reach"):
        list(client().order_pages(1))


def test_cli_secret_generates_once_and_refuses_non_alphanumeric(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    url = f"sqlite:///{tmp_path / 'cx.db'}"
    store = Store.open(url)
    shop_id = store.create_shop("Laden", "woocommerce").shop.id
    store.close()
    assert cli.main(["--db", url, "secret", "--shop", shop_id]) == 0
    first = capsys.readouterr().out.strip()
    assert re.fullmatch(r"[A-Za-z0-9]{40}", first)
    assert cli.main(["--db", url, "secret", "--shop", shop_id]) == 0
    assert capsys.readouterr().out.strip() == first
    assert cli.main(["--db", url, "secret", "--shop", shop_id, "--set", "a&b" * 12]) == 1
    assert "letters and digits" in capsys.readouterr().err
    chosen = "Z" * 20 + "9" * 20
    assert cli.main(["--db", url, "secret", "--shop", shop_id, "--set", chosen]) == 0
    store = Store.open(url)
    shop = store.get_shop(shop_id)
    store.close()
    assert shop is not None and shop.secrets["webhook_secret"] == chosen


def test_cli_plugin_zip_is_uploadable(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["plugin-zip", str(tmp_path)]) == 0
    target = Path(capsys.readouterr().out.strip())
    assert target == tmp_path / "cx-woocommerce.zip"
    with zipfile.ZipFile(target) as archive:
        names = set(archive.namelist())
    assert {
        "cx-woocommerce/cx-woocommerce.php",
        "cx-woocommerce/uninstall.php",
        "cx-woocommerce/includes/functions.php",
        "cx-woocommerce/languages/cx-woocommerce-de_DE.l10n.php",
    } <= names
    assert all(name.startswith("cx-woocommerce/") for name in names)


def test_cli_replay_with_nothing_to_do(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    url = f"sqlite:///{tmp_path / 'cx.db'}"
    store = Store.open(url)
    shop_id = store.create_shop("Laden", "woocommerce").shop.id
    store.close()
    assert cli.main(["replay", "--shop", shop_id, "--db", url]) == 0
    assert capsys.readouterr().out == "0 deliveries processed, 0 events\n"
    assert cli.main(["replay", "--shop", "shop_nope", "--db", url]) == 1
    assert "unknown shop" in capsys.readouterr().err
