"""The collector's SQLite checkpoints run in their own thread, not in ingest commits."""

from __future__ import annotations

import threading
import time
import uuid

from starlette.testclient import TestClient

from cx_sdk.server import Settings, create_app
from cx_sdk.server.checkpoint import FALLBACK_PAGES, Checkpointer
from cx_sdk.server.store import SQLITE_AUTOCHECKPOINT, Store
from tests.server.helpers import basic, order_completed, track


def _writer_threshold(store: Store) -> int:
    with store.begin() as conn:
        return int(conn.exec_driver_sql("PRAGMA wal_autocheckpoint").scalar_one())


def _fill(store: Store, shop_id: str, batches: int) -> None:
    padding = "x" * 2000
    for _ in range(batches):
        batch = [
            track("Product Viewed", {"product_id": str(uuid.uuid4()), "description": padding})
            for _ in range(100)
        ]
        result = store.ingest(shop_id, batch)
        assert len(result.accepted) == 100


def test_while_the_thread_runs_the_writer_does_not_checkpoint_in_its_commits(
    sqlite_store: Store,
) -> None:
    shop = sqlite_store.create_shop("Laden")
    assert _writer_threshold(sqlite_store) == SQLITE_AUTOCHECKPOINT
    checkpointer = Checkpointer(sqlite_store, interval=3600)
    checkpointer.start()
    try:
        assert _writer_threshold(sqlite_store) == FALLBACK_PAGES
        _fill(sqlite_store, shop.shop.id, 20)
        in_log, done = checkpointer.run_once()
    finally:
        checkpointer.stop()
    # Past SQLite's own threshold nothing was copied back by a commit; the thread copied all.
    assert in_log > 2 * SQLITE_AUTOCHECKPOINT
    assert done == in_log
    assert _writer_threshold(sqlite_store) == SQLITE_AUTOCHECKPOINT
    assert sqlite_store.count_events(shop.shop.id) == 2000


def test_the_thread_checkpoints_what_ingest_wrote_on_its_own(sqlite_store: Store) -> None:
    shop = sqlite_store.create_shop("Laden")
    checkpointer = Checkpointer(sqlite_store, interval=0.01)
    checkpointer.start()
    try:
        _fill(sqlite_store, shop.shop.id, 2)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            in_log, done = checkpointer.last
            if in_log > 0 and done == in_log:
                break
            time.sleep(0.01)
        assert checkpointer.last[0] > 0 and checkpointer.last[1] == checkpointer.last[0]
    finally:
        checkpointer.stop()


def _checkpoint_threads() -> list[threading.Thread]:
    return [thread for thread in threading.enumerate() if thread.name == "cx-checkpoint"]


def test_the_collector_checkpoints_sqlite_in_the_background_and_stops_with_it(
    store: Store, settings: Settings
) -> None:
    shop = store.create_shop("Laden")
    app = create_app(settings.model_copy(update={"checkpoint_seconds": 0.01}), store)
    with TestClient(app) as client:
        threads = _checkpoint_threads()
        response = client.post(
            "/v1/batch",
            json={"batch": [order_completed()]},
            headers=basic(shop.write_key),
        )
        assert response.status_code == 200, response.text
    # SQLite's log is the collector's to checkpoint; PostgreSQL has none of this.
    assert len(threads) == (1 if store.dialect == "sqlite" else 0)
    assert _checkpoint_threads() == []
    if store.dialect == "sqlite":
        assert _writer_threshold(store) == SQLITE_AUTOCHECKPOINT


def test_checkpoint_seconds_zero_leaves_checkpoints_to_sqlite(
    sqlite_store: Store, settings: Settings
) -> None:
    app = create_app(settings.model_copy(update={"checkpoint_seconds": 0}), sqlite_store)
    with TestClient(app):
        assert _checkpoint_threads() == []
        assert _writer_threshold(sqlite_store) == SQLITE_AUTOCHECKPOINT
