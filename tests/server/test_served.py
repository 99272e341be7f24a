"""The collector as a process: real Segment and cx clients, CLI, crash durability."""

from __future__ import annotations

import os
import signal
from pathlib import Path

import httpx
import orjson
import pytest
from segment.analytics import Client as SegmentClient

import cx_sdk
from cx_sdk.server import Store

from .served import create_shop, cx, database, serve

ENGINES = ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]

pytestmark = pytest.mark.slow


def _events(base: str, admin_token: str) -> list[dict]:
    response = httpx.get(
        f"{base}/api/v1/events",
        params={"limit": 10000},
        headers={"Authorization": f"Bearer {admin_token}"},
    )
    assert response.status_code == 200
    return [orjson.loads(line) for line in response.text.splitlines()]


@pytest.fixture
def engine_kind(request: pytest.FixtureRequest) -> str:
    kind: str = request.param
    if kind == "postgres" and not request.getfixturevalue("postgres_available"):
        from ..conftest import service_missing

        service_missing("PostgreSQL is not reachable")
    return kind


@pytest.mark.parametrize("engine_kind", ENGINES, indirect=True)
def test_segment_python_client_events_are_readable_exactly_once(
    engine_kind: str, tmp_path: Path
) -> None:
    with database(engine_kind, tmp_path) as url:
        keys = create_shop(url)
        with serve(url) as (base, _):
            client = SegmentClient(keys["write_key"], host=base, gzip=True, max_retries=3)
            for n in range(250):
                client.track(
                    user_id=f"user-{n % 7}",
                    event="Order Completed",
                    properties={"order_id": str(n), "total": 19.99, "currency": "EUR"},
                )
            client.identify("user-1", {"plan": "gold"})
            client.flush()
            client.join()
            stored = _events(base, keys["admin_token"])
    orders = [e for e in stored if e.get("event") == "Order Completed"]
    assert sorted(int(e["properties"]["order_id"]) for e in orders) == list(range(250))
    assert len({e["messageId"] for e in stored}) == len(stored) == 251
    assert orders[0]["context"]["library"]["name"] == "analytics-python"


@pytest.mark.parametrize("engine_kind", ENGINES, indirect=True)
def test_cx_client_events_arrive_once_even_when_resent(engine_kind: str, tmp_path: Path) -> None:
    with database(engine_kind, tmp_path) as url:
        keys = create_shop(url)
        with serve(url) as (base, _):
            with cx_sdk.Client(keys["write_key"], endpoint=base) as client:
                for n in range(100):
                    client.track(
                        "Order Completed",
                        user_id="u1",
                        properties={"order_id": str(n), "total": "5.00", "currency": "EUR"},
                    )
                client.flush(10)
            stored = _events(base, keys["admin_token"])
            # Replaying the stored messages changes nothing.
            replay = httpx.post(
                f"{base}/v1/batch",
                json={"batch": [{k: v for k, v in e.items() if k != "receivedAt"} for e in stored]},
                auth=(keys["write_key"], ""),
            )
            assert replay.json()["duplicates"] == 100
            assert len(_events(base, keys["admin_token"])) == 100


def test_acknowledged_events_survive_sigkill(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'crash.db'}"
    keys = create_shop(url)
    with serve(url) as (base, process):
        acked = []
        for n in range(20):
            message = {
                "type": "track",
                "event": "Product Viewed",
                "userId": "u",
                "messageId": f"m-{n}",
                "properties": {"product_id": str(n)},
            }
            response = httpx.post(f"{base}/v1/track", json=message, auth=(keys["write_key"], ""))
            if response.status_code == 200:
                acked.append(message["messageId"])
        os.kill(process.pid, signal.SIGKILL)
        process.wait(10)
    store = Store.open(url)
    assert store.count_events(keys["shop_id"]) == len(acked) == 20
    store.close()


def test_shops_cli_creates_lists_and_rotates(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'cli.db'}"
    keys = create_shop(url, "Bergladen")
    listed = cx("shops", "list", "--json", "--db", url)
    assert orjson.loads(listed.stdout)[0]["name"] == "Bergladen"
    rotated = cx("keys", "rotate", "--shop", keys["shop_id"], "--json", "--db", url)
    new_key = orjson.loads(rotated.stdout)["write_key"]
    store = Store.open(url)
    assert store.shop_for_key(keys["write_key"], "write") is None
    assert store.shop_for_key(new_key, "write") == keys["shop_id"]
    store.close()
    woo = cx("shops", "create", "Woo", "--platform", "woocommerce", "--json", "--db", url)
    secret = orjson.loads(woo.stdout)["webhook_secret"]
    assert secret.isalnum() and len(secret) >= 32
    dup = cx("shops", "create", "X", "--domain", "a.example", "--db", url)
    dup2 = cx("shops", "create", "Y", "--domain", "a.example", "--db", url)
    assert dup.returncode == 0 and dup2.returncode == 2 and "exists already" in dup2.stderr
    upgrade = cx("db", "upgrade", "--db", url)
    assert upgrade.returncode == 0 and "database at revision" in upgrade.stdout


def test_request_lines_with_shopper_emails_are_not_logged_by_default(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'log.db'}"
    keys = create_shop(url)
    with serve(url, log_level="info") as (base, process):
        httpx.get(f"{base}/widgets/{keys['shop_id']}/tracking?order=1&email=anna%40example.de")
        httpx.get(f"{base}/healthz")
        process.terminate()
        _, stderr = process.communicate(timeout=10)
    text = stderr.decode()
    assert "Application startup complete" in text  # info logging was on
    assert "anna" not in text and "/healthz" not in text
