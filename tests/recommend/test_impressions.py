"""Buffered ``Recommendation Shown`` events: they arrive when flushed, a full buffer counts
what it refuses, a failed write is retried, shutdown stores the rest. Flushes are called
directly, never waited for."""

from __future__ import annotations

from typing import Any

import pytest
from starlette.applications import Starlette
from starlette.testclient import TestClient

from cx_sdk.recommend import impressions
from cx_sdk.recommend.impressions import Impressions
from cx_sdk.server import CreatedShop, Store

from .test_engine import order


def shown(n: int) -> dict[str, Any]:
    return {
        "type": "track",
        "event": "Recommendation Shown",
        "anonymousId": f"rec-{n}",
        "messageId": f"shown-{n}",
        "timestamp": "2026-11-20T10:00:00Z",
        "properties": {"strategy": "also_bought", "recommendation_id": str(n), "products": []},
    }


def stored(store: Store, shop_id: str) -> list[str]:
    return sorted(
        e["messageId"] for _, e in store.iter_events(shop_id, event="Recommendation Shown")
    )


def test_flushed_impressions_arrive_grouped_by_shop(store: Store, shop: CreatedShop) -> None:
    other = store.create_shop("Zweitladen").shop.id
    buffer = Impressions(store, interval=3600)
    for n in range(impressions.BATCH + 3):  # more than one ingest call for the first shop
        assert buffer.add(shop.shop.id, shown(n))
    assert buffer.add(other, shown(9999))
    buffer.flush()  # a full BATCH also wakes the thread: either of them may store it
    assert buffer.stored == impressions.BATCH + 4
    assert len(stored(store, shop.shop.id)) == impressions.BATCH + 3
    assert stored(store, other) == ["shown-9999"]
    assert len(buffer) == 0 and buffer.dropped == 0


def test_a_full_buffer_refuses_and_counts(
    sqlite_store: Store, caplog: pytest.LogCaptureFixture
) -> None:
    shop_id = sqlite_store.create_shop("Laden").shop.id
    buffer = Impressions(sqlite_store, capacity=3, interval=3600)
    accepted = [buffer.add(shop_id, shown(n)) for n in range(5)]
    assert accepted == [True, True, True, False, False]
    assert buffer.dropped == 2
    assert "buffer full" in caplog.text
    assert buffer.flush() == 3
    assert "2 dropped" in caplog.text
    assert stored(sqlite_store, shop_id) == ["shown-0", "shown-1", "shown-2"]


def test_a_failed_write_is_kept_for_the_next_round(
    sqlite_store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    shop_id = sqlite_store.create_shop("Laden").shop.id
    buffer = Impressions(sqlite_store, interval=3600)
    for n in range(3):
        buffer.add(shop_id, shown(n))
    real = sqlite_store.ingest

    def broken(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("database is away")

    monkeypatch.setattr(sqlite_store, "ingest", broken)
    assert buffer.flush() == 0
    assert len(buffer) == 3 and buffer.dropped == 0
    monkeypatch.setattr(sqlite_store, "ingest", real)
    assert buffer.flush() == 3
    assert stored(sqlite_store, shop_id) == ["shown-0", "shown-1", "shown-2"]


def test_events_of_a_deleted_shop_are_counted_not_retried(sqlite_store: Store) -> None:
    buffer = Impressions(sqlite_store, interval=3600)
    buffer.add("no-such-shop", shown(1))
    assert buffer.flush() == 0
    assert buffer.dropped == 1 and len(buffer) == 0


def test_the_background_thread_stores_and_then_ends(sqlite_store: Store) -> None:
    shop_id = sqlite_store.create_shop("Laden").shop.id
    buffer = Impressions(sqlite_store, interval=0.01)
    buffer.add(shop_id, shown(1))
    thread = buffer._thread
    assert thread is not None
    thread.join(30)  # it ends once a round finds the buffer empty
    assert not thread.is_alive()
    assert stored(sqlite_store, shop_id) == ["shown-1"]


def test_app_shutdown_stores_what_renders_buffered(
    app: Starlette, store: Store, shop: CreatedShop
) -> None:
    shop_id = shop.shop.id
    store.ingest(shop_id, [order("1", "u1", ["a", "b"]), order("2", "u2", ["a", "c"])])
    buffer = impressions.for_store(store)
    buffer.interval = 3600  # only the shutdown hook may store it
    with TestClient(app) as client:
        for _ in range(3):
            response = client.get(f"/widgets/{shop_id}/recommendations", params={"product": "a"})
            assert response.status_code == 200
        assert len(buffer) == 3
    assert len(stored(store, shop_id)) == 3
    assert len(buffer) == 0
    # After shutdown nothing is buffered any more: a late event is stored at once.
    assert buffer.add(shop_id, shown(1))
    assert "shown-1" in stored(store, shop_id)
